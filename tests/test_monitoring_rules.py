"""Fast tier: the Prometheus alert rules, their unit tests and the Grafana dashboard.

`promtool` (Debian's `prometheus` package; `.ci/run` installs it) checks the rules and
the scrape config of a bake and runs the rules' own unit tests (alerts.test.yml).
Skipped locally when promtool is missing, a failure under CI=true.
"""

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from bakery import answers_for, bake, run

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Metrics the rules and the dashboard may use: the service's /metrics (issue 10, C).
SERVICE_METRICS = {
    "up",
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "model_info",
    "model_ready",
    "prediction_log_records_total",
    "prediction_log_dropped_total",
    "prediction_log_errors_total",
    "feature_drift_psi",
    "prediction_drift_psi",
    "feature_missing_ratio",
    "feature_unknown_category_ratio",
    "drift_window_rows",
    "predicted_class_total",
    "predicted_value_bucket",
    "shadow_scored_total",
    "shadow_agreement_ratio",
    "shadow_errors_total",
}
ALERTS = {
    "ModelServiceDown",
    "ModelNotReady",
    "HighErrorRate",
    "HighLatencyP95",
    "FeatureDrift",
    "PredictionDrift",
    "PredictionLogDropping",
    "PredictionLogFailing",
    "ShadowFailing",
    "ShadowDisagrees",
}


def promtool() -> str:
    """The promtool binary; skip (fail in CI) without it."""
    found = shutil.which("promtool")
    if found:
        return found
    message = "promtool is not installed: apt-get install prometheus (see .ci/run)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory) -> Path:
    """deploy/monitoring/ of a bake with an odd project name (job label, JSON title)."""
    answers = answers_for(project_name="Churn.Model_Service", task="regression")
    return bake(tmp_path_factory.mktemp("monitoring"), answers) / "deploy/monitoring"


def test_rules_and_config_pass_promtool_checks(monitoring):
    for command in (["check", "rules", "alerts.yml"], ["check", "config"]):
        args = command + (["prometheus.yml"] if command[1] == "config" else [])
        result = run([promtool(), *args], cwd=monitoring)
        assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_fires_when_it_should_in_promtool_unit_tests(monitoring):
    result = run([promtool(), "test", "rules", "alerts.test.yml"], cwd=monitoring)
    assert result.returncode == 0, result.stdout + result.stderr
    tests = yaml.safe_load((monitoring / "alerts.test.yml").read_text("utf-8"))
    tested = {
        case["alertname"]
        for group in tests["tests"]
        for case in group["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert tested == ALERTS - {"PredictionLogFailing"}


def _metrics_of(expression: str) -> set[str]:
    """Metric names an expression selects (names followed by { or [)."""
    return set(re.findall(r"\b([a-z_]+)\s*[{\[]", expression)) - {"by", "le"}


def test_rules_and_dashboard_use_only_the_service_metrics(monitoring):
    rules = yaml.safe_load((monitoring / "alerts.yml").read_text("utf-8"))
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    assert set(alerts) == ALERTS
    used = set().union(*(_metrics_of(r["expr"]) for r in alerts.values()))
    path = monitoring / "grafana" / "dashboards" / "service.json"
    dashboard = json.loads(path.read_text("utf-8"))
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used |= set().union(*(_metrics_of(e) for e in expressions))
    assert used <= SERVICE_METRICS, used - SERVICE_METRICS
    assert dashboard["title"].startswith("Churn.Model_Service")
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_compose_profile_starts_prometheus_and_grafana_with_pinned_images(tmp_path):
    project = bake(tmp_path, answers_for())
    compose = yaml.safe_load((project / "docker-compose.yml").read_text("utf-8"))
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        image = services[name]["image"]
        assert re.search(r":v?\d+\.\d+\.\d+$", image), image
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (project / source).exists(), source
    assert "profiles" not in services["api"]
    assert "prediction-logs:/app/logs" in services["api"]["volumes"]
    assert "prediction-logs" in compose["volumes"]


def test_without_the_service_there_is_nothing_to_monitor(tmp_path):
    project = bake(
        tmp_path, answers_for(use_fastapi="no", use_docker="no", use_locust="no")
    )
    assert not (project / "deploy").exists()
