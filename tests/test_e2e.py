"""End-to-end tier: bake, install with the generated `make install`, run its targets.

The default bake runs its sample end to end, then two datasets a user brings (wine as
CSV, diabetes as Parquet, built by tests/datasets.py) by configuration alone: `make
contract`, then the usual targets with ARGS="data=<name>"; schemathesis checks the
service against its own OpenAPI document. These tests talk to the package index
(installers) and take minutes; `-m "not e2e"` skips them. The figures they report
(metrics against a dummy baseline, ONNX parity, schemathesis cases) print with `-rA`.
"""

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from bakery import all_off, answers_for, bake, run
from workflows import load_workflow, run_job

pytestmark = pytest.mark.e2e
TOOLS_BIN = Path(sys.executable).parent
LOCK_FILES = {"poetry.lock", "uv.lock"}
# Builds the datasets a user might bring; runs with a baked project's python.
DATASETS = Path(__file__).with_name("datasets.py")
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
# The figures a run reports (metrics, parity, schemathesis, batch scoring...), printed
# as they come and again at the end of a test: pytest drops what passing subtests print.
FIGURES: list[str] = []


def figure(text: str) -> None:
    """Print a figure of the run and keep it for the test's summary."""
    print(text)
    FIGURES.append(str(text))


def project_env() -> dict:
    """A user's shell: the template's tools (uv) on PATH, no outer virtualenv."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "MAKEFLAGS", "MFLAGS"}
    }
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def make(project: Path, *targets: str, timeout: int = 900) -> str:
    """Run generated make targets; fail the test with their output when one fails."""
    result = run(["make", *targets], cwd=project, env=project_env(), timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"make {' '.join(targets)} failed:\n{output[-6000:]}"
    return output


def untracked_or_changed(project: Path) -> set[str]:
    """Files git sees as changed or new, apart from lock files the installers write.

    With DVC, the metrics and plot data of a run are meant for git (`cache: false`):
    they are new after a run until committed, so they are left out too, with dvc.lock
    and the .dvc file of the data source (`dvc add`).
    """
    status = run(["git", "status", "--porcelain", "-uall"], cwd=project).stdout
    paths = {line[3:] for line in status.splitlines()}
    if (project / "dvc.yaml").is_file():
        for_git = r"reports/.*\.(json|csv)|data/.*\.dvc|data/.+/\.gitignore|dvc\.lock"
        paths = {p for p in paths if not re.fullmatch(for_git, p)}
    return paths - LOCK_FILES


def install(project: Path, installer: str) -> None:
    """The generated `make install`: .venv with every group, pre-commit hooks."""
    make(project, "install", f"INSTALLER={installer}")
    assert (project / ".git" / "hooks" / "pre-commit").is_file()


def check_project_end_to_end(project: Path, installer: str, dataset: str) -> dict:
    """lint, train, evaluate, test an installed project; return its test metrics."""
    if (project / ".github" / "workflows" / "ci.yml").is_file():
        # Lint, test and the pipeline as the generated CI runs them (same targets).
        run_ci_workflow_here(project, installer)
    else:
        make(project, "lint")
        make(project, "train")
        make(project, "evaluate")
        output = make(project, "test")
        assert " passed" in output and " failed" not in output
    # Running the hooks again after everything ran changes nothing.
    make(project, "lint")
    assert untracked_or_changed(project) == set()
    return check_metrics(project, dataset)


# The score of a model that ignores the features, on the same split as the trained
# model: the class prior (majority class; constant scores have a ROC AUC of 0.5), or
# the training mean for regression. Run with the project's python.
BASELINE = """
import json
import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

metadata = json.load(open("models/metadata.json", encoding="utf-8"))
target, task = metadata["contract"]["target"], metadata["contract"]["task"]
train = pd.read_csv("data/processed/train.csv")[target]
test = pd.read_csv("data/processed/test.csv")[target]
classification = task == "classification"
dummy = DummyClassifier(strategy="prior") if classification else DummyRegressor()
guess = dummy.fit(np.zeros((len(train), 1)), train).predict(np.zeros((len(test), 1)))
if classification:
    baseline = {"accuracy": float(np.mean(guess == test.to_numpy())), "roc_auc": 0.5}
else:
    baseline = {
        "rmse": float(root_mean_squared_error(test, guess)),
        "mae": float(mean_absolute_error(test, guess)),
        "r2": float(r2_score(test, guess)),
    }
found = {"task": task, "dataset": metadata["dataset"], "baseline": baseline}
print(json.dumps({**found, "model_sha256": metadata["model_sha256"]}))
"""
# Metrics a model must beat the baseline on, with their direction.
BEATS_BASELINE = {"accuracy": 1, "roc_auc": 1, "rmse": -1, "mae": -1, "r2": 1}


def check_metrics(project: Path, dataset: str) -> dict:
    """reports/metrics.json is of this dataset's model and beats a dummy baseline.

    Not the sample's own numbers: any dataset a user brings passes the same check.
    """
    metrics = json.loads((project / "reports" / "metrics.json").read_text("utf-8"))
    found = json.loads(tool(project, "python", "-c", BASELINE).splitlines()[-1])
    baseline = found["baseline"]
    # The report names the model it scored: the one models/ holds now.
    assert metrics.pop("model_sha256") == found["model_sha256"], (metrics, found)
    figure(f"{dataset}: test metrics {metrics}; dummy baseline {baseline}")
    assert found["dataset"] == dataset, found
    if found["task"] == "classification":
        assert {"accuracy", "f1", "precision", "recall", "roc_auc"} <= set(metrics)
        assert all(0.0 <= value <= 1.0 for value in metrics.values()), metrics
    else:
        assert {"rmse", "mae", "r2"} <= set(metrics)
        assert metrics["rmse"] >= metrics["mae"] >= 0.0, metrics
    for name, reference in baseline.items():
        sign = BEATS_BASELINE[name]
        assert sign * metrics[name] > sign * reference, (name, metrics, baseline)
    return metrics


@needs_make
def test_default_bake_and_your_data_run_end_to_end_with_uv(tmp_path, subtests):
    """The default bake, installed once: its sample end to end, then two datasets a
    user brings, by configuration alone (each a subtest: one failing spares the rest).

    One test rather than tests sharing a fixture: xdist's `loadgroup` cannot keep
    them on one worker with pytest 9.2 (pytest-dev/pytest-xdist#1386), and each
    install costs a minute or more.
    """
    project = bake(tmp_path, answers_for())
    install(project, "uv")
    FIGURES.clear()
    try:
        with subtests.test("default sample, CI steps, serving, DVC, ONNX, batch"):
            check_default_sample(project)
        with subtests.test("wine CSV: three string classes, odd names, missing values"):
            check_wine_csv(project, tmp_path)
        with subtests.test("diabetes Parquet: regression with a categorical feature"):
            check_diabetes_parquet(project)
        with subtests.test("your data as the default: make test stays on the samples"):
            check_your_data_as_default(project)
    finally:
        print("\n".join(["Figures of the run:", *FIGURES]))


def check_default_sample(project: Path) -> None:
    """The bake's own sample: CI steps, serving, DVC and registry, ONNX, batch."""
    check_project_end_to_end(project, "uv", "breast_cancer")
    assert (project / "mlflow.db").is_file()
    check_serving(project)
    check_dvc_pipeline_and_registry(project)
    check_onnx_artifacts(project)
    check_batch_scoring(project)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    """(status, body) of a GET, or of a JSON POST when a body is given."""
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def bad_inputs(example: dict) -> dict[str, tuple[bytes, int]]:
    """Every kind of bad /predict body the issue lists, with the status it must get."""
    first = next(iter(example))
    without_first = {k: v for k, v in example.items() if k != first}

    def rows(*items) -> bytes:
        return json.dumps({"instances": list(items)}).encode()

    return {
        "invalid JSON": (b'{"instances": [', 400),
        "empty body": (b"", 400),
        "missing feature": (rows(without_first), 422),
        "extra feature": (rows({**example, "surprise": 1.0}), 422),
        "wrong type": (rows({**example, first: "abc"}), 422),
        "boolean": (rows({**example, first: True}), 422),
        "null": (rows({**example, first: None}), 422),
        "NaN": (rows({**example, first: float("nan")}), 422),
        "infinity": (rows({**example, first: float("inf")}), 422),
        "empty list": (rows(), 422),
        "too many rows": (rows(*[example] * 1001), 413),
        "body too large": (rows(example) + b" " * (2 * 1024 * 1024), 413),
    }


@contextmanager
def serving(project: Path, *make_args: str) -> Iterator[str]:
    """`make serve` on a free 127.0.0.1 port until ready; yield its base URL.

    `make serve` exports ONNX first when it is stale, hence the generous deadline.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # A file, not a pipe nobody reads: the service logs every refused request, and a
    # full pipe would block it mid-test.
    log = project.parent / f"make-serve-{port}.log"
    with log.open("wb") as output:
        # Its own session, so the server (make's child) is stopped with make.
        server = subprocess.Popen(
            ["make", "serve", "HOST=127.0.0.1", f"PORT={port}", *make_args],
            cwd=project,
            env=project_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if call(f"{base}/health")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, log.read_text("utf-8", "replace")[-6000:]
            assert time.monotonic() < deadline, "make serve: no answer in 300 s"
            time.sleep(0.2)
        status, body = call(f"{base}/ready")
        assert status == 200, body
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def get_json(url: str) -> dict:
    """The JSON body of a GET that must answer 200."""
    status, body = call(url)
    assert status == 200, f"GET {url}: {status} {body[:300]!r}"
    return json.loads(body)


def check_serving(project: Path) -> None:
    """make serve on a free port: every endpoint, every bad input, predict, loadtest."""
    with serving(project) as base:
        port = base.rsplit(":", 1)[1]
        metadata = get_json(f"{base}/metadata")
        assert metadata["format"] in {"native", "onnx"} and metadata["metrics"]
        spec = get_json(f"{base}/openapi.json")
        content = spec["paths"]["/predict"]["post"]["requestBody"]["content"]
        example = content["application/json"]["example"]
        status, body = call(f"{base}/predict", json.dumps(example).encode())
        assert status == 200, body
        assert len(json.loads(body)["predictions"]) == 1
        for name, (payload, expected) in bad_inputs(example["instances"][0]).items():
            status, body = call(f"{base}/predict", payload)
            assert status == expected, f"{name}: {status} {body[:300]!r}"
            assert json.loads(body)["detail"], name
        status, body = call(f"{base}/metrics")
        assert b"http_requests_total" in body and b"predictions_total" in body

        output = make(project, "predict", f"PORT={port}", timeout=120)
        assert '"predictions"' in output
        output = make(
            project,
            "loadtest",
            f"PORT={port}",
            "DURATION=10s",
            "P95_MS=2000",
            timeout=180,
        )
        assert "Load test passed" in output
        assert (project / "reports" / "loadtest.html").is_file()
        assert (project / "reports" / "loadtest_stats.csv").is_file()
        # The latency gate fails the run when broken.
        broken = run(
            ["make", "loadtest", f"PORT={port}", "DURATION=3s", "P95_MS=0.001"],
            cwd=project,
            env=project_env(),
            timeout=120,
        )
        assert broken.returncode != 0
        assert "Load test FAILED" in broken.stdout + broken.stderr


def tool(project: Path, *cmd: str, cwd: Path | None = None, timeout: int = 900) -> str:
    """Run a program of the project's .venv (dvc, python) as a user with it active."""
    env = project_env()
    env["PATH"] = f"{project / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    result = run(list(cmd), cwd=cwd or project, env=env, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{output[-6000:]}"
    return output


def commit(project: Path, message: str) -> None:
    """Commit everything, with an identity of its own (CI machines may have none)."""
    run(["git", "add", "--all"], cwd=project)
    identity = ["-c", "user.name=e2e", "-c", "user.email=e2e@example.com"]
    result = run(["git", *identity, "commit", "-qm", message], cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr


RUN_TAGS = """
import json, sys, mlflow
mlflow.set_tracking_uri("sqlite:///mlflow.db")
print(json.dumps(mlflow.get_run(sys.argv[1]).data.tags))
"""
CHAMPION = """
import mlflow, pandas as pd
mlflow.set_tracking_uri("sqlite:///mlflow.db")
name = "my-mlops-project"
version = mlflow.MlflowClient().get_model_version_by_alias(name, "champion")
model = mlflow.sklearn.load_model(f"models:/{name}@champion")
rows = pd.read_csv("data/processed/test.csv").drop(columns=["target"])
reason = version.tags["promotion.reason"]
print("champion", version.version, reason, len(model.predict(rows)))
"""


def git_changes(project: Path) -> set[str]:
    """Every path git sees as new or changed."""
    status = run(["git", "status", "--porcelain", "-uall"], cwd=project).stdout
    return {line[3:] for line in status.splitlines()}


# The default bake's data source, tracked with `dvc add` by `make pipeline`.
SOURCE_DVC = "data/raw/breast_cancer.csv.dvc"


def check_dvc_pipeline_and_registry(project: Path) -> None:
    """make pipeline from scratch; dvc status, push, pull in a clone; an override."""
    make(project, "clean")
    # From scratch means without DVC's run cache too: the CI steps already ran the
    # pipeline, and DVC would restore its results instead of running the stages.
    shutil.rmtree(project / ".dvc" / "cache", ignore_errors=True)
    output = make(project, "pipeline")
    for stage in ("features", "train", "evaluate", "export"):
        assert f"Running stage '{stage}'" in output
    assert "Promotion of" in output
    assert "Data and pipelines are up to date." in tool(project, "dvc", "status")
    # The task's plots only: a bare `dvc plots show` would report the other task's.
    plots = make(project, "plots")
    assert "failed to load" not in plots, plots
    page = (project / "dvc_plots" / "index.html").read_text("utf-8")
    assert "Confusion matrix" in page and "ROC curve" in page
    # The data source is an input tracked with `dvc add`, its .dvc file meant for git;
    # params.yaml as generated is conf/ composed: the pipeline left it unchanged.
    new = git_changes(project)
    results = {"dvc.lock", SOURCE_DVC, "reports/metrics.json", "reports/export.json"}
    assert results <= new, new
    for_git = {"dvc.lock", SOURCE_DVC, "data/raw/.gitignore"} | LOCK_FILES
    assert {p for p in new if not p.startswith("reports/")} <= for_git, new
    commit(project, "Pipeline results")

    # Lineage: the run's data hash is the one DVC recorded for the same file.
    lock = yaml.safe_load((project / "dvc.lock").read_text("utf-8"))
    hashes = {dep["path"]: dep["md5"] for dep in lock["stages"]["train"]["deps"]}
    metadata = json.loads((project / "models" / "metadata.json").read_text("utf-8"))
    run_id = metadata["mlflow"]["run_id"]
    tags = json.loads(tool(project, "python", "-c", RUN_TAGS, run_id).splitlines()[-1])
    assert tags["data.train.md5"] == hashes["data/processed/train.csv"]
    parent = run(["git", "rev-parse", "HEAD~1"], cwd=project).stdout.strip()
    assert tags["git.commit"] == parent

    # The default remote: a directory next to the project; a fresh clone pulls from it.
    tool(project, "dvc", "push")
    storage = project.parent / f"{project.name}-dvc-storage"
    assert any(storage.rglob("*")), "dvc push wrote nothing to the default remote"
    assert "in sync" in tool(project, "dvc", "status", "--cloud")
    clone = project.parent / "clone"
    cloned = run(["git", "clone", "-q", str(project), str(clone)], cwd=project.parent)
    assert cloned.returncode == 0, cloned.stderr
    tool(project, "dvc", "pull", cwd=clone)
    onnx = Path("models", "model.onnx")
    assert (clone / onnx).read_bytes() == (project / onnx).read_bytes()
    assert "up to date" in tool(project, "dvc", "status", cwd=clone)

    # An override through DVC's Hydra composition changes the result.
    metrics = project / "reports" / "metrics.json"
    before = json.loads(metrics.read_text("utf-8"))
    overrides = ["-S", "model=random_forest", "-S", "model.n_estimators=50"]
    tool(project, "dvc", "exp", "run", *overrides)
    after = json.loads(metrics.read_text("utf-8"))
    params = yaml.safe_load((project / "params.yaml").read_text("utf-8"))
    assert params["model"]["name"] == "random_forest"
    assert after != before
    figure(f"test metrics: default {before}; dvc exp run {overrides}: {after}")

    # The registry: a champion that loads by alias; `make promote` re-decides.
    registry = tool(project, "python", "-c", CHAMPION)
    assert re.search(r"^champion \d+ .+ 114$", registry, re.M), registry
    assert "Promotion of my-mlops-project version" in make(project, "promote")

    # Back to conf/: the run cache restores the committed results, byte for byte.
    make(project, "pipeline")
    assert git_changes(project) == set()
    # make clean removes the model but leaves what git tracks as committed; the run
    # cache brings the rest back.
    make(project, "clean")
    assert not (project / "models" / "model.onnx").exists()
    assert git_changes(project) == set()
    make(project, "pipeline")
    assert (
        git_changes(project) == set() and (project / "models" / "model.onnx").exists()
    )


def check_export(project: Path, dataset: str) -> dict:
    """reports/export.json: ONNX parity with scikit-learn on the test split; print it.

    The export fails beyond its tolerance (|onnx - native| <= atol + rtol * |native|);
    this checks the report says so: probabilities lie in [0, 1], so atol + rtol bounds
    their difference; labels agree on every row that is not a tie.
    """
    report = json.loads((project / "reports" / "export.json").read_text("utf-8"))
    parity = report["parity"]
    figure(
        f"{dataset}: ONNX parity max abs diff {parity['max_abs_diff']:.3g}, "
        f"label mismatches {parity.get('label_mismatches', 'n/a (regression)')} "
        f"({parity})"
    )
    assert parity["rows"] > 0 and parity["max_abs_diff"] >= 0.0, parity
    if "label_mismatches" in parity:
        assert parity["label_mismatches"] == 0, parity
        assert parity["max_abs_diff"] <= parity["atol"] + parity["rtol"], parity
    return report


def check_onnx_artifacts(project: Path) -> None:
    """Parity figures; int8 and ORT models load in the edge predictor; benchmark."""
    report = check_export(project, "breast_cancer")
    assert "label_mismatches" in report["parity"]
    figure(f"ONNX quantization {report['quantization']}")
    rows = project / "data" / "processed" / "test.csv"
    for model in ("model.quant.onnx", "model.ort"):
        output = tool(
            project,
            "python",
            "edge/predict.py",
            "--model",
            f"models/{model}",
            str(rows),
        )
        assert len(output.splitlines()) == 114
    figure(make(project, "benchmark-onnx"))
    check_serving_benchmark(project)


BENCH_SERVERS = ("service", "nolog", "bare", "parquet", "floor")


def check_serving_benchmark(project: Path) -> None:
    """`make bench`'s script, briefly: every server answers every cell, none in error,
    and each target gives the range of the two runs' ratios.

    The figures of so short a run say nothing about speed; the report's shape and the
    absence of errors do (a server that refuses the benchmark's bodies counts errors).
    """
    output = tool(
        project,
        "python",
        "benchmarks/serving.py",
        "--runs=2",
        "--seconds=0.2",
        f"--servers={','.join(BENCH_SERVERS)}",
        "--model-dir=models",
        timeout=300,
    )
    cells = [line.split() for line in output.splitlines()]
    cells = [cell for cell in cells if len(cell) == 8 and cell[0] in BENCH_SERVERS]
    assert {(c[0], c[1], c[2]) for c in cells} == {
        (server, rows, conc)
        for server in BENCH_SERVERS
        for rows in ("1", "100")
        for conc in ("1", "16")
    }, output
    assert all(float(c[3]) > 0 and c[7] == "0" for c in cells), output
    for server in BENCH_SERVERS:
        assert re.search(rf"^{server} +resident memory .* ready", output, re.M), output
    # Each file sink's rows/s and cost against no log, a line per cell.
    sinks = output[output.index("rows/s by sink") :]
    cell = r"^  \d+ rows, concurrency \d+( +\d+){3}( +-?\d+\.\d %){2}$"
    assert len(re.findall(cell, sinks, re.M)) == 4, output
    targets = output[output.index("target  ") :]
    assert "100-row rows/s vs floor" in targets and "time to ready" in targets
    # Two runs: each target line ends with the range of the runs' own ratios.
    ranges = re.findall(r"(?:met|MISSED) +(\d+\.\d\d)-(\d+\.\d\d)$", targets, re.M)
    assert len(ranges) == len(re.findall(r" (?:met|MISSED)\b", targets)), targets
    assert all(float(low) <= float(high) for low, high in ranges), targets
    figure("make bench, 2 runs of 0.2 s per cell (not a measure):\n" + targets.strip())


BIG_FILE = """
import sys
import pandas as pd
rows = pd.read_csv("data/raw/breast_cancer.csv")
big = pd.concat([rows] * (200_000 // len(rows) + 1)).head(200_000)
first = big.columns[0]
big[first] = big[first].astype(object)
big.iloc[1000, 0] = "oops"
big.to_csv(sys.argv[1], index=False)
big.head(100_000).to_csv(sys.argv[2], index=False)
"""
PEAK = """
import resource, sys
from my_mlops_project.cli import main
code = main(sys.argv[1:])
print("peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
sys.exit(code)
"""


def check_batch_scoring(project: Path) -> None:
    """make batch-predict; 200,000 rows in flat memory; bad rows rejected by line."""
    make(project, "batch-predict")
    assert (project / "data" / "scored" / "test.csv").is_file()
    big, small = project / "big.csv", project / "small.csv"
    tool(project, "python", "-c", BIG_FILE, str(big), str(small))
    peaks, seconds = {}, 0.0
    # 100,000 rows: twenty chunks of 5,000, past the engine's chunks in flight (at
    # most 11: one read, one per scoring worker, up to 9, one written); from there
    # the peak must not grow with the rows (Arrow's read-ahead, about 36 MB, and the
    # allocators' high-water mark move it a little).
    for name, source in (("100k", small), ("200k", big)):
        start = time.monotonic()
        output = tool(
            project,
            "python",
            "-c",
            PEAK,
            "predict",
            "--input",
            str(source),
            "--output",
            str(project / f"scored-{name}.csv"),
            "--chunk-size",
            "5000",
        )
        peaks[name] = int(re.search(r"peak_rss_mb (\d+)", output).group(1))
        seconds = time.monotonic() - start
    scored = project / "scored-200k.csv"
    assert sum(1 for _ in scored.open(encoding="utf-8")) == 200_000  # header + 199,999
    rejects = (project / "scored-200k.rejects.csv").read_text("utf-8").splitlines()
    assert len(rejects) == 2 and rejects[1].startswith("1002,")
    figure(f"batch scoring peak RSS (MB) for 100,000 and 200,000 rows: {peaks}")
    figure(f"200,000 rows scored in {seconds:.1f} s (process start included)")
    assert peaks["200k"] - peaks["100k"] < 60, peaks


# A user's data, by configuration alone: `make contract` writes conf/data/<name>.yaml,
# every later target takes ARGS="data=<name>" and nothing else changes.
WINE_CLASSES = ["Barbera", "Barolo", "Grignolino"]


def without(row: dict, name: str) -> dict:
    """A request row with one feature left out."""
    return {key: value for key, value in row.items() if key != name}


# Rows the API must refuse (422, naming the row and the feature): name -> (change to a
# valid row, feature the error must name).
WINE_REFUSALS = {
    "unknown category": (lambda row: {**row, "Color Band": "purple"}, "Color Band"),
    "missing non-nullable (absent)": (lambda row: without(row, "ash"), "ash"),
    "missing non-nullable (null)": (lambda row: {**row, "ash": None}, "ash"),
    "below min": (lambda row: {**row, "ash": -1.0}, "ash"),
    "not a whole number": (lambda row: {**row, "magnesium": 88.5}, "magnesium"),
    "not a boolean": (lambda row: {**row, "Oak Aged": "maybe"}, "Oak Aged"),
    "beyond float32": (lambda row: {**row, "proline": 1e39}, "proline"),
}
# Rows the API must accept: nullable features may be null or absent.
WINE_ACCEPTED = {
    "nullable null and absent": lambda row: without(
        {**row, "Malic Acid": None}, "Color Band"
    ),
}
DIABETES_REFUSALS = {
    "unknown category": (lambda row: {**row, "Sex": "X"}, "Sex"),
    "missing non-nullable (null)": (lambda row: {**row, "BMI": None}, "BMI"),
    "missing non-nullable (absent)": (lambda row: without(row, "bp"), "bp"),
    "below min": (lambda row: {**row, "age": -3}, "age"),
}


def make_contract(project: Path, *variables: str) -> dict:
    """`make contract FILE=... TARGET=... ...`; return the contract it wrote."""
    output = make(project, "contract", *variables)
    written = re.search(r"Wrote (conf/data/\S+\.yaml)", output)
    assert written, output
    return yaml.safe_load((project / written.group(1)).read_text("utf-8"))


def train_evaluate_export(project: Path, name: str, args: str) -> None:
    """make train, evaluate, export-onnx with ARGS: metrics beat a dummy, parity."""
    make(project, "train", args)
    metadata = json.loads((project / "models" / "metadata.json").read_text("utf-8"))
    assert metadata["dataset"] == name
    make(project, "evaluate", args)
    check_metrics(project, name)
    make(project, "export-onnx", args)
    check_export(project, name)


def refers_to(detail, row: int, feature: str) -> bool:
    """Whether an error detail names the row (index or number) and the feature."""
    for problem in detail if isinstance(detail, list) else [detail]:
        if isinstance(problem, dict) and "loc" in problem:
            if row in problem["loc"] and feature in problem["loc"]:
                return True
        text = problem if isinstance(problem, str) else json.dumps(problem)
        if feature in text and re.search(rf"\brows? \[?({row}|{row + 1})\b", text):
            return True
    return False


def check_contract_api(
    base: str, terms: dict, refusals: dict, accepted: dict | None = None
) -> None:
    """/metadata serves the contract and the model's example row (the OpenAPI request
    example too); /predict answers it and refuses bad rows naming row and feature."""
    metadata = get_json(f"{base}/metadata")
    served = metadata["contract"]
    assert served["task"] == terms["task"] and served["target"] == terms["target"]
    assert list(served["features"]) == list(terms["features"])
    example = metadata["example"]
    assert set(example) == set(terms["features"]), example
    spec = get_json(f"{base}/openapi.json")
    content = spec["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert content["application/json"]["example"] == {"instances": [example]}

    def predict(*rows: dict) -> tuple[int, dict]:
        status, body = call(f"{base}/predict", json.dumps({"instances": rows}).encode())
        return status, json.loads(body)

    status, answer = predict(example, example)
    assert status == 200, answer
    assert len(answer["predictions"]) == 2
    if terms["task"] == "classification":
        classes = sorted(terms["classes"])
        assert answer["classes"] == classes
        assert all(label in classes for label in answer["predictions"]), answer
        for row in answer["probabilities"]:
            assert len(row) == len(classes) and abs(sum(row) - 1) < 1e-4, row
    else:
        assert "classes" not in answer and "probabilities" not in answer, answer
        assert all(isinstance(value, float) for value in answer["predictions"])
    for name, change in (accepted or {}).items():
        status, answer = predict(example, change(example))
        assert status == 200, f"{name}: {status} {answer}"
    for name, (change, feature) in refusals.items():
        status, answer = predict(example, change(example))
        assert status == 422, f"{name}: {status} {answer}"
        assert refers_to(answer["detail"], 1, feature), f"{name}: {answer}"
    figure(
        f"{terms['target']}: /predict answered {example} and refused {list(refusals)}"
    )


SCHEMATHESIS_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


def check_openapi_with_schemathesis(base: str, workdir: Path) -> dict:
    """schemathesis against the service's own OpenAPI document: no 5xx, every
    response of a documented status, content type and schema (/metrics included).

    Examples, coverage (boundary and invalid values) and fuzzing phases, positive and
    negative data, a fixed seed; at least 1,000 cases; bounded in time.
    """
    assert base.startswith("http://127.0.0.1:"), base
    report = workdir / "schemathesis.json"
    env = {**project_env(), "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    result = run(
        [
            str(TOOLS_BIN / "schemathesis"),
            "run",
            f"{base}/openapi.json",
            "--checks",
            ",".join(SCHEMATHESIS_CHECKS),
            "--phases",
            "examples,coverage,fuzzing",
            "--mode",
            "all",
            "--max-examples",
            str(SCHEMATHESIS_EXAMPLES),
            "--seed",
            "20261130",
            "--continue-on-failure",
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        cwd=workdir,
        env=env,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert report.is_file(), output[-6000:]
    summary = json.loads(report.read_text("utf-8"))
    cases = summary["test_cases"]
    figure(
        f"schemathesis {summary['schemathesis_version']}: {cases['generated']} cases, "
        f"{cases['with_failures']} with failures ({summary['failures']}), "
        f"{cases['errored']} errored, in {summary['running_time']:.0f} s"
    )
    assert result.returncode == 0, output[-6000:]
    assert cases["with_failures"] == 0 and not summary["failures"], output[-6000:]
    assert cases["errored"] == 0 and not summary["errors"], output[-6000:]
    assert cases["generated"] >= SCHEMATHESIS_MIN_CASES, cases
    return summary


# Test cases per API operation and phase (/predict takes most), and the least in all:
# with the seed below, 1,000 examples make about 1,230 cases in 1 to 2 minutes.
SCHEMATHESIS_EXAMPLES = 1000
SCHEMATHESIS_MIN_CASES = 1000
# The wine file as new rows to score: no target, the id column kept, two bad rows.
WINE_BAD_ROWS = {3: ("Color Band", "purple"), 7: ("ash", "")}


def write_wine_batch(source: Path, destination: Path) -> int:
    """Rows to score from the wine file (two broken); return how many rows."""
    with source.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for index, (column, value) in WINE_BAD_ROWS.items():
        rows[index][column] = value
    columns = [name for name in rows[0] if name != "Cultivar"]
    with destination.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def read_csv_rows(path: Path) -> list[dict]:
    """Every row of a CSV file as a dict."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def check_wine_csv(project: Path, workdir: Path) -> None:
    """Three string classes, column names with spaces and punctuation, a categorical and
    a numeric with missing values, a boolean, an id column to ignore (CSV); the
    service's OpenAPI document under schemathesis."""
    tool(project, "python", str(DATASETS), "wine", "data/wine.csv")
    terms = make_contract(
        project,
        "FILE=data/wine.csv",
        "TARGET=Cultivar",
        "NAME=wine",
        "IGNORE=Sample ID",
    )
    assert terms["name"] == "wine" and terms["task"] == "classification"
    assert terms["classes"] == WINE_CLASSES and terms["ignore"] == ["Sample ID"]
    features = terms["features"]
    assert "Sample ID" not in features and "Cultivar" not in features
    assert features["Color Band"]["kind"] == "categorical"
    assert features["Color Band"]["categories"] == ["deep", "medium", "pale"]
    assert features["Color Band"]["nullable"] and features["Malic Acid"]["nullable"]
    assert features["Oak Aged"]["kind"] == "boolean"
    assert not features["ash"].get("nullable", False)

    args = "ARGS=data=wine"
    train_evaluate_export(project, "wine", args)
    # Nullable features: the benchmark's rows leave them out now and then.
    check_serving_benchmark(project)
    with serving(project, args) as base:
        check_contract_api(base, terms, WINE_REFUSALS, WINE_ACCEPTED)
        check_openapi_with_schemathesis(base, workdir)
        port = base.rsplit(":", 1)[1]
        output = make(project, "predict", f"PORT={port}", timeout=120)
        assert '"predictions"' in output and "Barolo" in output
        output = make(
            project,
            "loadtest",
            f"PORT={port}",
            "USERS=4",
            "DURATION=5s",
            "P95_MS=2000",
            timeout=120,
        )
        assert "Load test passed" in output

    rows = write_wine_batch(project / "data" / "wine.csv", project / "new-wine.csv")
    output = make(
        project,
        "batch-predict",
        "BATCH_INPUT=new-wine.csv",
        "BATCH_OUTPUT=data/scored/new-wine.csv",
        args,
    )
    scored = read_csv_rows(project / "data" / "scored" / "new-wine.csv")
    rejects = read_csv_rows(project / "data" / "scored" / "new-wine.rejects.csv")
    figure(f"wine batch scoring: {len(scored)} rows scored, {len(rejects)} rejected")
    assert len(scored) == rows - len(WINE_BAD_ROWS) and len(rejects) == 2, output
    # The id column comes through, so scores join back to the rows they came from.
    outputs = {"prediction", *(f"probability_{label}" for label in WINE_CLASSES)}
    assert outputs | {"Sample ID"} <= set(scored[0]), scored[0]
    assert {row["prediction"] for row in scored} <= set(WINE_CLASSES)
    assert [int(row["line"]) for row in rejects] == [i + 2 for i in WINE_BAD_ROWS]
    for reject, (column, _) in zip(rejects, WINE_BAD_ROWS.values()):
        assert column in reject["error"], reject


# Scripts run with the project's python (pandas reads and writes Parquet there).
DIABETES_BATCH = """
import sys
import pandas as pd
frame = pd.read_parquet(sys.argv[1]).drop(columns="Disease Progression")
frame.loc[3, "Sex"] = "X"
frame.loc[7, "age"] = -3
frame.to_parquet(sys.argv[2], index=False)
print(len(frame))
"""
SCORED = """
import json, sys
import pandas as pd
frame = pd.read_parquet(sys.argv[1])
numbers = pd.to_numeric(frame["prediction"], errors="coerce")
print(json.dumps({"rows": len(frame), "numbers": int(numbers.notna().sum())}))
"""


def check_diabetes_parquet(project: Path) -> None:
    """A regression target with a space in its name, a categorical feature, integers
    (Parquet in, Parquet out), in a bake whose defaults are classification."""
    tool(project, "python", str(DATASETS), "diabetes", "data/diabetes.parquet")
    terms = make_contract(
        project,
        "FILE=data/diabetes.parquet",
        "TARGET=Disease Progression",
        "NAME=progression",
    )
    assert terms["task"] == "regression" and "classes" not in terms
    assert terms["features"]["Sex"] == {"kind": "categorical", "categories": ["F", "M"]}
    assert terms["features"]["age"]["kind"] == "integer"

    # The bake's default model classifies: the data's task needs a regressor.
    args = "ARGS=data=progression model=ridge"
    train_evaluate_export(project, "progression", args)
    with serving(project, args) as base:
        check_contract_api(base, terms, DIABETES_REFUSALS)

    rows = int(
        tool(
            project,
            "python",
            "-c",
            DIABETES_BATCH,
            "data/diabetes.parquet",
            "new-patients.parquet",
        ).splitlines()[-1]
    )
    output = make(
        project,
        "batch-predict",
        "BATCH_INPUT=new-patients.parquet",
        "BATCH_OUTPUT=data/scored/new-patients.parquet",
        args,
    )
    scored = json.loads(
        tool(
            project, "python", "-c", SCORED, "data/scored/new-patients.parquet"
        ).splitlines()[-1]
    )
    rejects = read_csv_rows(project / "data" / "scored" / "new-patients.rejects.csv")
    figure(
        f"diabetes batch scoring: {scored['rows']} rows scored, {len(rejects)} rejected"
    )
    assert scored["rows"] == scored["numbers"] == rows - 2, (scored, output)
    assert len(rejects) == 2, rejects
    assert "Sex" in rejects[0]["error"] and "age" in rejects[1]["error"], rejects


def check_your_data_as_default(project: Path) -> None:
    """The README's "make your data the default", with the diabetes subtest's
    regression contract and a model that regresses: `make test` (what CI runs) passes
    without the data file, as on a fresh clone whose data is in the DVC remote."""
    config = project / "conf" / "config.yaml"
    text = config.read_text("utf-8")
    assert (
        "- data: breast_cancer\n" in text and "- model: logistic_regression\n" in text
    )
    text = text.replace("- data: breast_cancer\n", "- data: progression\n")
    config.write_text(
        text.replace("- model: logistic_regression", "- model: ridge"), "utf-8"
    )
    tool(project, "python", "-m", "my_mlops_project", "params")
    source = project / "data" / "diabetes.parquet"
    away = source.rename(project.parent / "diabetes.parquet")
    try:
        output = make(project, "test")  # exit 0, or the test fails with its output
        summaries = re.findall(r"^=+ (\d+ passed.*) =+$", output, re.M)
        assert summaries, output[-3000:]
        figure(f"make test with your data as the default: {summaries[-1]}")
    finally:
        away.rename(source)
        run(["git", "checkout", "--", "conf/config.yaml", "params.yaml"], cwd=project)


def run_ci_workflow_here(project: Path, installer: str) -> None:
    """The shell steps of every job of the generated ci workflow pass here.

    Run as GitHub runs them (bash -eo pipefail, the workflow's env; GitHub-only actions
    skipped, uploaded paths checked), in the project installed just before, with one
    change: INSTALLER, because Poetry cannot use this machine's package index as it is
    (test_poetry_installer_path_works covers Poetry).
    """
    ci = load_workflow(project / ".github" / "workflows" / "ci.yml")
    # Not the `loadtest` job of Docker-less bakes: it leaves a server running.
    for job in ("lint", "test"):
        for step, outcome in run_job(ci, job, project, {"INSTALLER": installer}):
            figure(f"ci.yml {job}: {step}: {outcome}")


@needs_make
def test_all_off_regression_bake_runs_end_to_end_with_pip(tmp_path):
    project = bake(tmp_path, all_off(task="regression"))
    install(project, "pip")
    check_project_end_to_end(project, "pip", "diabetes")
    assert not (project / "mlflow.db").exists()


@needs_make
def test_poetry_installer_path_works(tmp_path):
    """Poetry needs the index declared as a primary source where its JSON API is absent.

    The URL is pip's own default, read at run time, and only in this test's copy of the
    baked project: the template never names a registry host.
    """
    from pip._internal.models.index import PyPI

    project = bake(tmp_path, all_off())
    make(project, ".tools/bin/poetry")
    poetry = str(project / ".tools" / "bin" / "poetry")
    added = run(
        [poetry, "source", "add", "--priority=primary", "index", PyPI.simple_url],
        cwd=project,
        env=project_env(),
    )
    assert added.returncode == 0, added.stdout + added.stderr
    run(["git", "commit", "-qam", "Use the local index"], cwd=project)
    env_poetry = f"POETRY={poetry}"
    make(project, "install", "INSTALLER=poetry", env_poetry, timeout=1500)
    assert (project / "poetry.lock").is_file()
    assert (project / ".venv" / "bin" / "python").is_file()
    make(project, "train")
    output = make(project, "test")
    assert " passed" in output and " failed" not in output
