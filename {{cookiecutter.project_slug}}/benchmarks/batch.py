"""Batch scoring throughput: the project's engine against a naive pandas script.

    python benchmarks/batch.py [--rows 200000] [overrides...]   (or: make bench-batch)

A benchmark, not a test: it prints figures (medians of `--runs` runs) and never fails
on them. It resamples the configured data source to `--rows` rows (a few of them bad:
a required value missing),
then runs each contender as its own process and reports wall time, rows per second,
peak memory (the child's maximum resident set) and the cores it kept busy (its CPU
time over its wall time): `python -m <package> predict` (contract
checks, rejects with line numbers, the current model{% if cookiecutter.use_onnx == 'yes' %}: ONNX when exported{% endif %}) on CSV and on
Parquet, and a naive script (pandas.read_csv, the pipeline's predict_proba or predict,
to_csv; no validation, so it gets the same rows without the bad ones). Every contender
is pinned to the same CPUs (`--cpus`, default: all this process may use), so that
each may use as many cores as the other: the engine through its reader and writer
threads, the naive script through the model's own `n_jobs`. Run it after
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


def measure(
    command: list[str], timeout: float, log: Path, cpus: set[int] | None = None
) -> tuple[float, float, int, float]:
    """(wall seconds, peak resident MB, exit code, CPU seconds) of a child process
    (output: log), pinned to `cpus` when the platform can pin."""
    import subprocess

    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    start = time.perf_counter()
    with log.open("wb") as output:
        child = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, preexec_fn=pin
        )
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
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, usage.ru_maxrss / scale, child.returncode, cpu


def n_jobs(pipeline) -> str:
    """The model's own parallelism (its estimator's `n_jobs`): the naive script's."""
    steps = getattr(pipeline, "steps", None)
    estimator = steps[-1][1] if steps else pipeline
    return str(getattr(estimator, "n_jobs", "none"))


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
        # Rejected: a required value missing. As objects, so that a column of any type
        # (booleans too, which pandas will not give a missing value) can hold it.
        column = required[0]
        frame[column] = frame[column].astype(object)
        frame.loc[positions, column] = None
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
    parser.add_argument(
        "--runs", type=int, default=3, help="runs of each contender; figures: medians"
    )
    parser.add_argument("--config-dir", type=Path, default=Path("conf"))
    parser.add_argument(
        "--cpus",
        help="CPUs every contender is pinned to, e.g. 0,1 (default: all allowed)",
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides (data=...)")
    args = parser.parse_args(argv)
    settings = load_settings(args.overrides, config_dir=args.config_dir)
    paths = settings.paths
    if not paths.model_file.is_file():
        print(f"error: {paths.model_file} missing: run `make train` first.")
        return 1
    bundle = artifacts.Bundle.load(paths.model_file, paths.metadata_file)
    terms = bundle.contract
    python = sys.executable
    pinnable = hasattr(os, "sched_setaffinity")
    if args.cpus:
        cpus = {int(cpu) for cpu in args.cpus.split(",")}
    else:
        cpus = os.sched_getaffinity(0) if pinnable else None
    if cpus and not pinnable:
        print("warning: this platform cannot pin processes to CPUs: --cpus ignored")
        cpus = None
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
        # The contenders take turns in each run, so that a busy moment of a shared
        # machine does not fall on one of them only; each figure is the run of
        # median time.
        measured: dict[str, list] = {name: [] for name in runs}
        for run in range(1, args.runs + 1):
            for name, command in runs.items():
                print(f"Run {run}/{args.runs}: {name} ...", flush=True)
                log = folder / "run.log"
                measured[name].append(measure(command, args.timeout, log, cpus))
                if measured[name][-1][2]:
                    print(log.read_text(encoding="utf-8", errors="replace")[-2000:])
        results = {
            name: sorted(found)[len(found) // 2] for name, found in measured.items()
        }
    naive = results["naive script, CSV"][0]
    pinned = ",".join(map(str, sorted(cpus))) if cpus else "not pinned"
    print(
        f"\nmedians of {args.runs} run(s); "
        f"{args.rows} rows ({args.bad} bad); each run on CPUs {pinned} "
        f"({len(cpus) if cpus else os.cpu_count()} cores); "
        f"the model's n_jobs: {n_jobs(bundle.pipeline)}"
    )
    print(
        f"{'':20} {'seconds':>8} {'rows/s':>10} {'peak MB':>8} {'cores':>6} "
        f"{'vs naive':>9}"
    )
    for name, (seconds, peak, code, cpu) in results.items():
        note = "" if code == 0 else f"  (exit code {code})"
        print(
            f"{name:20} {seconds:8.2f} {args.rows / seconds:10,.0f} {peak:8.0f} "
            f"{cpu / seconds:6.2f} {naive / seconds:8.1f}x{note}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
