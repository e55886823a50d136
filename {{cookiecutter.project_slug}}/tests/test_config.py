"""Every config in conf/ composes and validates; mistakes are errors naming the key.

Compositions are cached (`config.compose`): the last tests show that a cached one is
what Hydra composes, and that nothing that changes it is ever answered from the cache.
"""

import json
import re
import shutil
from functools import cache

import pytest
import yaml
from pydantic import TypeAdapter

from {{ cookiecutter.package_name }} import config
from {{ cookiecutter.package_name }}.config import (
    ConfigError,
    compose,
    load_settings,
    validate,
)
from {{ cookiecutter.package_name }}.settings import ModelSettings, Settings
from {{ cookiecutter.package_name }}.task import for_contract

from .conftest import (
    CONFIG_DIR,
    TASK_SAMPLES,
    on_a_sample,
    wine_contract,
    write_contract,
)

GROUPS = sorted(path.name for path in CONFIG_DIR.iterdir() if path.is_dir())
DATA = sorted(path.stem for path in (CONFIG_DIR / "data").glob("*.yaml"))
MODELS = sorted(path.stem for path in (CONFIG_DIR / "model").glob("*.yaml"))
# Every combination of a shipped dataset and a shipped model.
PAIRS = [(name, model) for name in DATA for model in MODELS]


def options(group: str) -> list[str]:
    """Every option (YAML file) of a config group."""
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))


@cache
def tasks_of(model: str) -> tuple[str, ...]:
    """The tasks a model config declares it does (its settings class says)."""
    raw = compose([f"model={model}"], CONFIG_DIR)["model"]
    return type(TypeAdapter(ModelSettings).validate_python(raw)).tasks


@cache
def declared_name(model: str) -> str:
    """The `name` a model config declares: its file's stem, but for a config that
    `make tune` writes (`random_forest_tuned.yaml` declares `random_forest`)."""
    return compose([f"model={model}"], CONFIG_DIR)["model"]["name"]


@cache
def task_of(name: str) -> str:
    """The task a shipped data contract declares."""
    return compose([f"data={name}"], CONFIG_DIR)["data"]["task"]


def composed(name: str) -> dict:
    """The composed config of a shipped dataset with a model that does its task."""
    return compose([f"data={name}", "model=random_forest"], CONFIG_DIR)


def first_feature(raw: dict) -> str:
    """The name of the first feature of a composed config's contract."""
    return next(iter(raw["data"]["features"]))


def test_config_has_the_expected_groups():
    assert {"data", "model", "train"} <= set(GROUPS)


def test_both_tasks_ship_a_dataset_and_a_model():
    assert {task_of(name) for name in DATA} == {"classification", "regression"}
    for task in ("classification", "regression"):
        assert any(task in tasks_of(model) for model in MODELS), task


def test_the_default_config_composes():
    settings = load_settings(config_dir=CONFIG_DIR)
    assert isinstance(settings, Settings)
    assert settings.data.task in settings.model.tasks


@pytest.mark.parametrize(("name", "model"), PAIRS)
def test_every_dataset_and_model_compose_when_the_model_does_the_task(name, model):
    overrides = [f"data={name}", f"model={model}"]
    if task_of(name) in tasks_of(model):
        settings = load_settings(overrides, config_dir=CONFIG_DIR)
        assert (settings.data.name, settings.model.name) == (name, declared_name(model))
    else:
        with pytest.raises(ConfigError, match=r"model\.name") as excinfo:
            load_settings(overrides, config_dir=CONFIG_DIR)
        assert declared_name(model) in str(excinfo.value)
        assert task_of(name) in str(excinfo.value)


@pytest.mark.parametrize(
    ("group", "option"),
    [
        (group, option)
        for group in GROUPS
        if group in Settings.model_fields and group not in ("data", "model")
        for option in options(group)
    ],
)
def test_every_option_of_the_other_groups_composes(group, option):
    assert isinstance(load_settings([f"{group}={option}"], CONFIG_DIR), Settings)


def test_unknown_key_in_override_is_refused():
    with pytest.raises(ConfigError, match="n_estimatorz"):
        load_settings(
            ["model=random_forest", "model.n_estimatorz=5"], config_dir=CONFIG_DIR
        )


def test_added_unknown_key_is_refused_with_its_path():
    with pytest.raises(ConfigError, match=r"model\.random_forest\.n_estimatorz"):
        load_settings(
            ["model=random_forest", "+model.n_estimatorz=5"], config_dir=CONFIG_DIR
        )


def test_unknown_group_option_is_refused():
    with pytest.raises(ConfigError, match="no_such_model"):
        load_settings(["model=no_such_model"], config_dir=CONFIG_DIR)


@pytest.mark.parametrize(
    ("task", "sample"),
    [("classification", "breast_cancer"), ("regression", "diabetes")],
)
def test_tests_run_on_the_sample_of_the_task_when_your_data_is_the_default(
    conf_copy, task, sample
):
    """`on_a_sample` (conftest): with a contract of yours as the default, the tests
    that need data run on the bundled sample of its task; a dataset they name stands."""
    terms = {**wine_contract(), "name": "yours", "task": task}
    write_contract(conf_copy, terms)
    config = conf_copy / "config.yaml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(\s*- data: )\w+$", r"\g<1>yours", text, count=1)
    config.write_text(text, encoding="utf-8")
    assert on_a_sample([], conf_copy) == [f"data={sample}"]
    assert on_a_sample(["data.test_size=0.3"], conf_copy) == [
        f"data={sample}",
        "data.test_size=0.3",
    ]
    for named in (["data=wine"], ["model=ridge", "+data=x"], ["~data"]):
        assert on_a_sample(named, conf_copy) == named


def test_unknown_key_in_yaml_is_refused_with_its_path():
    raw = compose(config_dir=CONFIG_DIR)
    raw["train"]["learning_rat"] = 0.1
    with pytest.raises(ConfigError, match=r"train\.learning_rat"):
        validate(raw)


def test_unknown_key_of_a_feature_is_refused_with_its_path():
    raw = compose(config_dir=CONFIG_DIR)
    column = next(iter(raw["data"]["features"]))
    raw["data"]["features"][column]["nulable"] = True
    path = re.escape(f"data.features.{column}.nulable")  # any column name: "Price ($)"
    with pytest.raises(ConfigError, match=path):
        validate(raw)


def test_typo_in_a_contract_file_is_refused_with_its_path(tmp_path):
    conf = shutil.copytree(CONFIG_DIR, tmp_path / "conf")
    # A bundled sample's contract: it spells split_seed out (yours may leave it out).
    name = TASK_SAMPLES["classification"]
    path = conf / "data" / f"{name}.yaml"
    terms = yaml.safe_load(path.read_text(encoding="utf-8"))
    terms["split_sed"] = terms.pop("split_seed")
    path.write_text(yaml.safe_dump(terms), encoding="utf-8")
    model = next(m for m in MODELS if terms["task"] in tasks_of(m))
    with pytest.raises(ConfigError, match=r"data\.split_sed"):
        load_settings([f"data={name}", f"model={model}"], config_dir=conf)


def test_unquoted_yes_and_no_classes_are_refused_with_the_way_out(conf_copy):
    name = TASK_SAMPLES["classification"]
    path = conf_copy / "data" / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    terms = yaml.safe_load(text)
    old = ", ".join(map(str, terms["classes"]))
    text = text.replace(f"classes: [{old}]", "classes: [no, yes]")
    assert "classes: [no, yes]" in text  # YAML: [False, True]
    path.write_text(text, encoding="utf-8")
    model = next(m for m in MODELS if "classification" in tasks_of(m))
    with pytest.raises(ConfigError, match=r"data\.classes") as refused:
        load_settings([f"data={name}", f"model={model}"], config_dir=conf_copy)
    assert "quote a class or category spelled so" in str(refused.value)


def test_a_yaml_syntax_error_is_refused_naming_the_file(conf_copy):
    path = conf_copy / "train" / "default.yaml"
    path.write_text("seed: {42\n  cv_folds: 5\n", encoding="utf-8")  # unclosed {
    with pytest.raises(ConfigError, match=r"train[/\\]default\.yaml"):
        load_settings([], config_dir=conf_copy)


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


@pytest.mark.parametrize("name", ["breast_cancer", "diabetes"])
def test_primary_metric_must_be_one_of_the_task(name):
    raw = composed(name)
    task = for_contract(validate(raw).data)
    for metric in task.metrics:
        raw["train"]["primary_metric"] = metric
        assert validate(raw).train.primary_metric == metric
    other = "rmse" if task.name == "classification" else "roc_auc"
    raw["train"]["primary_metric"] = other
    with pytest.raises(ConfigError, match=r"train\.primary_metric") as excinfo:
        validate(raw)
    assert other in str(excinfo.value)


def test_primary_metric_override_reaches_the_settings():
    overrides = ["data=diabetes", "model=random_forest", "train.primary_metric=mae"]
    assert load_settings(overrides, CONFIG_DIR).train.primary_metric == "mae"


def categorical_without_categories(raw):
    """A categorical feature that lists no categories."""
    raw["data"]["features"][first_feature(raw)] = {"kind": "categorical"}


def min_above_max(raw):
    """Bounds the wrong way round."""
    raw["data"]["features"][first_feature(raw)] = {"min": 5, "max": 1}


def bounds_on_a_categorical(raw):
    """Bounds on a feature that is not a number."""
    raw["data"]["features"][first_feature(raw)] = {
        "kind": "categorical",
        "categories": ["a", "b"],
        "max": 3,
    }


def classes_missing(raw):
    """Classification without its labels."""
    raw["data"]["task"] = "classification"
    raw["data"].pop("classes", None)
    raw["data"].pop("positive_class", None)


def classes_on_regression(raw):
    """Regression with class labels."""
    raw["data"]["task"] = "regression"
    raw["data"]["classes"] = ["a", "b"]
    raw["data"].pop("positive_class", None)


def target_as_feature(raw):
    """The target listed among the features."""
    raw["data"]["features"][raw["data"]["target"]] = {"kind": "numeric"}


def ignore_overlapping_features(raw):
    """A column both ignored and used."""
    raw["data"]["ignore"] = [first_feature(raw)]


def source_not_a_table(raw):
    """A source that is neither CSV nor Parquet."""
    raw["data"]["source"] = "data/raw/rows.xlsx"


def a_number_among_na_values(raw):
    """A sentinel number as a spelling of missing (pandas matches it by value)."""
    raw["data"]["na_values"] = ["NULL", "-999"]


@pytest.mark.parametrize(
    ("name", "change", "where", "says"),
    [
        ("breast_cancer", categorical_without_categories, "features", "categories"),
        ("diabetes", a_number_among_na_values, "data.na_values", "['-999'] read as"),
        ("diabetes", min_above_max, "features", "above max"),
        ("diabetes", bounds_on_a_categorical, "features", "only apply to numeric"),
        ("diabetes", classes_missing, "data", "needs `classes`"),
        ("breast_cancer", classes_on_regression, "data", "regression takes no"),
        ("diabetes", target_as_feature, "data", "also listed as a feature"),
        ("breast_cancer", ignore_overlapping_features, "data", "also used"),
        ("diabetes", source_not_a_table, "data.source", ".parquet file, not .xlsx"),
    ],
)
def test_inconsistent_contract_is_refused_naming_where(name, change, where, says):
    raw = composed(name)
    validate(raw)  # valid before the change
    column = first_feature(raw)
    change(raw)
    with pytest.raises(ConfigError) as excinfo:
        validate(raw)
    message = str(excinfo.value)
    assert says in message
    location = f"data.features.{column}" if where == "features" else where
    assert f"  {location}" in message, message


# --------------------------------------------------------------- composition cache
@pytest.fixture
def entries(tmp_path, monkeypatch):
    """An empty composition cache of this test's own; the folder of its entries."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(config.CACHE_SWITCH, raising=False)
    return tmp_path / "cache" / "{{ cookiecutter.package_name }}" / "config"


def without_hydra(monkeypatch) -> None:
    """Make any composition by Hydra fail the test."""
    import hydra

    def refuse(*args, **kwargs):
        raise AssertionError("Hydra composed a configuration the cache holds")

    monkeypatch.setattr(hydra, "compose", refuse)


def test_a_composition_is_cached_and_read_back_without_hydra(
    entries, conf_copy, monkeypatch
):
    first = compose(["model=random_forest"], conf_copy)
    assert len(list(entries.glob("*.json"))) == 1
    without_hydra(monkeypatch)
    assert compose(["model=random_forest"], conf_copy) == first
    assert validate(compose(["model=random_forest"], conf_copy)).model.name == (
        "random_forest"
    )


def test_an_edit_to_conf_or_another_override_is_a_new_composition(entries, conf_copy):
    assert compose([], conf_copy)["train"]["cv_folds"] == 5
    path = conf_copy / "train" / "default.yaml"
    path.write_text(path.read_text().replace("cv_folds: 5", "cv_folds: 7"))
    assert compose([], conf_copy)["train"]["cv_folds"] == 7
    assert compose(["train.cv_folds=3"], conf_copy)["train"]["cv_folds"] == 3
    (conf_copy / "model" / "extra.yaml").write_text("name: ridge\n")  # any new file
    assert compose([], conf_copy)["train"]["cv_folds"] == 7
    assert len(list(entries.glob("*.json"))) == 4


def test_a_composition_with_a_resolver_is_never_cached(entries, conf_copy, monkeypatch):
    path = conf_copy / "config.yaml"
    path.write_text(path.read_text() + "\nnote: ${oc.env:NOTE,none}\n")
    monkeypatch.setenv("NOTE", "first")
    assert compose([], conf_copy)["note"] == "first"
    monkeypatch.setenv("NOTE", "second")
    assert compose([], conf_copy)["note"] == "second"
    assert not list(entries.glob("*.json"))


def test_the_cache_keeps_the_newest_and_heals(entries, conf_copy, monkeypatch):
    monkeypatch.setattr(config, "CACHE_ENTRIES", 2)
    for folds in (2, 3, 4):
        compose([f"train.cv_folds={folds}"], conf_copy)
    assert len(list(entries.glob("*.json"))) == 2
    entry = max(entries.glob("*.json"), key=lambda path: path.stat().st_mtime)
    entry.write_text("{")  # cut short
    assert compose(["train.cv_folds=4"], conf_copy)["train"]["cv_folds"] == 4
    assert json.loads(entry.read_text())["train"]["cv_folds"] == 4


def test_composing_works_with_the_cache_off_or_unwritable(
    entries, conf_copy, monkeypatch
):
    monkeypatch.setenv(config.CACHE_SWITCH, "0")
    assert compose([], conf_copy)["train"]["cv_folds"] == 5
    assert not entries.exists()
    monkeypatch.delenv(config.CACHE_SWITCH)
    entries.parent.mkdir(parents=True)
    entries.write_text("a file where the cache's folder should be")
    assert compose([], conf_copy)["train"]["cv_folds"] == 5
