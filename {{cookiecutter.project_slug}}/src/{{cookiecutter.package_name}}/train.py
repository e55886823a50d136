"""Train stage: fit the preprocessing + estimator pipeline, save it with metadata
and the reference profile of its training rows (`reference.py`)."""

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_validate
from sklearn.pipeline import Pipeline

from . import __version__, artifacts, contract, reference
from .data import read_split
from .errors import ContractError
from .features import build_preprocessor
from .settings import Settings
from .task import for_contract

log = logging.getLogger(__name__)

# (conf/model/<name>.yaml, task) -> estimator class; the other keys are its arguments.
# Which tasks a model does is declared by its settings class (`tasks`).
ESTIMATORS = {
    ("logistic_regression", "classification"): LogisticRegression,
    ("random_forest", "classification"): RandomForestClassifier,
    ("random_forest", "regression"): RandomForestRegressor,
    ("ridge", "regression"): Ridge,
}
# Settings that configure how a model runs rather than what it learns.
RUNTIME_KEYS = {"name", "n_jobs"}
# Classes named in an error; the count of the rest follows.
LISTED_CLASSES = 10


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    pipeline: Pipeline
    cv_metrics: dict[str, float]
    metadata: dict


def build_pipeline(settings: Settings) -> Pipeline:
    """Return the unfitted preprocessing + estimator pipeline the settings describe."""
    params = settings.model.model_dump(exclude={"name"})
    estimator_cls = ESTIMATORS[(settings.model.name, settings.data.task)]
    accepted = estimator_cls().get_params()
    if "random_state" in accepted:
        params["random_state"] = settings.train.seed
    if "class_weight" not in accepted:  # a regressor: the settings keep it null
        params.pop("class_weight", None)
    preprocessor = build_preprocessor(settings.data, scale=settings.model.scaled)
    return Pipeline([("preprocess", preprocessor), ("model", estimator_cls(**params))])


def cross_validation_metrics(
    settings: Settings,
    features: pd.DataFrame,
    target: pd.Series,
    estimator: Any = None,
) -> dict[str, float]:
    """Mean cross-validated metrics on the training split (empty when turned off), of
    the configured pipeline or of `estimator` (a baseline) on the same folds.

    Every metric keeps its sign (an r2 below zero stays below zero); a metric that is
    undefined on a fold (AUC of a binary fold missing a class; a multiclass AUC
    averages the classes a fold holds) is NaN for the whole run.
    """
    if settings.train.cv_folds == 0:
        return {}
    task = for_contract(settings.data)
    scores = cross_validate(
        build_pipeline(settings) if estimator is None else estimator,
        features,
        target,
        cv=task.splitter(settings.train.cv_folds, settings.train.seed),
        scoring=task.score,
    )
    return {
        f"cv_{name}": float(np.mean(scores[f"test_{name}"])) for name in task.metrics
    }


def check_rows(settings: Settings, features: pd.DataFrame, target: pd.Series) -> None:
    """Every feature needs a value and every declared class a row in the training
    split: a model cannot learn them else. (scikit-learn's imputers drop a column
    without values, the ONNX converter keeps it: their outputs would differ.)"""
    # A model frame holds a missing category as MISSING_CATEGORY, not as NaN.
    missing = features.isna() | features.isin([contract.MISSING_CATEGORY])
    empty = [str(name) for name in features.columns if missing[name].all()]
    if empty:
        raise ContractError(
            f"features: {', '.join(map(repr, empty))} has no value in the training "
            "split: leave it out of the contract (ignore), or add data for it."
        )
    if settings.data.task != "classification":
        return
    absent = [c for c in settings.data.classes if not (target == c).any()]
    if absent:
        named = ", ".join(map(repr, absent[:LISTED_CLASSES]))
        if len(absent) > LISTED_CLASSES:
            named += f" and {len(absent) - LISTED_CLASSES} more"
        raise ContractError(
            f"data.classes without a row in the training split: {named}. Remove "
            "them from the contract, or add data for them."
        )


def run(settings: Settings) -> TrainResult:
    """Fit the pipeline on the training split and write model and metadata files."""
    data = settings.data
    rows = read_split(data, settings.paths.train_data)
    features, target = contract.split_xy(data, rows)
    check_rows(settings, features, target)
    cv_metrics = cross_validation_metrics(settings, features, target)
    undefined = [name for name, value in cv_metrics.items() if math.isnan(value)]
    if undefined:
        log.warning("Undefined on some folds (a class too rare?): %s", undefined)
    pipeline = build_pipeline(settings).fit(features, target)
    task = for_contract(data)
    metadata = {
        "model_name": settings.model.name,
        "dataset": data.name,
        "contract": data.contract().model_dump(mode="json"),
        # From the validated rows: a missing category is null there, not "".
        "example": contract.example_row(data, rows),
        "params": settings.model.model_dump(exclude=RUNTIME_KEYS),
        "primary_metric": task.primary(settings.train.primary_metric),
        "cv_metrics": cv_metrics,
        "train_rows": len(features),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "package_version": __version__,
    }
    # Saved first: the reference profile{% if cookiecutter.use_mlflow == 'yes' %} and MLflow{% endif %} name the model by its fingerprint.
    metadata = artifacts.save(
        pipeline, metadata, settings.paths.model_file, settings.paths.metadata_file
    )
    profile = reference.build(
        data,
        rows[list(data.feature_names)],
        task.outputs(pipeline, features)["prediction"],
        dataset=data.name,
        model_sha256=metadata["model_sha256"],
        error=cv_metrics.get("cv_rmse"),
    )
    reference.save(profile, settings.paths.reference_file)
{%- if cookiecutter.use_mlflow == 'yes' %}
    from . import tracking

    metadata["mlflow"] = tracking.log_training(
        settings, pipeline, features, metadata, profile
    )
    # The same model file: only its metadata gains the run and registry version.
    artifacts.write_metadata(metadata, settings.paths.metadata_file)
{%- endif %}
    log.info(
        "Trained %s on %d rows; %s; saved to %s",
        settings.model.name,
        len(features),
        ", ".join(f"{k}={v:.4f}" for k, v in cv_metrics.items()) or "no CV",
        settings.paths.model_file,
    )
    return TrainResult(pipeline=pipeline, cv_metrics=cv_metrics, metadata=metadata)
