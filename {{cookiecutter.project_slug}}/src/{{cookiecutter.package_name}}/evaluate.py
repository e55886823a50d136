"""Evaluate stage: score the model on the held-out split, write metrics and plots."""

import json
import logging
from typing import Any

from . import artifacts, contract
from .data import read_split
from .errors import StageError
from .settings import Contract, Settings
from .task import for_contract
from .train import RUNTIME_KEYS

log = logging.getLogger(__name__)


def load_bundle(settings: Settings) -> artifacts.Bundle:
    """The trained model with its metadata and contract (`make train` writes them)."""
    return artifacts.Bundle.load(
        settings.paths.model_file, settings.paths.metadata_file
    )


def check_model(settings: Settings, metadata: dict) -> None:
    """Refuse a model file trained as another model than `model=` names, or with
    other parameters (a `<model>_tuned` config keeps its model's name): evaluation
    scores the file whatever `model=` says, and must not pass it off as that one."""
    trained_as = metadata.get("model_name")
    asked = settings.model.name
    if trained_as and trained_as != asked:
        raise StageError(
            f"{settings.paths.model_file} is a {trained_as} model, not model={asked}: "
            "train that one first (`make train` with the same ARGS) or evaluate this "
            f"one with model={trained_as}."
        )
    trained = metadata.get("params") or {}
    wanted = settings.model.model_dump(mode="json", exclude=RUNTIME_KEYS)
    # str() too: parameters read back from a tracking store come back as text.
    differ = [
        f"{key} {trained[key]!r} (trained) vs {wanted[key]!r}"
        for key in sorted(set(trained) & set(wanted))
        if trained[key] != wanted[key] and str(trained[key]) != str(wanted[key])
    ]
    if differ:
        raise StageError(
            f"{settings.paths.model_file} was trained with other parameters than "
            f"model={asked} has: {', '.join(differ)}: train that one first (`make "
            "train` with the same ARGS), or evaluate with the model= and overrides "
            "it was trained with."
        )


def run(settings: Settings) -> dict[str, float]:
    """Score the model on the test split; write `reports/metrics.json` (the metrics
    and the model's fingerprint, `model_sha256`) and plots."""
    bundle = load_bundle(settings)
    if bundle.contract != settings.data.contract():
        dataset = bundle.metadata.get("dataset")
        raise StageError(
            f"The model was trained on another contract than data={settings.data.name}"
            + (f" (data={dataset})" if dataset else "")
            + ": retrain (`make train`) or evaluate with the data it was trained on."
        )
    check_model(settings, bundle.metadata)
    task = for_contract(bundle.contract)
    test = read_split(bundle.contract, settings.paths.test_data)
    features, target = contract.split_xy(bundle.contract, test)
    outputs = task.outputs(bundle.pipeline, features)
    metrics = task.compute(target.to_numpy(), outputs)
    figures = task.plots(target.to_numpy(), outputs, settings.paths.reports_dir)
    settings.paths.metrics_file.parent.mkdir(parents=True, exist_ok=True)
    # The model's fingerprint beside its metrics: whoever reads the file (the
    # service's /metadata) can tell whether they belong to the model at hand.
    written = {**metrics, "model_sha256": bundle.metadata["model_sha256"]}
    settings.paths.metrics_file.write_text(
        json.dumps(written, indent=2, sort_keys=True) + "\n", encoding="utf-8"
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
    _against_baseline(settings, bundle.contract, metrics, features, target)
    return metrics


def _against_baseline(
    settings: Settings,
    terms: Contract,
    metrics: dict[str, float],
    features: Any,
    target: Any,
) -> None:
    """Log the primary test metric next to the baseline's (`Task.baseline`, fitted on
    the training split); warn when the model does not beat it."""
    path = settings.paths.train_data
    if not path.is_file():  # a model fetched into a clone without its split
        return
    task = for_contract(terms)
    baseline = task.baseline().fit(*contract.split_xy(terms, read_split(terms, path)))
    expected = task.compute(target.to_numpy(), task.outputs(baseline, features))
    metric = task.primary(settings.train.primary_metric)
    model, floor = metrics[metric], expected[metric]
    if task.better(metric, model, floor):
        log.info(
            "Baseline (%s) test %s=%.4f: the model's %.4f beats it.",
            type(baseline).__name__,
            metric,
            floor,
            model,
        )
    else:
        log.warning(
            "The model's test %s=%.4f does not beat the baseline's (%s, %.4f): it "
            "does no better than predicting %s.",
            metric,
            model,
            type(baseline).__name__,
            floor,
            task.baseline_predicts,
        )
