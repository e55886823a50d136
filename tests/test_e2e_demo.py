"""End-to-end tier: `make demo`, the template README's first command.

It bakes the default answers into a fresh directory, installs, trains, evaluates,
exports, serves in the background, sends the example request, runs a 10 s load test
with its gates and stops the service (scripts/demo.sh). The test checks each step's
evidence in the output, and that the service is gone afterwards.
"""

import json
import re
import shutil
import socket

import pytest
from test_e2e import figure, project_env

from bakery import TEMPLATE_DIR, run

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("make") is None, reason="needs make"),
]


def test_make_demo_shows_the_whole_loop(tmp_path):
    """`make demo` answers a prediction, passes a load test, stops its service."""
    demo_dir = tmp_path / "demo"
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
