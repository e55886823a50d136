"""Evaluation writes sane metrics and the plots for the task."""

import json

import pytest

from {{ cookiecutter.package_name }} import evaluate, train


def test_evaluate_writes_metrics_and_plots(prepared):
    train.run(prepared)
    metrics = evaluate.run(prepared)

    written = json.loads(prepared.paths.metrics_file.read_text(encoding="utf-8"))
    assert written == pytest.approx(metrics)
    assert prepared.train.primary_metric in metrics
{%- if cookiecutter.task == 'classification' %}
    for name in ("accuracy", "f1", "precision", "recall", "roc_auc"):
        assert 0.0 <= metrics[name] <= 1.0
    figures = ["confusion_matrix.png", "roc_curve.png"]
    plots = ["confusion.csv", "roc.csv"]
{%- else %}
    assert metrics["rmse"] > 0 and metrics["mae"] > 0
    assert metrics["r2"] <= 1.0
    figures = ["residuals.png"]
    plots = ["residuals.csv"]
{%- endif %}
    for name in figures:
        assert (prepared.paths.reports_dir / "figures" / name).stat().st_size > 1000
    for name in plots:
        assert (prepared.paths.reports_dir / "plots" / name).is_file()
{%- if cookiecutter.task == 'classification' %}


def test_perfect_predictions_score_one():
    import numpy as np

    y = np.array([0, 1, 1, 0, 1])
    metrics = evaluate.compute_metrics(y, y, y.astype(float))
    assert metrics == {name: 1.0 for name in metrics}
{%- else %}


def test_perfect_predictions_have_no_error():
    import numpy as np

    y = np.array([1.0, 2.0, 3.5, 4.0])
    metrics = evaluate.compute_metrics(y, y)
    assert metrics == {"rmse": 0.0, "mae": 0.0, "r2": 1.0}
{%- endif %}


def test_evaluate_without_a_model_explains_what_to_run(prepared):
    with pytest.raises(FileNotFoundError, match="make train"):
        evaluate.run(prepared)
