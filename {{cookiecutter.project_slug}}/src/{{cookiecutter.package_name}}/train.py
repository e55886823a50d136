"""Train stage: fit the preprocessing + estimator pipeline, save it with metadata."""

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

import joblib
import pandas as pd
{%- if cookiecutter.task == 'classification' %}
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
{%- else %}
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, cross_validate
{%- endif %}
from sklearn.pipeline import Pipeline

from . import __version__, contract
from .data import read_csv
from .features import build_preprocessor, split_xy
from .settings import Settings

log = logging.getLogger(__name__)

# conf/model/<name>.yaml -> estimator class; the other keys are its arguments.
ESTIMATORS = {
{%- if cookiecutter.task == 'classification' %}
    "logistic_regression": LogisticRegression,
    "random_forest": RandomForestClassifier,
{%- else %}
    "ridge": Ridge,
    "random_forest": RandomForestRegressor,
{%- endif %}
}
# Metric name -> scikit-learn scorer (negated scorers are turned back into errors).
SCORERS = {
{%- if cookiecutter.task == 'classification' %}
    "roc_auc": "roc_auc",
    "accuracy": "accuracy",
    "f1": "f1",
    "precision": "precision",
    "recall": "recall",
{%- else %}
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
{%- endif %}
}
# Settings that configure how a model runs rather than what it learns.
RUNTIME_KEYS = {"name", "n_jobs"}
# Tree ensembles split on raw values: scaling changes nothing they learn, and their
# split thresholds sit on training values, so scaling in float32 (as ONNX does) could
# move a tied value across a split. Their features pass through unscaled.
SCALE_FREE = {"random_forest"}


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    pipeline: Pipeline
    cv_metrics: dict[str, float]
    metadata: dict


def build_pipeline(settings: Settings) -> Pipeline:
    """Return the unfitted preprocessing + estimator pipeline the settings describe."""
    params = settings.model.model_dump(exclude={"name"})
    estimator_cls = ESTIMATORS[settings.model.name]
    if "random_state" in estimator_cls().get_params():
        params["random_state"] = settings.train.seed
    preprocessor = build_preprocessor(scale=settings.model.name not in SCALE_FREE)
    return Pipeline([("preprocess", preprocessor), ("model", estimator_cls(**params))])


def cross_validation_metrics(
    settings: Settings, features: pd.DataFrame, target: pd.Series
) -> dict[str, float]:
    """Mean cross-validated metrics on the training split (empty when turned off)."""
    if settings.train.cv_folds == 0:
        return {}
{%- if cookiecutter.task == 'classification' %}
    folds = StratifiedKFold(
        settings.train.cv_folds, shuffle=True, random_state=settings.train.seed
    )
{%- else %}
    folds = KFold(
        settings.train.cv_folds, shuffle=True, random_state=settings.train.seed
    )
{%- endif %}
    scores = cross_validate(
        build_pipeline(settings), features, target, cv=folds, scoring=SCORERS
    )
    return {f"cv_{name}": float(abs(scores[f"test_{name}"].mean())) for name in SCORERS}


def run(settings: Settings) -> TrainResult:
    """Fit the pipeline on the training split and write model and metadata files."""
    features, target = split_xy(read_csv(settings.paths.train_data))
    cv_metrics = cross_validation_metrics(settings, features, target)
    pipeline = build_pipeline(settings).fit(features, target)
    metadata = {
        "model_name": settings.model.name,
        "task": contract.TASK,
        "features": {name: kind.__name__ for name, kind in contract.FEATURES.items()},
        "target": contract.TARGET,
        "classes": list(contract.CLASSES),
        "params": settings.model.model_dump(exclude=RUNTIME_KEYS),
        "primary_metric": settings.train.primary_metric,
        "cv_metrics": cv_metrics,
        "train_rows": len(features),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "package_version": __version__,
    }
{%- if cookiecutter.use_mlflow == 'yes' %}
    from . import tracking

    metadata["mlflow"] = tracking.log_training(settings, pipeline, features, cv_metrics)
{%- endif %}
    settings.paths.model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, settings.paths.model_file)
    settings.paths.metadata_file.write_text(
        json.dumps(metadata, indent=2) + "\n", encoding="utf-8"
    )
    log.info(
        "Trained %s on %d rows; %s; saved to %s",
        settings.model.name,
        len(features),
        ", ".join(f"{k}={v:.4f}" for k, v in cv_metrics.items()) or "no CV",
        settings.paths.model_file,
    )
    return TrainResult(pipeline=pipeline, cv_metrics=cv_metrics, metadata=metadata)
