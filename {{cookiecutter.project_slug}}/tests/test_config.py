"""Every config in conf/ composes and validates; mistakes are errors naming the key."""

import pytest

from {{ cookiecutter.package_name }}.config import (
    ConfigError,
    compose,
    load_settings,
    validate,
)
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import CONFIG_DIR

GROUPS = sorted(path.name for path in CONFIG_DIR.iterdir() if path.is_dir())


def group_options():
    """(group, option) for every YAML file in every config group."""
    return [
        (group, path.stem)
        for group in GROUPS
        for path in sorted((CONFIG_DIR / group).glob("*.yaml"))
    ]


def test_config_has_the_expected_groups():
    assert {"data", "model", "train"} <= set(GROUPS)


@pytest.mark.parametrize(("group", "option"), group_options())
def test_every_config_option_composes_and_validates(group, option):
    settings = load_settings([f"{group}={option}"], config_dir=CONFIG_DIR)
    assert isinstance(settings, Settings)
    if group == "model":
        assert settings.model.name == option


def test_unknown_key_in_override_is_refused():
    with pytest.raises(ConfigError, match="n_estimatorz"):
        load_settings(
            ["model=random_forest", "model.n_estimatorz=5"], config_dir=CONFIG_DIR
        )


def test_unknown_group_option_is_refused():
    with pytest.raises(ConfigError, match="no_such_model"):
        load_settings(["model=no_such_model"], config_dir=CONFIG_DIR)


def test_unknown_key_in_yaml_is_refused_with_its_path():
    raw = compose(config_dir=CONFIG_DIR)
    raw["train"]["learning_rat"] = 0.1
    with pytest.raises(ConfigError, match=r"train\.learning_rat"):
        validate(raw)


def test_wrong_type_is_refused_with_its_path():
    with pytest.raises(ConfigError, match=r"model\.random_forest\.n_estimators"):
        load_settings(
            ["model=random_forest", "model.n_estimators=many"], config_dir=CONFIG_DIR
        )


def test_out_of_range_value_is_refused():
    with pytest.raises(ConfigError, match=r"data\.test_size"):
        load_settings(["data.test_size=1.5"], config_dir=CONFIG_DIR)


def test_one_fold_is_refused():
    with pytest.raises(ConfigError, match=r"train\.cv_folds"):
        load_settings(["train.cv_folds=1"], config_dir=CONFIG_DIR)


def test_missing_config_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config.yaml"):
        load_settings(config_dir=tmp_path)


def test_settings_are_frozen():
    settings = load_settings(config_dir=CONFIG_DIR)
    with pytest.raises(ValueError):
        settings.train.seed = 1
