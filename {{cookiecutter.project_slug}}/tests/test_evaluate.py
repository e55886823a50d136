"""Evaluation on the held-out split: metrics, plots, and a dummy to beat."""

import json
import logging
import math

import pytest

from {{ cookiecutter.package_name }} import evaluate
from {{ cookiecutter.package_name }}.artifacts import ArtifactError
from {{ cookiecutter.package_name }}.errors import StageError
from {{ cookiecutter.package_name }}.task import for_contract

from .conftest import CASES, assert_beats_dummy, dummy_metrics, rooted, split


@pytest.mark.parametrize("case", list(CASES))
def test_the_model_beats_the_dummy_on_the_test_split(trained, case):
    run = trained(case)
    settings, metrics = run.settings, run.metrics
    task = for_contract(settings.data)
    assert set(metrics) == set(task.metrics)
    assert not any(math.isnan(value) for value in metrics.values()), metrics
    metric = task.primary(settings.train.primary_metric)
    assert_beats_dummy(settings, metric, metrics, dummy_metrics(settings))


def test_evaluate_names_the_baseline_and_warns_when_not_beaten(trained, caplog):
    run = trained("default")
    settings = run.settings
    terms = settings.data.contract()
    features, target = split(settings, "test")
    task = for_contract(terms)
    metric = task.primary(settings.train.primary_metric)
    with caplog.at_level(logging.INFO):
        evaluate._against_baseline(settings, terms, run.metrics, features, target)
    assert "Baseline (Dummy" in caplog.text and "beats it" in caplog.text
    caplog.clear()
    worst = float("inf") if task.better(metric, 0.0, 1.0) else float("-inf")
    evaluate._against_baseline(settings, terms, {metric: worst}, features, target)
    assert "does not beat the baseline's" in caplog.text
    says = "the class shares" if terms.task == "classification" else "the mean"
    assert f"no better than predicting {says}" in caplog.text


@pytest.mark.parametrize("case", list(CASES))
def test_metrics_and_plots_are_written(trained, case):
    settings, metrics = trained(case).settings, trained(case).metrics
    written = json.loads(settings.paths.metrics_file.read_text(encoding="utf-8"))
    model = json.loads(settings.paths.metadata_file.read_text(encoding="utf-8"))
    assert written.pop("model_sha256") == model["model_sha256"]
    assert written == pytest.approx(metrics)
    reports = settings.paths.reports_dir
    figures = {path.name for path in (reports / "figures").glob("*.png")}
    task = for_contract(settings.data)
    if task.name == "regression":
        assert figures == {"residuals.png"}
    elif task.binary:
        assert figures == {"confusion_matrix.png", "roc_curve.png"}
    else:
        assert figures == {"confusion_matrix.png"}
    assert all((reports / "figures" / name).stat().st_size > 1000 for name in figures)


def test_a_model_of_another_contract_is_not_evaluated(trained):
    settings = trained("breast_cancer").settings
    root = settings.paths.model_dir.parent
    other = rooted(root, ["data=diabetes", "model=random_forest"])
    assert other.paths.model_file == settings.paths.model_file
    with pytest.raises(StageError, match=r"another contract .*\(data=breast_cancer\)"):
        evaluate.run(other)


def test_a_model_other_than_the_one_asked_for_is_not_evaluated(trained):
    settings = trained("breast_cancer").settings
    assert settings.model.name == "random_forest"
    root = settings.paths.model_dir.parent
    asked = rooted(root, ["data=breast_cancer", "model=logistic_regression"])
    assert asked.paths.model_file == settings.paths.model_file
    before = settings.paths.metrics_file.read_bytes()
    with pytest.raises(StageError) as refused:
        evaluate.run(asked)
    message = str(refused.value)
    assert "is a random_forest model, not model=logistic_regression" in message
    assert "evaluate this one with model=random_forest" in message
    assert settings.paths.metrics_file.read_bytes() == before


def test_a_model_trained_with_other_parameters_is_not_evaluated(trained):
    # `make train ARGS="model=random_forest_tuned"`, then evaluate model=random_forest:
    # the tuned config keeps the model's name.
    settings = trained("breast_cancer").settings
    metadata = json.loads(settings.paths.metadata_file.read_text(encoding="utf-8"))
    trees = metadata["params"]["n_estimators"]
    evaluate.check_model(settings, metadata)  # the same: nothing to say
    champion = {
        **metadata,
        "params": {k: str(v) for k, v in metadata["params"].items()},
    }
    evaluate.check_model(settings, champion)  # parameters read back as text
    tuned = {**metadata, "params": {**metadata["params"], "n_estimators": trees + 7}}
    with pytest.raises(StageError) as refused:
        evaluate.check_model(settings, tuned)
    assert f"n_estimators {trees + 7} (trained) vs {trees}" in str(refused.value)


def test_evaluate_without_a_model_explains_what_to_run(prepared):
    with pytest.raises(ArtifactError, match="make train"):
        evaluate.run(prepared)
