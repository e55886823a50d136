"""End-to-end tier: bake, install with the generated `make install`, run its own targets.

These tests talk to the package index (installers) and take minutes; `-m "not e2e"`
skips them.
"""

import json
import os
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

from bakery import all_off, answers_for, bake, run

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
    result = run(
        ["make", *targets], cwd=project, env=project_env(), timeout=timeout
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"make {' '.join(targets)} failed:\n{output[-6000:]}"
    return output


def untracked_or_changed(project: Path) -> set[str]:
    """Files git sees as changed or new, apart from lock files the installers write."""
    status = run(["git", "status", "--porcelain"], cwd=project).stdout
    paths = {line[3:] for line in status.splitlines()}
    return paths - LOCK_FILES


def check_project_end_to_end(project: Path, installer: str) -> dict:
    """install, lint, train, evaluate, test; return the evaluation metrics."""
    make(project, "install", f"INSTALLER={installer}")
    assert (project / ".git" / "hooks" / "pre-commit").is_file()
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
    assert untracked_or_changed(project) == set()


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
