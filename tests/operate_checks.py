"""Checks of issue 10's operations side, called by the end-to-end test of a baked,
installed and trained project (tests/test_e2e_operate.py).

- `check_canary(project)`: three local services on 127.0.0.1 (stable, a second process
  of the same model as a good canary, and a deliberately bad canary serving a constant
  model saved with the same contract); the same traffic to each; the project's canary
  script must promote the good one (exit 0) and roll back the bad one (exit 1).
- `check_rules(project)`: `promtool` checks and unit-tests the bake's alert rules.
Every process started here is stopped by its PID in `finally`.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from test_e2e import call, free_port, project_env

# A constant model with the served model's contract: run with the project's python.
BAD_MODEL = """
import sys
from pathlib import Path

import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.pipeline import Pipeline

from {package} import artifacts

out = Path(sys.argv[1])
models = Path("models")
bundle = artifacts.Bundle.load(models / "model.joblib", models / "metadata.json")
contract = bundle.contract
example = bundle.metadata["example"]
if contract.task == "classification":
    labels = sorted(bundle.pipeline.classes_.tolist())
    model = DummyClassifier(strategy="constant", constant=labels[0])
    target = labels
else:
    model = DummyRegressor(strategy="constant", constant=-1e6)
    target = [0.0, 1.0]
frame = pd.DataFrame([example] * len(target))[list(contract.feature_names)]
pipeline = Pipeline([("constant", model)]).fit(frame, target)
metadata = {{k: v for k, v in bundle.metadata.items() if k != "model_sha256"}}
metadata["model_name"] = "constant (deliberately bad)"
metadata.pop("mlflow", None)
out.mkdir(parents=True, exist_ok=True)
artifacts.save(pipeline, metadata, out / "model.joblib", out / "metadata.json")
"""
REQUESTS = 120
ROWS_PER_REQUEST = 4


def _package(project: Path) -> str:
    (package,) = [p.name for p in (project / "src").iterdir() if p.is_dir()]
    return package


def _environment(project: Path, **settings: str) -> dict[str, str]:
    """A user's shell without this package's serving variables, log off unless set."""
    prefix = _package(project).upper() + "_"
    env = {k: v for k, v in project_env().items() if not k.startswith(prefix)}
    # The prediction log of these services is not the monitor test's traffic.
    env[prefix + "PREDICTION_LOG"] = "off"
    env.update({prefix + key.upper(): value for key, value in settings.items()})
    return env


@contextmanager
def service(project: Path, name: str, **settings: str):
    """uvicorn on a free 127.0.0.1 port with these serving settings, until /ready;
    yield its base URL; stopped by its PID."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = project.parent / f"serve-{name}-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(project / ".venv" / "bin" / "uvicorn"),
                f"{_package(project)}.serving.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=project,
            env=_environment(project, **settings),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if call(f"{base}/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, log.read_text("utf-8", "replace")[-4000:]
            assert time.monotonic() < deadline, f"{name}: not ready in 120 s"
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _rows(project: Path, contract: dict) -> list[dict]:
    """Rows of the test split as JSON values of the contract's kinds."""
    features = contract["features"]
    rows = []
    path = project / "data" / "processed" / "test.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            row = {}
            for name, feature in features.items():
                text = record[name]
                if text == "":
                    row[name] = None
                elif feature["kind"] in ("numeric", "integer"):
                    row[name] = float(text)
                elif feature["kind"] == "boolean":
                    row[name] = text.strip().lower() in {"true", "1", "yes"}
                else:
                    row[name] = text
            rows.append(row)
    return rows


def _traffic(bases: list[str], rows: list[dict]) -> None:
    """The same requests, in the same order, to every service."""
    for number in range(REQUESTS):
        start = (number * ROWS_PER_REQUEST) % max(len(rows) - ROWS_PER_REQUEST, 1)
        body = json.dumps({"instances": rows[start : start + ROWS_PER_REQUEST]})
        for base in bases:
            status, answer = call(f"{base}/predict", body.encode())
            assert status == 200, f"{base}: {status} {answer[:300]!r}"


def _counted(base: str, rows: int, seconds: float = 15.0) -> None:
    """Wait until a service's prediction counters (counted off the request path) hold
    the rows sent, at most `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = call(f"{base}/metrics")[1].decode("utf-8", "replace")
        counted = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(("predicted_class_total{", "predicted_value_count"))
        )
        if counted >= rows:
            return
        time.sleep(0.2)


def _canary(project: Path, stable: str, canary: str, out: Path) -> tuple[int, dict]:
    result = subprocess.run(
        [
            str(project / ".venv" / "bin" / "python"),
            "-m",
            _package(project),
            "canary",
            "--stable",
            stable,
            "--canary",
            canary,
            "--out",
            str(out),
        ],
        cwd=project,
        env=_environment(project),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.is_file(), result.stdout + result.stderr
    return result.returncode, json.loads(out.read_text(encoding="utf-8"))


def check_canary(project: Path) -> dict:
    """The canary script passes a good canary and fails a constant model; figures."""
    started = time.monotonic()
    bad = project / "build" / "canary-bad"
    python = str(project / ".venv" / "bin" / "python")
    script = BAD_MODEL.format(package=_package(project))
    made = subprocess.run(
        [python, "-c", script, str(bad)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    with ExitStack() as stack:
        stable = stack.enter_context(service(project, "stable"))
        good = stack.enter_context(service(project, "good"))
        worse = stack.enter_context(
            service(
                project,
                "bad",
                model_path=str(bad / "model.joblib"),
                metadata_path=str(bad / "metadata.json"),
                model_format="native",
            )
        )
        status, body = call(f"{stable}/metadata")
        assert status == 200, body
        rows = _rows(project, json.loads(body)["contract"])
        _traffic([stable, good, worse], rows)
        for base in (stable, good, worse):
            _counted(base, REQUESTS * ROWS_PER_REQUEST)
        reports = project / "build"
        good_code, good_report = _canary(
            project, stable, good, reports / "canary-good.json"
        )
        bad_code, bad_report = _canary(
            project, stable, worse, reports / "canary-bad.json"
        )
    assert good_code == 0, good_report
    assert bad_code == 1, bad_report
    assert "prediction PSI" in bad_report["reason"], bad_report["reason"]

    def psi(report: dict) -> float:
        return next(c for c in report["checks"] if c["check"] == "prediction PSI")[
            "canary"
        ]

    return {
        "canary_psi_good": psi(good_report),
        "canary_psi_bad": psi(bad_report),
        "canary_p95_ms": (
            good_report["stable"]["p95_ms"],
            good_report["canary"]["p95_ms"],
        ),
        "canary_seconds": round(time.monotonic() - started, 1),
    }


def check_rules(project: Path) -> None:
    """promtool accepts the bake's rules and config and passes their unit tests."""
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool is not installed (apt-get install prometheus; .ci/run)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    monitoring = project / "deploy" / "monitoring"
    for args in (
        ["check", "rules", "alerts.yml"],
        ["check", "config", "prometheus.yml"],
        ["test", "rules", "alerts.test.yml"],
    ):
        result = subprocess.run(
            [promtool, *args], cwd=monitoring, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
