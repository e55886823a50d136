"""End-to-end tier: `make demo` (the template README's first command), then, on the
project it baked, installed, trained and exported, issue 10 "Operate the model": served
with its prediction log on and a shadow model; normal traffic, then traffic with ONE
feature shifted. `make monitor` must flag that feature
and no other (exit 1), its drift gauge in /metrics must rise above the others', and
the shadow's agreement must show in summary.json and /metrics. Then the operations
checks (canary script, alert rules) of tests/operate_checks.py.

Lean on purpose: the demo's bake, install and training serve both; a small training
run (logistic regression, two folds) for the shadow; bounded waits. The figures
(PSI of the shifted and unshifted features, agreement, monitor wall time) print with
`-rA`.
"""

import json
import re
import socket
import time
from pathlib import Path

import operate_checks
import pytest
from test_e2e import (
    FIGURES,
    call,
    figure,
    needs_make,
    project_env,
    tool,
)

from bakery import TEMPLATE_DIR, run

pytestmark = pytest.mark.e2e
PACKAGE = "my_mlops_project"
# Rows per request, and requests per phase (normal, then shifted): each phase fills
# the service's drift window (drift_window, 1000 rows by default) on its own.
ROWS_PER_REQUEST = 20
REQUESTS = 60
# Reads the test split through the model's contract; prints JSON rows of the
# contract's kinds, as a client sends them. Run with the project's python.
TEST_ROWS = """
import json
from pathlib import Path

import pandas as pd
from my_mlops_project import artifacts, contract

models = Path("models")
bundle = artifacts.Bundle.load(models / "model.joblib", models / "metadata.json")
terms = bundle.contract
frame = pd.read_csv("data/processed/test.csv")
rows = contract.validate(terms, frame, target=False, strict=False)
numbers = [n for n, f in terms.features.items() if f.kind in ("numeric", "integer")]
print(json.dumps({
    "numbers": numbers,
    "rows": [
        {n: contract.json_value(terms.features[n], v) for n, v in r.items()}
        for r in rows[list(terms.feature_names)].to_dict("records")
    ],
}))
"""


def metric_values(base: str, name: str) -> dict[str, float]:
    """Samples of one metric in /metrics: label text (or "") -> value."""
    status, body = call(f"{base}/metrics")
    assert status == 200, body[:300]
    pattern = re.compile(rf"^{name}(?:\{{(.*)\}})? (\S+)$")
    found = {}
    for line in body.decode().splitlines():
        match = pattern.match(line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


def send(base: str, rows: list[dict]) -> None:
    """POST the rows to /predict, ROWS_PER_REQUEST at a time; every answer 200."""
    for start in range(0, len(rows), ROWS_PER_REQUEST):
        body = json.dumps({"instances": rows[start : start + ROWS_PER_REQUEST]})
        status, answer = call(f"{base}/predict", body.encode())
        assert status == 200, answer[:300]


def wait_for(check, what: str, seconds: float = 60.0):
    """Poll `check()` until it returns a truthy value; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s"
        time.sleep(0.5)


def moved(value):
    """A value far above the training range (integers stay integers)."""
    return None if value is None else value * 4 + 1


def drift_gauges(base: str) -> dict[str, float]:
    """feature_drift_psi per feature (those with a value)."""
    values = metric_values(base, "feature_drift_psi")
    named = {re.sub(r'^feature="(.*)"$', r"\1", k): v for k, v in values.items()}
    return {k: v for k, v in named.items() if v == v}


@needs_make
def test_demo_then_monitor_flags_the_one_shifted_feature(tmp_path, subtests):
    """`make demo`; then, on its project, serve with the log and a shadow; normal then
    shifted traffic; make monitor, /metrics, then the canary script and the alert
    rules. One test: the demo's install and training serve both parts."""
    FIGURES.clear()
    try:
        project = check_demo(tmp_path / "demo")
        with subtests.test("operate: prediction log, drift, shadow, canary, rules"):
            check_operate(project)
    finally:
        print("\n".join(["Figures of the run:", *FIGURES]))


def check_demo(demo_dir: Path) -> Path:
    """`make demo` answers a prediction, passes a load test, stops its service;
    return the demo's project (installed, trained, exported)."""
    result = run(
        ["make", "demo", f"DEMO_DIR={demo_dir}"],
        cwd=TEMPLATE_DIR,
        env=project_env(),
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    project = demo_dir / "my-mlops-project"

    steps = re.findall(r"==> \[\s*(\d+)s\] (.+?)\x1b", output)
    names = [name for _, name in steps]
    for expected in (
        "Install",
        "Train, evaluate, export",
        "Serve on",
        "Predict",
        "Load test",
    ):
        assert any(name.startswith(expected) for name in names), names
    figure(
        "make demo steps (s since start): " + "; ".join(f"{t} {n}" for t, n in steps)
    )

    # The example row was answered by the served model.
    answer = json.loads(re.search(r"^\{\n.*?^\}$", output, re.S | re.M).group(0))
    assert answer["predictions"] and answer["classes"], answer
    assert answer["model_version"].startswith("sha256:"), answer
    # The load test ran and its gates passed.
    passed = re.search(r"Load test passed: \d+ requests, no failure", output)
    assert passed, output[-3000:]
    assert (project / "reports" / "loadtest.html").is_file()
    assert (project / "models" / "model.onnx").is_file()
    assert (project / "mlflow.db").is_file()
    took = re.search(r"The whole loop took (\d+) s", output)
    assert took, output[-2000:]
    figure(f"make demo: {took.group(1)} s for the loop (bake and template venv apart)")
    assert "Where to look next" in output

    # The service was stopped: its port answers no more.
    port = int(re.search(r"Serve on http://127\.0\.0\.1:(\d+)", output).group(1))
    with socket.socket() as sock:
        sock.settimeout(2)
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the demo left its service up"
    assert (project / "reports" / "serve.log").is_file()
    # The generated test suite is `make test`'s job, not the demo's.
    assert not re.search(r"-m pytest\b|bin/pytest\b", output), "the demo ran pytest"
    return project


def check_operate(project: Path) -> None:
    """The operations part, on a trained and exported project."""
    # The shadow: another, cheaper model of the same data beside the served one.
    tool(
        project,
        "python",
        "-m",
        PACKAGE,
        "train",
        "model.C=0.05",
        "train.cv_folds=2",
        "paths.model_dir=build/shadow",
    )
    found = json.loads(tool(project, "python", "-c", TEST_ROWS).splitlines()[-1])
    rows, shifted_name = found["rows"], found["numbers"][0]
    traffic = (rows * (REQUESTS * ROWS_PER_REQUEST // len(rows) + 1))[
        : REQUESTS * ROWS_PER_REQUEST
    ]
    shifted = [{**row, shifted_name: moved(row[shifted_name])} for row in traffic]
    # Not the default directory: the demo's load test logged there.
    log_dir = project / "logs" / "operate"
    with operate_checks.service(
        project,
        "logged",
        prediction_log="jsonl",
        prediction_log_dir=str(log_dir),
        shadow_model_path="build/shadow/model.joblib",
    ) as base:
        send(base, traffic)
        wait_for(
            lambda: metric_values(base, "prediction_log_records_total").get("")
            == REQUESTS,
            "the normal traffic in the prediction log",
        )
        before = wait_for(lambda: drift_gauges(base), "feature_drift_psi gauges")
        send(base, shifted)
        wait_for(
            lambda: metric_values(base, "prediction_log_records_total").get("")
            == 2 * REQUESTS,
            "the shifted traffic in the prediction log",
        )
        after = wait_for(
            lambda: (g := drift_gauges(base)).get(shifted_name, 0) > 1.0 and g,
            f"feature_drift_psi of {shifted_name} rising",
        )
        agreement = metric_values(base, "shadow_agreement_ratio")[""]
    others = {name: value for name, value in after.items() if name != shifted_name}
    figure(
        f"/metrics feature_drift_psi: {shifted_name} {before[shifted_name]:.3f} "
        f"(normal) -> {after[shifted_name]:.3f} (shifted); highest other "
        f"{max(others.values()):.3f}; shadow_agreement_ratio {agreement:.3f}"
    )
    assert before[shifted_name] < 0.25
    assert after[shifted_name] > max(others.values())
    assert 0.0 <= agreement <= 1.0

    started = time.monotonic()
    monitored = run(
        ["make", "monitor", f"MONITOR_LOG={log_dir}"],
        cwd=project,
        env=project_env(),
        timeout=900,
    )
    seconds = time.monotonic() - started
    output = monitored.stdout + monitored.stderr
    # The command exits 1 over a threshold; make then says "Error 1" and exits 2.
    assert monitored.returncode != 0 and "Error 1" in output, output[-6000:]
    summary = json.loads(
        (project / "reports" / "monitor" / "summary.json").read_text("utf-8")
    )
    (version,) = summary["versions"].values()
    features = version["features"]
    flagged = {name for name, item in features.items() if item["over"]}
    assert flagged == {shifted_name}, (flagged, output[-3000:])
    assert f"feature '{shifted_name}'" in output
    psi = {name: item["psi"] for name, item in features.items()}
    unshifted = max(value for name, value in psi.items() if name != shifted_name)
    shadow = version["shadow"]
    assert shadow["rows"] == version["rows"] == 2 * REQUESTS * ROWS_PER_REQUEST
    assert 0.0 <= shadow["agreement"] <= 1.0
    assert Path(project / version["report"]["html"]).is_file()
    assert features[shifted_name]["evidently"]["drift"] is True
    figure(
        f"make monitor on {version['rows']} logged rows: {seconds:.1f} s; PSI "
        f"{shifted_name} {psi[shifted_name]:.3f}, highest unshifted {unshifted:.3f}; "
        f"shadow agreement {shadow['agreement']:.3f}; Evidently drifted columns "
        f"{version['report']['drifted_columns']}; reference "
        f"{summary['evidently_reference']}"
    )

    figure(f"canary: {operate_checks.check_canary(project)}")
    operate_checks.check_rules(project)  # skips when promtool is absent
