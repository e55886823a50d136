"""End-to-end tier: bake, install with the generated `make install`, run its targets.

These tests talk to the package index (installers) and take minutes; `-m "not e2e"`
skips them.
"""

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
from pathlib import Path

import pytest
import yaml

from bakery import all_off, answers_for, bake, run
from workflows import load_workflow, run_job

pytestmark = pytest.mark.e2e
TOOLS_BIN = Path(sys.executable).parent
LOCK_FILES = {"poetry.lock", "uv.lock"}


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
    they are new after a run until committed, so they are left out too, with dvc.lock.
    """
    status = run(["git", "status", "--porcelain", "-uall"], cwd=project).stdout
    paths = {line[3:] for line in status.splitlines()}
    if (project / "dvc.yaml").is_file():
        paths = {p for p in paths if not re.fullmatch(r"reports/.*\.(json|csv)", p)}
        paths.discard("dvc.lock")
    return paths - LOCK_FILES


def check_project_end_to_end(project: Path, installer: str) -> dict:
    """install, lint, train, evaluate, test; return the evaluation metrics."""
    make(project, "install", f"INSTALLER={installer}")
    assert (project / ".git" / "hooks" / "pre-commit").is_file()
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
    return json.loads((project / "reports" / "metrics.json").read_text("utf-8"))


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_default_bake_runs_end_to_end_with_uv(tmp_path):
    project = bake(tmp_path, answers_for())
    metrics = check_project_end_to_end(project, "uv")
    assert metrics["accuracy"] > 0.9
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


def check_serving(project: Path) -> None:
    """make serve on a free port: every endpoint, every bad input, predict, loadtest."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Its own session, so the server (make's child) is stopped with make.
    server = subprocess.Popen(
        ["make", "serve", f"PORT={port}"],
        cwd=project,
        env=project_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if call(f"{base}/health")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stdout.read().decode()
            assert time.monotonic() < deadline, "make serve: no answer in 120 s"
            time.sleep(0.2)
        status, body = call(f"{base}/ready")
        assert status == 200, body
        status, body = call(f"{base}/metadata")
        metadata = json.loads(body)
        assert metadata["format"] in {"native", "onnx"} and metadata["metrics"]
        spec = json.loads(call(f"{base}/openapi.json")[1])
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
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


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


def check_dvc_pipeline_and_registry(project: Path) -> None:
    """make pipeline from scratch; dvc status, push, pull in a clone; an override."""
    make(project, "clean")
    # From scratch means without DVC's run cache too: the CI steps already ran the
    # pipeline, and DVC would restore its results instead of running the stages.
    shutil.rmtree(project / ".dvc" / "cache", ignore_errors=True)
    output = make(project, "pipeline")
    for stage in ("data", "features", "train", "evaluate", "export"):
        assert f"Running stage '{stage}'" in output
    assert "Promotion of" in output
    assert "Data and pipelines are up to date." in tool(project, "dvc", "status")
    # params.yaml as generated is conf/ composed: the pipeline left it unchanged.
    new = git_changes(project)
    assert {"dvc.lock", "reports/metrics.json", "reports/export.json"} <= new
    assert {p for p in new if not p.startswith("reports/")} <= {"dvc.lock"} | LOCK_FILES
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
    print(f"test metrics: default {before}; dvc exp run {overrides}: {after}")

    # The registry: a champion that loads by alias; `make promote` re-decides.
    registry = tool(project, "python", "-c", CHAMPION)
    assert re.search(r"^champion \d+ .+ 114$", registry, re.M), registry
    assert "Promotion of my-mlops-project version" in make(project, "promote")

    # Back to conf/: the run cache restores the committed results, byte for byte.
    make(project, "pipeline")
    assert git_changes(project) == set()


def check_onnx_artifacts(project: Path) -> None:
    """Parity figures; int8 and ORT models load in the edge predictor; benchmark."""
    report = json.loads((project / "reports" / "export.json").read_text("utf-8"))
    assert report["parity"]["label_mismatches"] == 0
    assert report["parity"]["max_abs_diff"] <= report["parity"]["atol"]
    print(f"ONNX parity {report['parity']}, quantization {report['quantization']}")
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
    print(make(project, "benchmark-onnx"))


BIG_FILE = """
import sys
import pandas as pd
rows = pd.read_csv("data/raw/breast_cancer.csv")
big = pd.concat([rows] * (200_000 // len(rows) + 1)).head(200_000)
first = big.columns[0]
big[first] = big[first].astype(object)
big.iloc[1000, 0] = "oops"
big.to_csv(sys.argv[1], index=False)
big.head(20_000).to_csv(sys.argv[2], index=False)
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
    for name, source in (("20k", small), ("200k", big)):
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
        )
        peaks[name] = int(re.search(r"peak_rss_mb (\d+)", output).group(1))
        seconds = time.monotonic() - start
    scored = project / "scored-200k.csv"
    assert sum(1 for _ in scored.open(encoding="utf-8")) == 200_000  # header + 199,999
    rejects = (project / "scored-200k.rejects.csv").read_text("utf-8").splitlines()
    assert len(rejects) == 2 and rejects[1].startswith("1002,")
    print(f"batch scoring peak RSS (MB) for 20,000 and 200,000 rows: {peaks}")
    print(f"200,000 rows scored in {seconds:.1f} s (process start included)")
    assert peaks["200k"] - peaks["20k"] < 60, peaks


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
            print(f"ci.yml {job}: {step}: {outcome}")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_all_off_regression_bake_runs_end_to_end_with_pip(tmp_path):
    project = bake(tmp_path, all_off(task="regression"))
    metrics = check_project_end_to_end(project, "pip")
    assert metrics["r2"] > 0.3
    assert not (project / "mlflow.db").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
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
