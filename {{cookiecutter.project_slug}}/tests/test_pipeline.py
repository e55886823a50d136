"""End to end: the CLI runs every stage on the full sample data; the model is useful."""

import json

import pytest

from {{ cookiecutter.package_name }}.cli import main

from .conftest import CONFIG_DIR


@pytest.mark.parametrize(
    "model", sorted(path.stem for path in (CONFIG_DIR / "model").glob("*.yaml"))
)
def test_all_stages_train_a_useful_model(make_settings, model):
    make_settings()  # isolates paths and tracking in a temporary folder
    overrides = ["train.cv_folds=2"]
    if model == "random_forest":
        overrides.append("model.n_estimators=50")
    code = main(["all", f"model={model}", *overrides, "--config-dir", str(CONFIG_DIR)])
    assert code == 0
    with open("reports/metrics.json", encoding="utf-8") as handle:
        metrics = json.load(handle)
{%- if cookiecutter.task == 'classification' %}
    assert metrics["accuracy"] > 0.9
    assert metrics["roc_auc"] > 0.95
{%- else %}
    assert metrics["r2"] > 0.3
{%- endif %}
