"""The task strategy: metrics, their direction, outputs and plots for each task."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.dummy import DummyClassifier, DummyRegressor

from {{ cookiecutter.package_name }} import train
from {{ cookiecutter.package_name }}.settings import Contract
from {{ cookiecutter.package_name }}.task import (
    Classification,
    Regression,
    for_contract,
)

from .conftest import FOREST, split

FEATURES = {"x": {"kind": "numeric"}}


def contract(**terms) -> Contract:
    """A one-feature contract with the given task, classes..."""
    return Contract.model_validate({"target": "y", "features": FEATURES, **terms})


BINARY = contract(
    task="classification", classes=["malignant", "benign"], positive_class="malignant"
)
THREE = contract(task="classification", classes=["setosa", "virginica", "versicolor"])
REGRESSION = contract(task="regression")


def test_the_contract_picks_the_task():
    assert isinstance(for_contract(BINARY), Classification)
    assert isinstance(for_contract(REGRESSION), Regression)
    three = for_contract(THREE)
    assert three.labels == ("setosa", "versicolor", "virginica")  # sorted
    assert not three.binary and three.positive is None
    assert for_contract(BINARY).binary


def test_positive_class_defaults_to_the_last_class():
    assert BINARY.positive == "malignant"
    assert contract(task="classification", classes=[0, 1]).positive == 1
    assert contract(task="classification", classes=["no", "yes"]).positive == "yes"


def test_binary_metrics_score_the_positive_class_of_string_labels():
    task = for_contract(BINARY)
    assert task.labels == ("benign", "malignant")
    y_true = np.array(["malignant", "malignant", "benign", "benign", "benign"])
    # Probability columns in `labels` order: benign, malignant.
    malignant = np.array([0.9, 0.4, 0.6, 0.2, 0.1])
    probabilities = np.column_stack([1 - malignant, malignant])
    y_pred = np.array(["malignant", "benign", "malignant", "benign", "benign"])
    metrics = task.compute(
        y_true, {"prediction": y_pred, "probabilities": probabilities}
    )
    assert metrics["precision"] == 0.5  # of two predicted malignant, one is
    assert metrics["recall"] == 0.5  # of two malignant, one is found
    assert metrics["accuracy"] == 0.6
    expected_auc = skm.roc_auc_score(y_true == "malignant", malignant)
    assert metrics["roc_auc"] == pytest.approx(expected_auc)
    assert expected_auc != pytest.approx(
        skm.roc_auc_score(y_true == "benign", malignant)
    )
    # The area under the precision-recall curve of the positive class.
    expected_ap = skm.average_precision_score(y_true == "malignant", malignant)
    assert metrics["average_precision"] == pytest.approx(expected_ap)
    one_class = task.compute(
        y_true[2:], {"prediction": y_pred[2:], "probabilities": probabilities[2:]}
    )
    assert math.isnan(one_class["roc_auc"])
    assert math.isnan(one_class["average_precision"])


def test_multiclass_metrics_are_macro_averaged_and_defined():
    task = for_contract(THREE)
    rng = np.random.default_rng(0)
    y_true = np.array(task.labels * 10, dtype=object)
    probabilities = rng.dirichlet([1, 1, 1], size=len(y_true))
    probabilities[np.arange(len(y_true)) % 3 == 0, 0] += 1.0  # some signal
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    y_pred = np.asarray(task.labels, dtype=object)[probabilities.argmax(axis=1)]
    metrics = task.compute(
        y_true, {"prediction": y_pred, "probabilities": probabilities}
    )
    assert set(metrics) == set(task.metrics)
    assert not any(math.isnan(value) for value in metrics.values())
    assert metrics["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))
    assert metrics["recall"] == pytest.approx(
        skm.recall_score(y_true, y_pred, average="macro")
    )
    assert metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro")
    )
    assert metrics["average_precision"] == pytest.approx(
        np.mean(
            [
                skm.average_precision_score(y_true == label, probabilities[:, i])
                for i, label in enumerate(task.labels)
            ]
        )
    )


def test_multiclass_auc_averages_the_classes_the_rows_hold():
    # A class too rare to be in every cross-validation fold: AUC stays defined.
    task = for_contract(THREE)
    rng = np.random.default_rng(1)
    y_true = np.array(["setosa", "virginica"] * 20, dtype=object)
    probabilities = rng.dirichlet([1, 1, 1], size=len(y_true))
    y_pred = np.asarray(task.labels, dtype=object)[probabilities.argmax(axis=1)]
    metrics = task.compute(
        y_true, {"prediction": y_pred, "probabilities": probabilities}
    )
    expected = [
        skm.roc_auc_score(y_true == label, probabilities[:, task.labels.index(label)])
        for label in ("setosa", "virginica")
    ]
    assert metrics["roc_auc"] == pytest.approx(np.mean(expected))
    one_class = task.compute(
        y_true[:1], {"prediction": y_pred[:1], "probabilities": probabilities[:1]}
    )
    assert math.isnan(one_class["roc_auc"])


def test_outputs_keep_every_class_column_when_a_model_never_saw_one():
    task = for_contract(THREE)
    rows = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    seen = DummyClassifier(strategy="prior").fit(rows, ["setosa", "virginica"] * 2)
    outputs = task.outputs(seen, rows)
    assert outputs["probabilities"].shape == (4, 3)
    np.testing.assert_allclose(outputs["probabilities"][:, 1], 0.0)  # versicolor
    np.testing.assert_allclose(outputs["probabilities"].sum(axis=1), 1.0)
    assert set(outputs["prediction"]) <= {"setosa", "virginica"}


def test_regression_metrics_keep_their_sign():
    task = for_contract(REGRESSION)
    y_true = np.array([1.0, 2.0, 3.0, 4.0])
    metrics = task.compute(y_true, {"prediction": np.array([4.0, 3.0, 2.0, 1.0])})
    assert metrics["r2"] < 0
    assert metrics["rmse"] == pytest.approx(math.sqrt(5.0))
    assert metrics["mae"] == 2.0
    perfect = task.compute(y_true, {"prediction": y_true})
    assert perfect == {"rmse": 0.0, "mae": 0.0, "r2": 1.0}


def test_a_bad_model_gets_a_negative_cross_validated_r2(make_settings, monkeypatch):
    from {{ cookiecutter.package_name }} import data, features

    settings = make_settings("data=diabetes", *FOREST)
    data.run(settings)
    features.run(settings)
    rows, target = split(settings, "train")
    far_off = DummyRegressor(strategy="constant", constant=float(target.max()) * 3)
    monkeypatch.setattr(train, "build_pipeline", lambda settings: far_off)
    metrics = train.cross_validation_metrics(settings, rows, target)
    assert metrics["cv_r2"] < 0
    assert metrics["cv_rmse"] > 0 and metrics["cv_mae"] > 0
    assert metrics["cv_rmse"] >= metrics["cv_mae"]


@pytest.mark.parametrize("terms", [BINARY, THREE])
def test_classification_metrics_are_higher_is_better(terms):
    task = for_contract(terms)
    for name in task.metrics:
        assert task.better(name, 0.9, 0.8)
        assert task.better(f"cv_{name}", 0.9, 0.8)
        assert not task.better(f"test_{name}", 0.8, 0.9)
        assert not task.better(name, 0.8, 0.8)  # strictly better


def test_regression_errors_are_lower_is_better_and_r2_higher():
    task = for_contract(REGRESSION)
    assert task.better("rmse", 40.0, 50.0) and task.better("cv_mae", 1.0, 2.0)
    assert not task.better("test_rmse", 50.0, 40.0)
    assert task.better("cv_r2", 0.3, -0.5)
    assert not task.better("cv_r2", -0.5, 0.3)  # never by absolute value
    assert not task.better("rmse", 40.0, 40.0)


def test_primary_metric_defaults_by_task():
    assert for_contract(BINARY).primary(None) == "roc_auc"
    assert for_contract(REGRESSION).primary(None) == "rmse"
    assert for_contract(REGRESSION).primary("mae") == "mae"


def test_batch_columns_name_each_class():
    task = for_contract(THREE)
    probabilities = np.array([[0.2, 0.3, 0.5]])
    outputs = {"prediction": np.array(["virginica"]), "probabilities": probabilities}
    columns = task.columns(outputs)
    assert (
        tuple(columns)
        == task.output_columns()
        == (
            "prediction",
            "probability_setosa",
            "probability_versicolor",
            "probability_virginica",
        )
    )
    assert columns["probability_virginica"][0] == 0.5
    assert for_contract(REGRESSION).output_columns() == ("prediction",)


def plotted(terms: Contract, y_true, outputs: dict, reports) -> tuple[set, set]:
    """(figures, plot data files) written for the task."""
    figures = for_contract(terms).plots(y_true, outputs, reports)
    assert all(path.stat().st_size > 1000 for path in figures)
    return (
        {path.name for path in (reports / "figures").iterdir()},
        {path.name for path in (reports / "plots").iterdir()},
    )


def test_plots_follow_the_task(tmp_path):
    reports = tmp_path / "reports"
    y_true = np.array(["setosa", "versicolor", "virginica", "setosa"], dtype=object)
    three = {"prediction": y_true, "probabilities": np.eye(3)[[0, 1, 2, 0]]}
    assert plotted(THREE, y_true, three, reports) == (
        {"confusion_matrix.png"},
        {"confusion.csv"},
    )
    confusion = pd.read_csv(reports / "plots" / "confusion.csv")
    assert set(confusion["actual"]) == set(y_true)

    y_true = np.array(["benign", "malignant", "malignant", "benign"], dtype=object)
    binary = {"prediction": y_true, "probabilities": np.eye(2)[[0, 1, 1, 0]]}
    assert plotted(BINARY, y_true, binary, reports) == (
        {"confusion_matrix.png", "roc_curve.png"},
        {"confusion.csv", "roc.csv"},
    )

    values = np.array([1.0, 2.0, 3.0])
    # A previous task's plots do not linger.
    assert plotted(REGRESSION, values, {"prediction": values + 0.5}, reports) == (
        {"residuals.png"},
        {"residuals.csv"},
    )
    residuals = pd.read_csv(reports / "plots" / "residuals.csv")
    assert residuals["residual"].tolist() == [-0.5, -0.5, -0.5]
