"""Training: every model does its tasks, beats a dummy, and saves its contract."""

import json
import math

import pytest

from {{ cookiecutter.package_name }} import (
    artifacts,
    contract,
    data,
    features,
    train,
)
from {{ cookiecutter.package_name }}.config import ConfigError
from {{ cookiecutter.package_name }}.errors import ContractError
from {{ cookiecutter.package_name }}.task import for_contract

from .conftest import (
    CASES,
    CONFIG_DIR,
    assert_beats_dummy,
    dummy_cv_metrics,
    dummy_metrics,
    split,
)

MODELS = sorted(path.stem for path in (CONFIG_DIR / "model").glob("*.yaml"))


def test_every_model_has_an_estimator_for_each_task_it_does(settings):
    from pydantic import TypeAdapter

    from {{ cookiecutter.package_name }}.config import compose
    from {{ cookiecutter.package_name }}.settings import ModelSettings

    declared = set()
    for name in MODELS:
        raw = compose([f"model={name}"], CONFIG_DIR)["model"]
        model = TypeAdapter(ModelSettings).validate_python(raw)
        assert model.tasks, name
        declared |= {(model.name, task) for task in model.tasks}
    assert declared == set(train.ESTIMATORS)


@pytest.mark.parametrize("name", ["breast_cancer", "diabetes"])
def test_every_model_that_does_the_task_beats_the_dummy(make_settings, name):
    settings = make_settings(f"data={name}", "model=random_forest")
    data.run(settings)
    features.run(settings)
    rows, target = split(settings, "train")
    test_rows, test_target = split(settings, "test")
    baseline = dummy_metrics(settings)
    fitted = 0
    for model in MODELS:
        overrides = [f"data={name}", f"model={model}"]
        if model == "random_forest":
            overrides.append("model.n_estimators=10")
        try:
            candidate = make_settings(*overrides)
        except ConfigError:  # this model does not do the task
            continue
        pipeline = train.build_pipeline(candidate).fit(rows, target)
        task = for_contract(candidate.data)
        outputs = task.outputs(pipeline, test_rows)
        metrics = task.compute(test_target.to_numpy(), outputs)
        metric = task.primary(candidate.train.primary_metric)
        assert_beats_dummy(candidate, metric, metrics, baseline)
        fitted += 1
    assert fitted >= 1


@pytest.mark.parametrize("case", list(CASES))
def test_training_beats_the_dummy_in_cross_validation(trained, case):
    run = trained(case)
    settings = run.settings
    metric = f"cv_{for_contract(settings.data).primary(settings.train.primary_metric)}"
    cv_metrics = run.result.cv_metrics
    assert not any(math.isnan(value) for value in cv_metrics.values()), cv_metrics
    assert_beats_dummy(settings, metric, cv_metrics, dummy_cv_metrics(settings))


@pytest.mark.parametrize("case", list(CASES))
def test_metadata_carries_the_contract_example_and_fingerprint(trained, case):
    run = trained(case)
    settings, metadata = run.settings, run.result.metadata
    paths = settings.paths
    on_disk = json.loads(paths.metadata_file.read_text(encoding="utf-8"))
    assert on_disk == metadata
    task = for_contract(settings.data)
    assert metadata["model_name"] == settings.model.name
    assert metadata["dataset"] == settings.data.name
    assert metadata["contract"] == settings.data.contract().model_dump(mode="json")
    assert artifacts.contract_of(metadata) == settings.data.contract()
    assert metadata["primary_metric"] == task.primary(settings.train.primary_metric)
    assert set(metadata["cv_metrics"]) == {f"cv_{name}" for name in task.metrics}
    assert metadata["model_sha256"] == artifacts.fingerprint(paths.model_file)
    rows, _ = split(settings, "train")
    assert metadata["train_rows"] == len(rows)

    example = metadata["example"]
    assert list(example) == list(settings.data.feature_names)
    as_json = [
        {
            name: contract.json_value(settings.data.features[name], value)
            for name, value in row.items()
        }
        for row in rows.to_dict("records")
    ]
    assert example in as_json, "the example is not a row of the training data"
    kinds = {"numeric": float, "integer": int, "boolean": bool, "categorical": str}
    for name, value in example.items():
        assert type(value) is kinds[settings.data.features[name].kind], name


def test_the_saved_model_predicts_like_the_trained_one(trained):
    run = trained("wine")
    rows, _ = split(run.settings, "test")
    loaded = artifacts.load_pipeline(run.settings.paths.model_file)
    assert (loaded.predict(rows) == run.result.pipeline.predict(rows)).all()


def test_a_declared_class_without_training_rows_is_a_contract_error(wine):
    settings = wine("data.classes=[Barolo,Grignolino,Barbera,Nebbiolo]")
    data.run(settings)
    features.run(settings)
    with pytest.raises(ContractError, match="training split: 'Nebbiolo'"):
        train.run(settings)
    assert not settings.paths.model_file.exists()
    rows, target = split(settings, "train")
    many = [*settings.data.classes, *(f"C{index}" for index in range(12))]
    listed = settings.model_copy(
        update={"data": settings.data.model_copy(update={"classes": many})}
    )
    with pytest.raises(ContractError) as excinfo:
        train.check_rows(listed, rows, target)
    message = str(excinfo.value)
    assert "'Nebbiolo', 'C0'" in message and "'C8' and 3 more" in message


def test_a_feature_without_values_in_the_training_split_is_a_contract_error(wine):
    settings = wine()
    data.run(settings)
    features.run(settings)
    rows, target = split(settings, "train")
    name = next(n for n, f in settings.data.features.items() if f.kind == "numeric")
    with pytest.raises(ContractError, match=f"features: '{name}' has no value"):
        train.check_rows(settings, rows.assign(**{name: float("nan")}), target)
    # A categorical's missing value is MISSING_CATEGORY in a model frame.
    name = next(n for n, f in settings.data.features.items() if f.kind == "categorical")
    with pytest.raises(ContractError, match=f"features: '{name}' has no value"):
        train.check_rows(
            settings, rows.assign(**{name: contract.MISSING_CATEGORY}), target
        )
    train.check_rows(settings, rows, target)  # as it is: every feature has values


def test_class_weight_reaches_a_classifier_and_is_refused_for_regression(
    make_settings,
):
    for model in ("logistic_regression", "random_forest"):
        settings = make_settings(
            "data=breast_cancer", f"model={model}", "model.class_weight=balanced"
        )
        estimator = train.build_pipeline(settings).named_steps["model"]
        assert estimator.class_weight == "balanced", model
    forest = make_settings("data=diabetes", "model=random_forest")
    assert (
        "class_weight"
        not in train.build_pipeline(forest).named_steps["model"].get_params()
    )
    with pytest.raises(ConfigError, match="class_weight weighs classes"):
        make_settings(
            "data=diabetes", "model=random_forest", "model.class_weight=balanced"
        )


def test_cross_validation_can_be_turned_off(make_settings):
    settings = make_settings("train.cv_folds=0")
    data.run(settings)
    features.run(settings)
    assert train.cross_validation_metrics(settings, *split(settings, "train")) == {}


def test_seed_makes_training_reproducible(make_settings):
    settings = make_settings(
        "data=diabetes", "model=random_forest", "model.n_estimators=5"
    )
    data.run(settings)
    features.run(settings)
    rows, target = split(settings, "train")
    first = train.build_pipeline(settings).fit(rows, target)
    second = train.build_pipeline(settings).fit(rows, target)
    assert (first.predict(rows) == second.predict(rows)).all()


def test_training_without_data_explains_what_to_run(settings):
    with pytest.raises(FileNotFoundError, match="make data"):
        train.run(settings)
