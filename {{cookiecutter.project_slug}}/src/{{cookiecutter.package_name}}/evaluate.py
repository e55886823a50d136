"""Evaluate stage: score the model on the held-out split, write metrics and plots."""

import json
import logging
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn import metrics as skm

from .data import read_csv
from .features import split_xy
from .settings import Settings

log = logging.getLogger(__name__)
{%- if cookiecutter.task == 'classification' %}


def compute_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray
) -> dict[str, float]:
    """Classification metrics; `y_score` is the probability of the positive class."""
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "f1": float(skm.f1_score(y_true, y_pred)),
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(skm.recall_score(y_true, y_pred)),
        "roc_auc": float(skm.roc_auc_score(y_true, y_score)),
    }


def write_plots(
    y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray, reports_dir: Path
) -> list[Path]:
    """Write the confusion matrix and ROC curve: data as CSV, pictures as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir, figures_dir = reports_dir / "plots", reports_dir / "figures"
    plots_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"actual": y_true, "predicted": y_pred}).to_csv(
        plots_dir / "confusion.csv", index=False
    )
    fpr, tpr, _ = skm.roc_curve(y_true, y_score)
    pd.DataFrame({"fpr": fpr, "tpr": tpr}).to_csv(plots_dir / "roc.csv", index=False)

    paths = [figures_dir / "confusion_matrix.png", figures_dir / "roc_curve.png"]
    fig, ax = plt.subplots(figsize=(5, 4))
    skm.ConfusionMatrixDisplay.from_predictions(y_true, y_pred, ax=ax, colorbar=False)
    ax.set_title("Confusion matrix (test split)")
    fig.tight_layout()
    fig.savefig(paths[0], dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 4))
    skm.RocCurveDisplay(fpr=fpr, tpr=tpr, roc_auc=skm.auc(fpr, tpr)).plot(ax=ax)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set_title("ROC curve (test split)")
    fig.tight_layout()
    fig.savefig(paths[1], dpi=100)
    plt.close(fig)
    return paths
{%- else %}


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Regression metrics."""
    return {
        "rmse": float(skm.root_mean_squared_error(y_true, y_pred)),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "r2": float(skm.r2_score(y_true, y_pred)),
    }


def write_plots(
    y_true: np.ndarray, y_pred: np.ndarray, reports_dir: Path
) -> list[Path]:
    """Write the residuals: data as CSV, picture as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir, figures_dir = reports_dir / "plots", reports_dir / "figures"
    plots_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    residuals = y_true - y_pred
    frame = pd.DataFrame({"actual": y_true, "predicted": y_pred, "residual": residuals})
    frame.to_csv(plots_dir / "residuals.csv", index=False)

    path = figures_dir / "residuals.png"
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(y_pred, residuals, s=12, alpha=0.7)
    ax.axhline(0.0, linestyle="--", color="grey")
    ax.set_xlabel("Predicted")
    ax.set_ylabel("Residual (actual - predicted)")
    ax.set_title("Residuals (test split)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]
{%- endif %}


def load_model(settings: Settings):
    """Load the fitted pipeline written by the train stage."""
    path = settings.paths.model_file
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `make train` first.")
    return joblib.load(path)


def run(settings: Settings) -> dict[str, float]:
    """Score the model on the test split; write `reports/metrics.json` and plots."""
    pipeline = load_model(settings)
    features, target = split_xy(read_csv(settings.paths.test_data))
    y_true = target.to_numpy()
    y_pred = pipeline.predict(features)
{%- if cookiecutter.task == 'classification' %}
    y_score = pipeline.predict_proba(features)[:, 1]
    metrics = compute_metrics(y_true, y_pred, y_score)
    figures = write_plots(y_true, y_pred, y_score, settings.paths.reports_dir)
{%- else %}
    metrics = compute_metrics(y_true, y_pred)
    figures = write_plots(y_true, y_pred, settings.paths.reports_dir)
{%- endif %}
    settings.paths.metrics_file.parent.mkdir(parents=True, exist_ok=True)
    settings.paths.metrics_file.write_text(
        json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
{%- if cookiecutter.use_mlflow == 'yes' %}
    from . import tracking

    tracking.log_evaluation(settings, metrics, figures)
{%- endif %}
    log.info(
        "Test metrics: %s (written to %s; plots: %s)",
        ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()),
        settings.paths.metrics_file,
        ", ".join(str(path) for path in figures),
    )
    return metrics
