"""`make tune`: search spaces are checked first; a study resumes, writes a config."""

from pathlib import Path

import optuna
import pytest
import yaml
from pydantic import TypeAdapter

from {{ cookiecutter.package_name }} import data, features, train, tune
from {{ cookiecutter.package_name }}.config import (
    ConfigError,
    compose,
    load_settings,
)
from {{ cookiecutter.package_name }}.errors import StageError
from {{ cookiecutter.package_name }}.settings import ModelSettings
from {{ cookiecutter.package_name }}.task import for_contract

from .conftest import CONFIG_DIR, FOREST, TASK_SAMPLES, on_a_sample, split

SPACES = sorted(path.stem for path in (CONFIG_DIR / "tune").glob("*.yaml"))
# Seconds, not minutes: three trials of at most 20 trees (and two folds, conftest).
QUICK = (
    *FOREST,
    "tune.n_trials=3",
    "tune.params.n_estimators.low=5",
    "tune.params.n_estimators.high=20",
)


@pytest.fixture
def tuning(make_settings, conf_copy):
    """Build (settings, search space) from a copy of conf/, in tmp_path.

    The study's database (sqlite:///optuna.db) and the tuned model config are written
    in tmp_path and the copy of conf/, never in the project.
    """

    def build(*overrides: str):
        overrides = on_a_sample(["train.cv_folds=2", *overrides], conf_copy)
        return tune.load(overrides, config_dir=conf_copy)

    return build


def direction(settings) -> str:
    """Which way the primary metric improves: maximize or minimize."""
    task = for_contract(settings.data)
    metric = task.primary(settings.train.primary_metric)
    return "maximize" if task.metrics[metric].higher_is_better else "minimize"


def prepare(settings):
    """Write the source and the train/test splits the study reads."""
    data.run(settings)
    features.run(settings)
    return settings


@pytest.mark.parametrize("name", SPACES)
def test_every_shipped_search_space_fits_its_model(name):
    raw = compose([f"model={name}"], CONFIG_DIR)["model"]
    task = type(TypeAdapter(ModelSettings).validate_python(raw)).tasks[0]
    settings, search = tune.load(
        [f"data={TASK_SAMPLES[task]}", f"model={name}"], config_dir=CONFIG_DIR
    )
    assert search.params
    assert set(search.params) <= set(type(settings.model).model_fields)


@pytest.mark.parametrize(
    ("overrides", "key", "says"),
    [
        (
            ["+tune.params.n_estimatorz={type:int,low:5,high:20}"],
            "tune.params.n_estimatorz",
            "no parameter 'n_estimatorz'",
        ),
        (["tune.params.n_estimators.high=5"], "tune.params.n_estimators", "empty"),
        (
            ["tune.params.max_depth.choices=[]"],
            "tune.params.max_depth.choices",
            "empty list of choices",
        ),
        (
            [
                "tune.params.min_samples_leaf.log=false",
                "tune.params.min_samples_leaf.low=0",
            ],
            "tune.params.min_samples_leaf",
            "0 is not a valid min_samples_leaf",
        ),
        (
            ["tune.params.n_estimators.type=float"],
            "tune.params.n_estimators",
            "not a valid n_estimators",
        ),
        (
            ["+tune.params.n_jobs={type:int,low:1,high:2}"],
            "tune.params.n_jobs",
            "how the model runs",
        ),
        (["+tune.n_trails=5"], "tune.n_trails", "Extra inputs"),
        (["tune.n_trials=null"], "tune", "set n_trials or timeout"),
        (["tune=ridge"], "tune.params.alpha", "no parameter 'alpha'"),
        (["train.cv_folds=0"], "train.cv_folds", "2 folds or more"),
    ],
)
def test_a_bad_search_space_is_refused_before_any_trial(tuning, overrides, key, says):
    with pytest.raises(ConfigError) as excinfo:
        tuning(*FOREST, *overrides)
    message = str(excinfo.value)
    assert f"  {key}: " in message and says in message, message
    assert not Path("optuna.db").exists()


def test_a_model_without_a_search_space_is_refused(tuning):
    with pytest.raises(ConfigError, match="no_such_space.yaml"):
        tuning(*FOREST, "tune=no_such_space")


def test_a_search_space_given_in_code_is_checked_too(tuning):
    settings, search = tuning(*QUICK)
    params = search.params | {"n_estimatorz": search.params["n_estimators"]}
    with pytest.raises(ConfigError, match=r"tune\.params\.n_estimatorz"):
        tune.run(settings, search.model_copy(update={"params": params}))
    assert not Path("optuna.db").exists()


def test_the_objective_is_the_training_cross_validation(tuning):
    settings, search = tuning(*QUICK)
    prepare(settings)
    x, y = split(settings, "train")
    task = for_contract(settings.data)
    metric = f"cv_{task.primary(settings.train.primary_metric)}"
    study = optuna.create_study(direction=direction(settings))
    configured = settings.model.model_dump(include=set(search.params))
    study.enqueue_trial(configured)
    study.optimize(tune.objective(settings, search, x, y), n_trials=1)
    expected = train.cross_validation_metrics(settings, x, y)
    assert study.trials[0].value == pytest.approx(expected[metric])
    assert study.trials[0].user_attrs["cv_metrics"] == pytest.approx(expected)


def test_a_trial_the_pruner_stops_ends_after_its_first_fold(tuning):
    settings, search = tuning(*QUICK)
    prepare(settings)
    # Every value of every metric is below this bound: the pruner stops every trial.
    study = optuna.create_study(
        direction=direction(settings),
        pruner=optuna.pruners.ThresholdPruner(lower=1e12),
    )
    study.optimize(tune.objective(settings, search, *split(settings, "train")), 2)
    assert [trial.state.name for trial in study.trials] == ["PRUNED", "PRUNED"]
    assert all(list(t.intermediate_values) == [0] for t in study.trials)


def test_a_few_trials_write_a_model_config_that_trains(tuning, conf_copy):
    settings, search = tuning(*QUICK)
    result = tune.run(prepare(settings), search, config_dir=conf_copy, progress=False)

    assert result.trials["complete"] + result.trials["pruned"] == 3
    assert result.config_file == conf_copy / "model" / "random_forest_tuned.yaml"
    text = result.config_file.read_text(encoding="utf-8")
    assert text.startswith("# ") and result.study_name in text
    written = yaml.safe_load(text)
    assert written == settings.model.model_dump() | result.best_params
    tuned = load_settings(
        on_a_sample(
            [
                "train.cv_folds=2",
                "model=random_forest_tuned",
{%- if cookiecutter.use_mlflow == 'yes' %}
                "tracking.registered_model_name=tuned",
{%- endif %}
            ],
            conf_copy,
        ),
        config_dir=conf_copy,
    )
    trained = train.run(tuned)
    assert trained.cv_metrics[result.metric] == pytest.approx(result.best_value)
{%- if cookiecutter.use_mlflow == 'yes' %}
    assert trained.metadata["mlflow"]["registered_model_name"] == "tuned"
    assert trained.metadata["mlflow"]["registered_model_version"]
{%- endif %}


def test_a_second_run_resumes_the_study(tuning, conf_copy):
    settings, search = tuning(*QUICK, "tune.n_trials=1")
    prepare(settings)
    first = tune.run(settings, search, config_dir=conf_copy, progress=False)
    second = tune.run(settings, search, config_dir=conf_copy, progress=False)

    assert first.study_name == second.study_name
    assert (first.trials["study"], second.trials["study"]) == (1, 2)
    study = optuna.load_study(study_name=second.study_name, storage=search.storage)
    first_params, second_params = (trial.params for trial in study.trials)
    assert first_params != second_params, "the resumed study drew the same point"


def test_a_study_is_not_resumed_on_another_objective(tuning):
    settings, search = tuning(*QUICK)
    tune.open_study(prepare(settings), search)
    assert tune.open_study(settings, search.model_copy(update={"seed": 7}))

    settings, search = tuning(*QUICK, "train.cv_folds=3")
    with pytest.raises(StageError, match="cv_folds 2 -> 3"):
        tune.open_study(settings, search)


def test_regression_minimises_its_error(tuning, conf_copy):
    settings, search = tuning("data=diabetes", *QUICK, "tune.n_trials=2")
    result = tune.run(prepare(settings), search, config_dir=conf_copy, progress=False)

    assert result.metric == "cv_rmse"
    study = optuna.load_study(study_name=result.study_name, storage=search.storage)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    values = [trial.value for trial in study.trials if trial.value is not None]
    assert result.best_value == min(values)
{%- if cookiecutter.use_mlflow == 'yes' %}


def test_each_trial_is_a_nested_mlflow_run(tuning, conf_copy, tracking_uri):
    from mlflow import MlflowClient

    settings, search = tuning(*QUICK)
    result = tune.run(prepare(settings), search, config_dir=conf_copy, progress=False)

    client = MlflowClient(tracking_uri=tracking_uri)
    parent = client.get_run(result.mlflow_run_id)
    assert parent.data.metrics[f"best_{result.metric}"] == result.best_value
    assert f"baseline_{result.metric}" in parent.data.metrics
    assert {f"best.{key}" for key in result.best_params} <= set(parent.data.params)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert len(children) == 3
    for child in children:
        assert {f"model.{key}" for key in search.params} <= set(child.data.params)
        assert child.data.tags["tune.study"] == result.study_name
        if child.data.tags["tune.state"] == "COMPLETE":
            assert result.metric in child.data.metrics
{%- endif %}
