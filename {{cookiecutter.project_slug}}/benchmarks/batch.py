"""Batch scoring throughput: the project's engine against a naive pandas script.

    python benchmarks/batch.py [--rows 200000] [overrides...]   (or: make bench-batch)

A benchmark, not a test: it prints figures and never fails on them. It resamples the
configured data source to `--rows` rows (a few of them bad: a required value missing),
then runs each contender as its own process and reports wall time, rows per second and
peak memory (the child's maximum resident set): `python -m <package> predict` (contract
checks, rejects with line numbers, the current model{% if cookiecutter.use_onnx == 'yes' %}: ONNX when exported{% endif %}) on CSV and on
Parquet, and a naive script (pandas.read_csv, the pipeline's predict_proba or predict,
to_csv; no validation, so it gets the same rows without the bad ones). Run it after
`make train`{% if cookiecutter.use_onnx == 'yes' %} (and `make export-onnx`){% endif %}, on an otherwise idle machine.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from {{ cookiecutter.package_name }} import artifacts, contract
from {{ cookiecutter.package_name }}.config import load_settings

NAIVE = """
import sys

import joblib
import pandas as pd

source, destination, model, features, classify, text = sys.argv[1:7]
pipeline = joblib.load(model)
frame = pd.read_csv(source)
features = features.split("\\x1f")
rows = frame[features]
for name in filter(None, text.split("\\x1f")):  # the pipeline's missing category
    rows[name] = rows[name].fillna("")
if classify == "yes":
    probabilities = pipeline.predict_proba(rows)
    frame["prediction"] = pipeline.classes_[probabilities.argmax(axis=1)]
    for index, label in enumerate(pipeline.classes_):
        frame[f"probability_{label}"] = probabilities[:, index]
else:
    frame["prediction"] = pipeline.predict(rows)
frame.to_csv(destination, index=False)
"""


def measure(command: list[str], timeout: float, log: Path) -> tuple[float, float, int]:
    """(wall seconds, peak resident MB, exit code) of a child process (output: log)."""
    import subprocess

    start = time.perf_counter()
    with log.open("wb") as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            child.kill()
            pid, status, usage = os.wait4(child.pid, 0)
            break
        time.sleep(0.02)
    child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    # ru_maxrss: kilobytes on Linux, bytes on macOS.
    scale = 1 << 20 if sys.platform == "darwin" else 1 << 10
    return elapsed, usage.ru_maxrss / scale, child.returncode


def build(settings, terms, rows: int, bad: int, folder: Path) -> dict[str, Path]:
    """The benchmark files: CSV and Parquet with `bad` bad rows, a clean CSV."""
    source = contract.read_table(settings.data.source, terms)
    rng = np.random.default_rng(0)
    frame = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
    files = {"clean": folder / "clean.csv"}
    frame.to_csv(files["clean"], index=False)
    required = [n for n, f in terms.features.items() if not f.nullable]
    if required and bad:
        positions = np.linspace(0, rows - 1, min(bad, rows)).astype(int)
        frame.loc[positions, required[0]] = None  # rejected: a required value missing
    files["csv"], files["parquet"] = folder / "rows.csv", folder / "rows.parquet"
    frame.to_csv(files["csv"], index=False)
    frame.to_parquet(files["parquet"], index=False)
    return files


def main(argv: list[str] | None = None) -> int:
    """Print one line per contender; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows to score")
    parser.add_argument("--bad", type=int, default=20, help="bad rows among them")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--config-dir", type=Path, default=Path("conf"))
    parser.add_argument("overrides", nargs="*", help="Hydra overrides (data=...)")
    args = parser.parse_args(argv)
    settings = load_settings(args.overrides, config_dir=args.config_dir)
    paths = settings.paths
    if not paths.model_file.is_file():
        print(f"error: {paths.model_file} missing: run `make train` first.")
        return 1
    terms = artifacts.Bundle.load(paths.model_file, paths.metadata_file).contract
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        folder = Path(tmp)
        print(f"Writing {args.rows} rows of {settings.data.source} ...", flush=True)
        files = build(settings, terms, args.rows, args.bad, folder)
        engine = [python, "-m", "{{ cookiecutter.package_name }}", "predict"]
        engine += ["--config-dir", str(args.config_dir), *args.overrides]
        text = [n for n, f in terms.features.items() if f.kind == "categorical"]
        runs = {
            "engine, CSV": [
                *engine,
                *("--input", str(files["csv"]), "--output", str(folder / "out.csv")),
            ],
            "engine, Parquet": [
                *engine,
                *("--input", str(files["parquet"])),
                *("--output", str(folder / "out.parquet")),
            ],
            "naive script, CSV": [
                *(python, "-c", NAIVE, str(files["clean"]), str(folder / "naive.csv")),
                str(paths.model_file),
                "\x1f".join(terms.feature_names),
                "yes" if terms.task == "classification" else "no",
                "\x1f".join(text),
            ],
        }
        results = {}
        for name, command in runs.items():
            print(f"Running {name} ...", flush=True)
            log = folder / "run.log"
            results[name] = measure(command, args.timeout, log)
            if results[name][2]:
                print(log.read_text(encoding="utf-8", errors="replace")[-2000:])
    naive = results["naive script, CSV"][0]
    print(f"\n{args.rows} rows ({args.bad} bad), {os.cpu_count()} CPUs")
    print(f"{'':20} {'seconds':>8} {'rows/s':>10} {'peak MB':>8} {'vs naive':>9}")
    for name, (seconds, peak, code) in results.items():
        note = "" if code == 0 else f"  (exit code {code})"
        print(
            f"{name:20} {seconds:8.2f} {args.rows / seconds:10,.0f} {peak:8.0f} "
            f"{naive / seconds:8.1f}x{note}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
