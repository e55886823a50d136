"""The task strategy: metrics and their direction, splitter, plots, output columns.

One code path per idea, chosen at run time from the contract (`data.task`): binary and
multiclass classification, and regression. Metric names are the same for binary and
multiclass (multiclass averages them over classes, "macro"), so a primary metric such as
`roc_auc` keeps its meaning when the dataset changes.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .settings import Contract


@dataclass(frozen=True)
class Metric:
    """A metric and the direction in which it improves."""

    name: str
    higher_is_better: bool = True


class Task:
    """What differs between tasks; `for_contract` picks the subclass."""

    name: str
    metrics: dict[str, Metric]
    default_metric: str
    # What `baseline` predicts, in words (messages).
    baseline_predicts: str

    def primary(self, configured: str | None) -> str:
        """The metric that ranks models: the configured one or the task's default."""
        return configured or self.default_metric

    def better(self, metric: str, value: float, than: float) -> bool:
        """Strictly better in the metric's direction (`cv_`/`test_` prefixes ok)."""
        name = metric.removeprefix("cv_").removeprefix("test_")
        if self.metrics[name].higher_is_better:
            return value > than
        return value < than

    def baseline(self) -> Any:
        """The model a trained one must beat, unfitted."""
        raise NotImplementedError

    def splitter(self, folds: int, seed: int):
        """The cross-validation splitter of this task."""
        from sklearn.model_selection import KFold

        return KFold(folds, shuffle=True, random_state=seed)

    def stratify(self, target: pd.Series) -> pd.Series | None:
        """What the train/test split stratifies on (None: a plain random split)."""
        return None

    def score(self, estimator: Any, features: pd.DataFrame, target: Any) -> dict:
        """Every metric of a fitted estimator on rows (also the CV scorer)."""
        raise NotImplementedError

    def plots(self, y_true: Any, outputs: dict, reports_dir: Path) -> list[Path]:
        """Write plot data (CSV, `reports/plots/`) and figures (PNG); return figures."""
        raise NotImplementedError

    def outputs(self, estimator: Any, features: pd.DataFrame) -> dict[str, np.ndarray]:
        """The model's outputs on rows: `prediction` (and `probabilities`)."""
        raise NotImplementedError

    def output_columns(self) -> tuple[str, ...]:
        """Columns batch scoring adds to each row."""
        return ("prediction",)

    def columns(self, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Model outputs as the batch-scoring columns."""
        return {"prediction": outputs["prediction"]}


class Classification(Task):
    """Binary or multiclass classification; probabilities in `labels` order."""

    name = "classification"
    default_metric = "roc_auc"
    baseline_predicts = "the class shares of the training rows"
    metrics = {
        name: Metric(name)
        for name in (
            "roc_auc",
            "average_precision",
            "accuracy",
            "f1",
            "precision",
            "recall",
        )
    }

    def __init__(self, contract: Contract):
        # scikit-learn orders a classifier's classes (and its probability columns)
        # sorted: so do the API, batch scoring and the ONNX export.
        self.labels: tuple = tuple(sorted(contract.classes or ()))
        self.positive = contract.positive
        self.binary = len(self.labels) == 2

    def array(self, labels: Any) -> np.ndarray:
        """Labels as one array type: text (object) or integers, as the classes are."""
        if isinstance(self.labels[0], str):
            return np.asarray(labels, dtype=object)
        return np.asarray(labels).astype(np.int64)

    def baseline(self) -> Any:
        """Class priors: the shares of the training rows, whatever the features."""
        from sklearn.dummy import DummyClassifier

        return DummyClassifier(strategy="prior")

    def splitter(self, folds: int, seed: int):
        """Stratified folds: every fold keeps the class balance."""
        from sklearn.model_selection import StratifiedKFold

        return StratifiedKFold(folds, shuffle=True, random_state=seed)

    def stratify(self, target: pd.Series) -> pd.Series | None:
        """Stratify the split on the class (when every class has two rows or more)."""
        return target if target.value_counts().min() >= 2 else None

    def outputs(self, estimator: Any, features: pd.DataFrame) -> dict[str, np.ndarray]:
        """Predicted labels and per-class probabilities in `labels` order."""
        probabilities = estimator.predict_proba(features)
        known = list(estimator.classes_)
        if known != list(self.labels):  # a CV fold may miss a class
            full = np.zeros((len(features), len(self.labels)))
            for column, label in enumerate(known):
                full[:, self.labels.index(label)] = probabilities[:, column]
            probabilities = full
        return {
            "prediction": self.array(self.labels)[probabilities.argmax(axis=1)],
            "probabilities": probabilities,
        }

    def score(self, estimator: Any, features: pd.DataFrame, target: Any) -> dict:
        """Accuracy, F1, precision, recall (macro-averaged beyond two classes), AUC."""
        return self.compute(np.asarray(target), self.outputs(estimator, features))

    def compute(self, y_true: np.ndarray, outputs: dict) -> dict[str, float]:
        """Metrics of outputs against the true labels."""
        from sklearn import metrics as skm

        y_pred = self.array(outputs["prediction"])
        probabilities = outputs["probabilities"]
        y_true = self.array(y_true)
        averaged: dict[str, Any] = (
            {"average": "binary", "pos_label": self.positive}
            if self.binary
            else {"average": "macro", "labels": list(self.labels)}
        )
        result = {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "f1": skm.f1_score(y_true, y_pred, zero_division=0, **averaged),
            "precision": skm.precision_score(
                y_true, y_pred, zero_division=0, **averaged
            ),
            "recall": skm.recall_score(y_true, y_pred, zero_division=0, **averaged),
        }
        # Ranking metrics of the probabilities: ROC AUC, and average precision (the
        # area under the precision-recall curve: for a rare positive class, it
        # moves where ROC AUC barely does).
        for name, score in (
            ("roc_auc", skm.roc_auc_score),
            ("average_precision", skm.average_precision_score),
        ):
            try:
                if self.binary:
                    truth = y_true == self.positive
                    positive = probabilities[:, self.labels.index(self.positive)]
                    # Rows of one class only: undefined.
                    one_class = truth.all() or not truth.any()
                    value = math.nan if one_class else score(truth, positive)
                else:
                    # One-vs-rest, averaged over the classes these rows hold
                    # (sklearn's "ovr" macro when they hold every class): a class
                    # too rare to be in every fold no longer makes the
                    # cross-validated figure undefined.
                    scores = [
                        score(y_true == label, probabilities[:, i])
                        for i, label in enumerate(self.labels)
                        if (y_true == label).any()
                    ]
                    value = np.mean(scores) if len(scores) >= 2 else math.nan
            except ValueError:  # a class absent from binary rows: undefined
                value = math.nan
            result[name] = value
        return {name: float(value) for name, value in result.items()}

    def plots(self, y_true: Any, outputs: dict, reports_dir: Path) -> list[Path]:
        """Confusion matrix over every class; ROC of the positive class (binary)."""
        from sklearn import metrics as skm

        plt, plots_dir, figures_dir = _plotting(reports_dir)
        y_true = self.array(y_true)
        y_pred = self.array(outputs["prediction"])
        pd.DataFrame({"actual": y_true, "predicted": y_pred}).to_csv(
            plots_dir / "confusion.csv", index=False
        )
        figures = [figures_dir / "confusion_matrix.png"]
        size = max(4.0, 0.6 * len(self.labels) + 2)
        fig, ax = plt.subplots(figsize=(size + 1, size))
        skm.ConfusionMatrixDisplay.from_predictions(
            y_true,
            y_pred,
            labels=list(self.labels),
            ax=ax,
            colorbar=False,
            xticks_rotation="vertical" if len(self.labels) > 4 else "horizontal",
        )
        ax.set_title("Confusion matrix (test split)")
        _save(plt, fig, figures[0])
        if self.binary:
            score = outputs["probabilities"][:, self.labels.index(self.positive)]
            fpr, tpr, _ = skm.roc_curve(y_true == self.positive, score)
            pd.DataFrame({"fpr": fpr, "tpr": tpr}).to_csv(
                plots_dir / "roc.csv", index=False
            )
            figures.append(figures_dir / "roc_curve.png")
            fig, ax = plt.subplots(figsize=(5, 4))
            skm.RocCurveDisplay(fpr=fpr, tpr=tpr, roc_auc=skm.auc(fpr, tpr)).plot(ax=ax)
            ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
            ax.set_title(f"ROC curve, positive class {self.positive!r} (test split)")
            _save(plt, fig, figures[1])
        return figures

    def output_columns(self) -> tuple[str, ...]:
        """The predicted label, then one probability column per class."""
        return ("prediction", *(f"probability_{label}" for label in self.labels))

    def columns(self, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The predicted label and one probability column per class."""
        columns = {"prediction": outputs["prediction"]}
        for index, label in enumerate(self.labels):
            columns[f"probability_{label}"] = outputs["probabilities"][:, index]
        return columns


class Regression(Task):
    """Regression: errors are lower-is-better, r2 higher-is-better, signs kept."""

    name = "regression"
    default_metric = "rmse"
    baseline_predicts = "the mean of the training rows"
    metrics = {
        "rmse": Metric("rmse", higher_is_better=False),
        "mae": Metric("mae", higher_is_better=False),
        "r2": Metric("r2"),
    }

    def baseline(self) -> Any:
        """The mean value of the training rows, whatever the features."""
        from sklearn.dummy import DummyRegressor

        return DummyRegressor(strategy="mean")

    def outputs(self, estimator: Any, features: pd.DataFrame) -> dict[str, np.ndarray]:
        """The predicted values."""
        return {"prediction": np.asarray(estimator.predict(features), dtype=float)}

    def score(self, estimator: Any, features: pd.DataFrame, target: Any) -> dict:
        """RMSE, MAE and R² (R² may be negative: it is never turned positive)."""
        return self.compute(np.asarray(target), self.outputs(estimator, features))

    def compute(self, y_true: np.ndarray, outputs: dict) -> dict[str, float]:
        """Metrics of predicted values against the true ones."""
        from sklearn import metrics as skm

        y_pred = outputs["prediction"]
        return {
            "rmse": float(skm.root_mean_squared_error(y_true, y_pred)),
            "mae": float(skm.mean_absolute_error(y_true, y_pred)),
            "r2": float(skm.r2_score(y_true, y_pred)),
        }

    def plots(self, y_true: Any, outputs: dict, reports_dir: Path) -> list[Path]:
        """Residuals against predictions: data as CSV, picture as PNG."""
        plt, plots_dir, figures_dir = _plotting(reports_dir)
        y_true = np.asarray(y_true, dtype=float)
        y_pred = outputs["prediction"]
        residual = y_true - y_pred
        pd.DataFrame(
            {"actual": y_true, "predicted": y_pred, "residual": residual}
        ).to_csv(plots_dir / "residuals.csv", index=False)
        figure = figures_dir / "residuals.png"
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.scatter(y_pred, residual, s=12, alpha=0.7)
        ax.axhline(0, linestyle="--", color="grey")
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual - predicted")
        ax.set_title("Residuals (test split)")
        _save(plt, fig, figure)
        return [figure]


def for_contract(contract: Contract) -> Task:
    """The task strategy a contract (or the data settings) declares."""
    if contract.task == "classification":
        return Classification(contract)
    return Regression()


def _plotting(reports_dir: Path):
    """(pyplot on a file backend, plot-data directory, figures directory)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir, figures_dir = reports_dir / "plots", reports_dir / "figures"
    for directory in (plots_dir, figures_dir):
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*"):  # a previous task's plots would linger
            if stale.suffix in (".csv", ".png"):
                stale.unlink()
    return plt, plots_dir, figures_dir


def _save(plt: Any, fig: Any, path: Path) -> None:
    """Write a figure and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
