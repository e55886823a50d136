"""Every model config trains; the model and its metadata are written."""

import json

import joblib
import pytest

from {{ cookiecutter.package_name }} import contract, train
from {{ cookiecutter.package_name }}.data import read_csv
from {{ cookiecutter.package_name }}.features import split_xy

from .conftest import CONFIG_DIR

MODELS = sorted(path.stem for path in (CONFIG_DIR / "model").glob("*.yaml"))


def test_every_model_config_has_an_estimator():
    assert set(MODELS) == set(train.ESTIMATORS)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_trains_and_predicts(make_settings, model):
    from {{ cookiecutter.package_name }} import data, features

    overrides = [f"model={model}"]
    if model == "random_forest":
        overrides.append("model.n_estimators=10")
    settings = make_settings(*overrides)
    data.run(settings)
    features.run(settings)

    result = train.run(settings)

    x, _ = split_xy(read_csv(settings.paths.test_data))
    assert result.pipeline.predict(x).shape == (len(x),)
    reloaded = joblib.load(settings.paths.model_file)
    assert (reloaded.predict(x) == result.pipeline.predict(x)).all()
    metadata = json.loads(settings.paths.metadata_file.read_text(encoding="utf-8"))
    assert metadata["model_name"] == model
    assert list(metadata["features"]) == list(contract.FEATURE_NAMES)
    assert f"cv_{settings.train.primary_metric}" in metadata["cv_metrics"]


def test_cross_validation_can_be_turned_off(make_settings):
    from {{ cookiecutter.package_name }} import data, features

    settings = make_settings("train.cv_folds=0")
    data.run(settings)
    features.run(settings)
    assert train.run(settings).cv_metrics == {}


def test_seed_makes_training_reproducible(make_settings):
    from {{ cookiecutter.package_name }} import data, features

    settings = make_settings("model=random_forest", "model.n_estimators=5")
    data.run(settings)
    features.run(settings)
    x, _ = split_xy(read_csv(settings.paths.test_data))
    x_train, y_train = split_xy(read_csv(settings.paths.train_data))
    first = train.build_pipeline(settings).fit(x_train, y_train)
    second = train.build_pipeline(settings).fit(x_train, y_train)
    assert (first.predict(x) == second.predict(x)).all()


def test_training_without_data_explains_what_to_run(settings):
    with pytest.raises(FileNotFoundError, match="make data"):
        train.run(settings)
