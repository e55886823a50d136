"""Hyper-parameter search: an Optuna study over a model's search space (`make tune`).

The search space is configuration, `conf/tune/<model>.yaml`, validated into
`settings.TuneSettings` and checked against the model's own settings before any trial.
The objective is the training run's cross-validation (the same folds and primary
metric as `make train`), reported fold by fold so that poor trials are pruned. The
study lives in a local database, so a second run resumes it. The best parameters are
written as a model config, `conf/model/<model>_tuned.yaml`, that `make train` trains
and registers like any other.
"""

import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError
from sklearn.base import clone

from . import artifacts, contract, train
from .config import DEFAULT_CONFIG_DIR, compose, load_settings
from .data import read_split
from .errors import ConfigError, StageError
from .settings import Categorical, FloatRange, IntRange, Settings, TuneSettings
from .task import for_contract

log = logging.getLogger(__name__)
# The config group of search spaces, and the suffix of the model config a study writes.
GROUP = "tune"
TUNED = "_tuned"
# Pruning: complete trials before any is pruned, and folds scored before a trial is.
STARTUP_TRIALS = 5
WARMUP_FOLDS = 1


@dataclass(frozen=True)
class TuneResult:
    """What a study found, and what this run of it did."""

    study_name: str
    metric: str
    best_value: float
    best_params: dict[str, Any]
    baseline_value: float
    trials: dict[str, int]
    config_file: Path
    seconds: float
{%- if cookiecutter.use_mlflow == 'yes' %}
    mlflow_run_id: str | None = None
{%- endif %}


def _key(override: str) -> str:
    """The key an override sets: `tune.n_trials` for `tune.n_trials=5`."""
    return override.split("=", 1)[0].lstrip("+~")


def _is_tune(override: str) -> bool:
    """Does the override address the search space (`tune=...`, `tune.<key>=...`)?"""
    key = _key(override)
    return key == GROUP or key.startswith(f"{GROUP}.")


def load(
    overrides: Sequence[str] = (), config_dir: Path = DEFAULT_CONFIG_DIR
) -> tuple[Settings, TuneSettings]:
    """Compose and validate the pipeline settings and the model's search space.

    `tune.<key>=<value>` overrides reach the search space (`tune.n_trials=50`);
    `tune=<name>` reads conf/tune/<name>.yaml instead of the model's own file. The
    other overrides are the pipeline's, as for `make train`.
    """
    ours = [item for item in overrides if _is_tune(item)]
    rest = [item for item in overrides if not _is_tune(item)]
    settings = load_settings(rest, config_dir)
    picked = [item.split("=", 1)[1] for item in ours if _key(item) == GROUP]
    values = [item for item in ours if _key(item) != GROUP]
    name = picked[-1] if picked else settings.model.name
    return settings, search_space(
        _compose(name, [*rest, *values], config_dir), settings
    )


def _compose(name: str, overrides: Sequence[str], config_dir: Path) -> dict:
    """The search space conf/tune/<name>.yaml, composed with the overrides."""
    path = Path(config_dir) / GROUP / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"Invalid configuration:\n  {GROUP}: no {path}: declare the search space "
            f"of {name} there (see conf/{GROUP}/ for examples), or pick one with "
            f"{GROUP}=<name>."
        )
    return compose([*overrides, f"+{GROUP}={name}"], config_dir)[GROUP]


def search_space(raw: dict, settings: Settings) -> TuneSettings:
    """Validate a search space, then check it against the model (`check`)."""
    try:
        search = TuneSettings.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"  {_where(error['loc'])}: {error['msg']}" + _shown(error["input"])
            for error in exc.errors()
        ]
        raise ConfigError("Invalid configuration:\n" + "\n".join(lines)) from exc
    check(settings, search)
    return search


def _where(loc: tuple) -> str:
    """`tune.params.C.low` from a pydantic location (without the union's tag)."""
    parts = [str(part) for part in loc]
    if len(parts) > 2 and parts[0] == "params":
        del parts[2]  # the discriminator: int, float or categorical
    return ".".join([GROUP, *parts])


def _shown(value: Any) -> str:
    """The offending value, unless it is a whole section."""
    return "" if isinstance(value, dict) else f" (got {value!r})"


def check(settings: Settings, search: TuneSettings) -> None:
    """Refuse, before any trial, a search space the model cannot take.

    Every parameter must be a hyper-parameter of the model's settings class, and both
    ends of a range (and every choice) must be values that class accepts.
    """
    model_cls = type(settings.model)
    tunable = sorted(set(model_cls.model_fields) - train.RUNTIME_KEYS)
    problems = []
    if settings.train.cv_folds == 0:
        problems.append(
            "  train.cv_folds: tuning scores trials by cross-validation: "
            "2 folds or more, not 0"
        )
    for name, space in search.params.items():
        where = f"{GROUP}.params.{name}"
        if name in train.RUNTIME_KEYS:
            problems.append(
                f"  {where}: {name!r} is how the model runs, not what it learns: "
                "set it in the model config"
            )
            continue
        if name not in tunable:
            problems.append(
                f"  {where}: {settings.model.name} has no parameter {name!r}; "
                f"its parameters: {', '.join(tunable)}"
            )
            continue
        for value in _probes(space):
            try:
                model_cls.model_validate({**settings.model.model_dump(), name: value})
            except ValidationError as exc:
                problems.append(
                    f"  {where}: {value!r} is not a valid {name}: "
                    f"{exc.errors()[0]['msg']}"
                )
                break
    if problems:
        raise ConfigError("Invalid configuration:\n" + "\n".join(problems))


def _probes(space: IntRange | FloatRange | Categorical) -> list:
    """Values that show whether the model accepts a search space.

    A float range also probes just above `low`: a fraction an integer field refuses.
    """
    if isinstance(space, Categorical):
        return list(space.choices)
    if isinstance(space, FloatRange):
        return [space.low, math.nextafter(space.low, space.high), space.high]
    return [space.low, space.high]


def suggest(trial: Any, search: TuneSettings) -> dict[str, Any]:
    """The trial's value of every parameter of the search space."""
    values = {}
    for name, space in search.params.items():
        if isinstance(space, IntRange):
            values[name] = trial.suggest_int(name, space.low, space.high, log=space.log)
        elif isinstance(space, FloatRange):
            values[name] = trial.suggest_float(
                name, space.low, space.high, log=space.log
            )
        else:
            values[name] = trial.suggest_categorical(name, space.choices)
    return values


def with_params(settings: Settings, params: dict[str, Any]) -> Settings:
    """The settings with these model hyper-parameters, validated."""
    model = type(settings.model).model_validate(
        {**settings.model.model_dump(), **params}
    )
    return settings.model_copy(update={"model": model})


def objective(
    settings: Settings, search: TuneSettings, features: pd.DataFrame, target: pd.Series
) -> Callable[[Any], float]:
    """The function Optuna minimises or maximises: the CV primary metric of a trial.

    The folds are those of `train.cross_validation_metrics` (same splitter, same
    seed), so a trial with the configured parameters scores what `make train` reports.
    The running mean is reported after each fold; a trial the pruner stops ends there.
    """
    from optuna import TrialPruned

    task = for_contract(settings.data)
    metric = task.primary(settings.train.primary_metric)
    splitter = task.splitter(settings.train.cv_folds, settings.train.seed)
    folds = list(splitter.split(features, target))

    def evaluate(trial: Any) -> float:
        pipeline = train.build_pipeline(with_params(settings, suggest(trial, search)))
        scores: list[dict[str, float]] = []
        for step, (fit_rows, score_rows) in enumerate(folds):
            fitted = clone(pipeline).fit(features.iloc[fit_rows], target.iloc[fit_rows])
            scores.append(
                task.score(fitted, features.iloc[score_rows], target.iloc[score_rows])
            )
            means = {
                f"cv_{name}": float(np.mean([score[name] for score in scores]))
                for name in task.metrics
            }
            trial.report(means[f"cv_{metric}"], step)
            if step < len(folds) - 1 and trial.should_prune():
                trial.set_user_attr("cv_metrics", means)
                raise TrialPruned(f"fold {step + 1} of {len(folds)}")
        trial.set_user_attr("cv_metrics", means)
        return means[f"cv_{metric}"]

    return evaluate


def study_name(settings: Settings, search: TuneSettings) -> str:
    """The configured name, else `<dataset>-<model>-<metric>`: a rerun resumes it."""
    metric = for_contract(settings.data).primary(settings.train.primary_metric)
    return search.study_name or f"{settings.data.name}-{settings.model.name}-{metric}"


def _objective_terms(settings: Settings, search: TuneSettings) -> dict[str, Any]:
    """What a trial's value depends on besides its parameters: equal to resume."""
    task = for_contract(settings.data)
    fixed = settings.model.model_dump(
        mode="json", exclude=train.RUNTIME_KEYS | set(search.params)
    )
    return {
        "metric": f"cv_{task.primary(settings.train.primary_metric)}",
        "cv_folds": settings.train.cv_folds,
        "seed": settings.train.seed,
        "train_data": artifacts.fingerprint(settings.paths.train_data),
        "fixed_params": fixed,
    }


def _changes(recorded: dict[str, Any], terms: dict[str, Any]) -> str:
    """How the objective differs from the one a study recorded ("" if it does not).

    A parameter fixed in both may not change; one that is searched in either (the
    search space grew or shrank) may: its trials still measured valid models.
    """
    changes = [
        f"{key} {recorded.get(key)!r} -> {value!r}"
        for key, value in terms.items()
        if key != "fixed_params" and recorded.get(key) != value
    ]
    before = recorded.get("fixed_params", {})
    changes += [
        f"model.{key} {before[key]!r} -> {value!r}"
        for key, value in terms["fixed_params"].items()
        if key in before and before[key] != value
    ]
    return ", ".join(changes)


def open_study(settings: Settings, search: TuneSettings) -> Any:
    """Create the study, or load it to resume when its objective is the same."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    task = for_contract(settings.data)
    metric = task.primary(settings.train.primary_metric)
    name = study_name(settings, search)
    try:
        study = optuna.create_study(
            storage=search.storage,
            study_name=name,
            direction=(
                "maximize" if task.metrics[metric].higher_is_better else "minimize"
            ),
            load_if_exists=True,
            pruner=(
                optuna.pruners.MedianPruner(STARTUP_TRIALS, WARMUP_FOLDS)
                if search.pruning
                else optuna.pruners.NopPruner()
            ),
        )
    except (SQLAlchemyError, ValueError) as exc:
        raise StageError(f"{GROUP}.storage {search.storage!r}: {exc}") from exc
    terms = _objective_terms(settings, search)
    recorded = study.user_attrs.get("objective")
    if recorded is None:
        study.set_user_attr("objective", terms)
    elif changed := _changes(recorded, terms):
        raise StageError(
            f"Study {name!r} in {search.storage} scored trials on another objective "
            f"({changed}): its values do not compare with new ones. Name a new study "
            f"({GROUP}.study_name=...), or delete it: optuna delete-study "
            f"--study-name {name} --storage {search.storage}"
        )
    # A resumed study draws new points: seeded by how many trials it already has.
    done = len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=search.seed + done)
    return study


class Record:
    """Where a study is recorded besides its database: the base records nothing."""

    run_id: str | None = None

    def __enter__(self) -> "Record":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def trial(self, study: Any, trial: Any) -> None:
        """Record a finished trial (an Optuna callback)."""

    def summary(self, result: TuneResult) -> None:
        """Record what the study found."""
{%- if cookiecutter.use_mlflow == 'yes' %}


class MlflowRecord(Record):
    """One MLflow run for the study, a nested run per trial, the best on the parent."""

    def __init__(self, settings: Settings, search: TuneSettings, name: str):
        self.settings, self.search, self.name = settings, search, name

    def __enter__(self) -> "MlflowRecord":
        from . import tracking

        settings = self.settings
        self.mlflow = tracking._configure(settings)
        self.tags = {
            "model_name": settings.model.name,
            "task": settings.data.task,
            "dataset": settings.data.name,
            "target": settings.data.target,
            "tune.study": self.name,
        }
        run = self.mlflow.start_run(run_name=f"tune {settings.model.name}")
        self.run_id = run.info.run_id
        self.mlflow.set_tags(self.tags | tracking.lineage(settings))
        self.mlflow.log_params(
            {
                f"{GROUP}.{key}": value
                for key, value in self.search.model_dump(exclude={"params"}).items()
            }
            | {f"model.{k}": v for k, v in settings.model.model_dump().items()}
            | {
                "train.cv_folds": settings.train.cv_folds,
                "train.seed": settings.train.seed,
            }
        )
        self.mlflow.log_dict(
            self.search.model_dump(mode="json")["params"], "tune/search_space.json"
        )
        return self

    def __exit__(self, *exc: Any) -> None:
        self.mlflow.end_run("FINISHED" if exc[0] is None else "FAILED")

    def trial(self, study: Any, trial: Any) -> None:
        """A nested run: the trial's parameters, CV metrics and running means."""
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        metrics = [
            Metric(key, value, now, 0)
            for key, value in trial.user_attrs.get("cv_metrics", {}).items()
        ] + [
            Metric("running_objective", value, now, step)
            for step, value in sorted(trial.intermediate_values.items())
        ]
        tags = self.tags | {
            "tune.trial": str(trial.number),
            "tune.state": trial.state.name,
        }
        run = self.mlflow.start_run(
            run_name=f"trial {trial.number}", nested=True, tags=tags
        )
        try:
            self.mlflow.MlflowClient().log_batch(
                run.info.run_id,
                metrics=[item for item in metrics if not math.isnan(item.value)],
                params=[Param(f"model.{k}", str(v)) for k, v in trial.params.items()],
            )
        finally:
            self.mlflow.end_run("FAILED" if trial.state.name == "FAIL" else "FINISHED")

    def summary(self, result: TuneResult) -> None:
        """The best value and parameters, the baseline, and the tuned config file."""
        self.mlflow.log_params({f"best.{k}": v for k, v in result.best_params.items()})
        self.mlflow.log_metrics(
            {
                f"best_{result.metric}": result.best_value,
                f"baseline_{result.metric}": result.baseline_value,
                "wall_seconds": result.seconds,
            }
            | {f"trials_{state}": count for state, count in result.trials.items()}
        )
        self.mlflow.log_artifact(str(result.config_file), artifact_path="tune")
{%- endif %}


def _record(settings: Settings, search: TuneSettings, name: str) -> Record:
{%- if cookiecutter.use_mlflow == 'yes' %}
    """The study's MLflow record: a parent run, each trial nested under it."""
    return MlflowRecord(settings, search, name)
{%- else %}
    """No experiment tracker in this project: the study database is the record."""
    return Record()
{%- endif %}


def run(
    settings: Settings,
    search: TuneSettings | None = None,
    config_dir: Path = DEFAULT_CONFIG_DIR,
    progress: bool | None = None,
) -> TuneResult:
    """Run the study on the training split; write conf/model/<model>_tuned.yaml.

    `search` defaults to conf/tune/<model>.yaml as it is. The progress bar shows on a
    terminal (`progress` forces it on or off). Ctrl-C stops the study early: the best
    trial so far is still written.
    """
    if search is None:
        search = search_space(_compose(settings.model.name, (), config_dir), settings)
    check(settings, search)
    if find_spec("optuna") is None:
        raise StageError(
            "Optuna is not installed: it is the `tune` dependency group (make install)."
        )
    features, target = contract.split_xy(
        settings.data, read_split(settings.data, settings.paths.train_data)
    )
    train.check_rows(settings, features, target)
    task = for_contract(settings.data)
    metric = f"cv_{task.primary(settings.train.primary_metric)}"
    study = open_study(settings, search)
    # The configured model, on the same folds: what the study has to beat.
    baseline = train.cross_validation_metrics(settings, features, target)[metric]
    before = len(study.get_trials(deepcopy=False))
    log.info(
        "Study %r (%s): %d trial(s) so far; %s %s of the configured model: %.4f",
        study.study_name,
        search.storage,
        before,
        study.direction.name.lower(),
        metric,
        baseline,
    )
    started = time.perf_counter()
    with _record(settings, search, study.study_name) as record:
        try:
            study.optimize(
                objective(settings, search, features, target),
                n_trials=search.n_trials,
                timeout=search.timeout,
                callbacks=[record.trial],
                show_progress_bar=sys.stderr.isatty() if progress is None else progress,
            )
        except KeyboardInterrupt:
            log.warning("Interrupted: writing the best trial so far.")
        seconds = time.perf_counter() - started
        trials = study.get_trials(deepcopy=False)
        counts = {
            key: sum(t.state.name == state for t in trials[before:])
            for key, state in (
                ("complete", "COMPLETE"),
                ("pruned", "PRUNED"),
                ("failed", "FAIL"),
            )
        }
        counts["study"] = len(trials)
        try:
            best = study.best_trial
        except ValueError:
            raise StageError(
                f"No trial of study {study.study_name!r} completed: nothing to write."
            ) from None
        path = write_config(
            settings,
            best.params,
            config_dir,
            header=[
                f"The best trial of the Optuna study {study.study_name!r}",
                f"({search.storage}), written by `make tune` on "
                f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC:",
                f"{metric} {best.value:.4f} (trial {best.number}, {len(trials)} "
                f"trials); the configured {settings.model.name}: {baseline:.4f}.",
                f'Train it: make train ARGS="data={settings.data.name} '
                f'model={settings.model.name}{TUNED}"',
            ],
        )
        result = TuneResult(
            study_name=study.study_name,
            metric=metric,
            best_value=float(best.value),
            best_params=dict(best.params),
            baseline_value=baseline,
            trials=counts,
            config_file=path,
            seconds=seconds,
{%- if cookiecutter.use_mlflow == 'yes' %}
            mlflow_run_id=record.run_id,
{%- endif %}
        )
        record.summary(result)
    if not task.better(metric, result.best_value, baseline):
        log.warning(
            "No trial beat the configured model (%s %.4f vs %.4f): widen the search "
            "space or add trials before training %s.",
            metric,
            result.best_value,
            baseline,
            path,
        )
    log.info(
        "%d trial(s) in %.1f s (%d complete, %d pruned, %d failed); best %s %.4f "
        "(configured: %.4f): %s; wrote %s",
        len(trials) - before,
        seconds,
        counts["complete"],
        counts["pruned"],
        counts["failed"],
        metric,
        result.best_value,
        baseline,
        result.best_params,
        path,
    )
    return result


def write_config(
    settings: Settings,
    params: dict[str, Any],
    config_dir: Path = DEFAULT_CONFIG_DIR,
    header: Sequence[str] = (),
) -> Path:
    """Write conf/model/<model>_tuned.yaml: the model config with these parameters."""
    model = with_params(settings, params).model
    path = Path(config_dir) / "model" / f"{model.name}{TUNED}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False)
    path.write_text("".join(f"# {line}\n" for line in header) + body, encoding="utf-8")
    return path
