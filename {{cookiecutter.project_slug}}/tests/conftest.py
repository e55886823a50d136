"""Shared fixtures: settings composed from the real conf/, writing to a temp folder.

The same tests run whatever the task of the default dataset: what differs between
tasks is read from the contract at run time (`task.for_contract`), and both tasks are
exercised explicitly through `data=breast_cancer`, `data=diabetes` and a three-class
dataset written in a temporary folder (`data=tests_wine`: a name no user's
contract is likely to hold). A trained model is judged against
a dummy baseline on the same split, never against numbers of the sample data. When
the default dataset is your own, the tests that need data run on the bundled sample of
its task (`on_a_sample`): they need no data file of yours, and pass wherever the
project is cloned.
"""

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }} import (
    contract,
    data,
    evaluate,
    features,
    train,
)
from {{ cookiecutter.package_name }}.config import (
    compose,
    load_settings,
    validate,
)
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.task import Task, for_contract

CONFIG_DIR = Path(__file__).resolve().parents[1] / "conf"
# A model that does both tasks, small enough to train in a second.
FOREST = ("model=random_forest", "model.n_estimators=20", "model.n_jobs=1")


@pytest.fixture(scope="session", autouse=True)
def config_cache(tmp_path_factory):
    """The session's own cache of compositions (`config.compose`), not the user's:
    shared by the session's tests (and the commands they run), as safe as the cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield

{%- if cookiecutter.use_mlflow == 'yes' %}


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory) -> str:
    """The session's tracking store (MLFLOW_TRACKING_URI), never the project's own.

    One store for the whole session: creating an MLflow database takes seconds.
    """
    return f"sqlite:///{(tmp_path_factory.mktemp('mlflow') / 'mlflow.db').as_posix()}"
{%- endif %}


# The bundled sample of each task. The tests run on one, whatever conf/config.yaml
# makes the default: your own data file may be absent where they run (a fresh clone,
# CI: data is seldom in git), and what the tests check is the code, on data whose
# columns they know. `make data` checks your file against its contract.
TASK_SAMPLES = {"classification": "breast_cancer", "regression": "diabetes"}


def on_a_sample(overrides=(), config_dir: Path = CONFIG_DIR) -> list[str]:
    """`overrides`, plus `data=<sample>` when they name no dataset and the default
    one is not a bundled sample: the sample of the default dataset's task."""
    overrides = list(overrides)
    if any(o.split("=", 1)[0].lstrip("+~") == "data" for o in overrides):
        return overrides
    default = compose([], config_dir)["data"]
    if default.get("sample"):
        return overrides
    return [f"data={TASK_SAMPLES[default['task']]}", *overrides]


@pytest.fixture
def sample_data() -> list[str]:
    """The override putting the CLI on a bundled sample (`on_a_sample`): [] when the
    default dataset is one."""
    return on_a_sample()


@pytest.fixture
{%- if cookiecutter.use_mlflow == 'yes' %}
def make_settings(tmp_path, monkeypatch, tracking_uri):
    """Build settings from conf/ plus overrides, with every path inside tmp_path (on
    a bundled sample unless the overrides name a dataset: `on_a_sample`)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
{%- else %}
def make_settings(tmp_path, monkeypatch):
    """Build settings from conf/ plus overrides, with every path inside tmp_path (on
    a bundled sample unless the overrides name a dataset: `on_a_sample`)."""
{%- endif %}
    monkeypatch.chdir(tmp_path)

    def build(*overrides: str, config_dir: Path = CONFIG_DIR) -> Settings:
        overrides = ("train.cv_folds=2", *overrides)
        return load_settings(on_a_sample(overrides, config_dir), config_dir=config_dir)

    return build


@pytest.fixture
def settings(make_settings) -> Settings:
    """Default settings with small, fast training runs."""
    return make_settings()


@pytest.fixture
def prepared(settings) -> Settings:
    """Settings whose source data and train/test splits already exist."""
    data.run(settings)
    features.run(settings)
    return settings


@pytest.fixture
def conf_copy(tmp_path) -> Path:
    """A copy of conf/ to add contracts to (then `data=<name>` composes them)."""
    return Path(shutil.copytree(CONFIG_DIR, tmp_path / "conf"))


# The three-class dataset a user might bring: string labels, column names with
# spaces, capitals and punctuation, a categorical and a numeric column with missing
# values, a boolean, an integer and an id column to ignore.
WINE_TARGET = "Cultivar"
WINE_CLASSES = ["Barolo", "Grignolino", "Barbera"]
WINE_COLUMNS = {
    "alcohol": "Alcohol %",
    "malic_acid": "Malic Acid",
    "magnesium": "Magnesium",
    "color_intensity": "Color Intensity",
    "od280/od315_of_diluted_wines": "OD280/OD315",
}


def wine_frame() -> pd.DataFrame:
    """scikit-learn's wine data as a user's file: three string classes, odd columns."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.rename(columns=WINE_COLUMNS)
    rng = np.random.default_rng(7)
    frame.insert(0, "Sample ID", [f"W{index:04d}" for index in range(len(frame))])
    frame[WINE_TARGET] = np.array(WINE_CLASSES, dtype=object)[frame.pop("target")]
    levels = pd.cut(frame["Color Intensity"], [0, 3.5, 7, 100], labels=False)
    frame["Color Band"] = np.array(["pale", "medium", "deep"], dtype=object)[levels]
    frame.loc[rng.random(len(frame)) < 0.1, "Color Band"] = None
    frame["Oak Aged"] = rng.random(len(frame)) < 0.5
    frame.loc[rng.random(len(frame)) < 0.08, "Malic Acid"] = np.nan
    return frame


def wine_contract() -> dict:
    """The contract of `wine_frame`, as conf/data/tests_wine.yaml holds it."""
    numbers = [
        name
        for name in wine_frame().columns
        if name not in ("Sample ID", WINE_TARGET, "Color Band", "Oak Aged")
    ]
    features = {name: {"kind": "numeric", "min": 0} for name in numbers}
    features["Magnesium"] = {"kind": "integer", "min": 0}
    features["Malic Acid"] = {"kind": "numeric", "min": 0, "nullable": True}
    features["Color Band"] = {
        "kind": "categorical",
        "categories": ["pale", "medium", "deep"],
        "nullable": True,
    }
    features["Oak Aged"] = {"kind": "boolean"}
    return {
        "name": "tests_wine",
        "source": "data/raw/tests_wine.csv",
        "sample": None,
        "task": "classification",
        "target": WINE_TARGET,
        "classes": list(WINE_CLASSES),
        "ignore": ["Sample ID"],
        "test_size": 0.25,
        "split_seed": 3,
        "features": features,
    }


def write_contract(conf: Path, terms: dict) -> Path:
    """Write a contract into a conf/ directory as data/<name>.yaml."""
    path = conf / "data" / f"{terms['name']}.yaml"
    path.write_text(yaml.safe_dump(terms, sort_keys=False), encoding="utf-8")
    return path


def write_wine(root: Path, conf: Path) -> Path:
    """Write the wine file under root and its contract into conf/; return the file."""
    terms = wine_contract()
    path = root / terms["source"]
    path.parent.mkdir(parents=True, exist_ok=True)
    wine_frame().to_csv(path, index=False)
    write_contract(conf, terms)
    return path


@pytest.fixture
def wine(make_settings, conf_copy, tmp_path) -> Callable[..., Settings]:
    """Build settings on the wine data (written in tmp_path) with a random forest."""
    write_wine(tmp_path, conf_copy)

    def build(*overrides: str) -> Settings:
        return make_settings(
            "data=tests_wine", *FOREST, *overrides, config_dir=conf_copy
        )

    return build


def rooted(root: Path, overrides=(), config_dir: Path = CONFIG_DIR) -> Settings:
    """Settings whose every path is absolute, under root (no chdir needed)."""
    raw = compose(on_a_sample(["train.cv_folds=2", *overrides], config_dir), config_dir)
    raw["data"]["source"] = (root / raw["data"]["source"]).as_posix()
    raw["paths"] = {
        key: (root / value).as_posix() for key, value in raw["paths"].items()
    }
    return validate(raw)


def split(settings: Settings, which: str = "test") -> tuple[pd.DataFrame, pd.Series]:
    """(model frame, target) of the train or test split the features stage wrote."""
    path = getattr(settings.paths, f"{which}_data")
    return contract.split_xy(settings.data, data.read_split(settings.data, path))


def dummy(task: Task):
    """The baseline a model must beat (`Task.baseline`): class priors, or the mean."""
    return task.baseline()


def dummy_metrics(settings: Settings) -> dict[str, float]:
    """Test-split metrics of the dummy baseline fitted on the same training split."""
    task = for_contract(settings.data)
    baseline = dummy(task).fit(*split(settings, "train"))
    features, target = split(settings, "test")
    return task.compute(target.to_numpy(), task.outputs(baseline, features))


def dummy_cv_metrics(settings: Settings) -> dict[str, float]:
    """Cross-validated metrics of the dummy baseline, on the folds training uses."""
    baseline = dummy(for_contract(settings.data))
    return train.cross_validation_metrics(
        settings, *split(settings, "train"), estimator=baseline
    )


def assert_beats_dummy(settings: Settings, metric: str, model: dict, baseline: dict):
    """The model's metric is strictly better than the dummy's, in its direction."""
    task = for_contract(settings.data)
    assert task.better(metric, model[metric], baseline[metric]), (
        f"{settings.data.name}/{settings.model.name}: {metric} {model[metric]:.4f} "
        f"does not beat the dummy baseline's {baseline[metric]:.4f}"
    )


# Trained once per session (`trained(case)`): the default config, and each task
# explicitly with a model that does both.
CASES = {
    "default": (),
    "breast_cancer": ("data=breast_cancer", *FOREST),
    "diabetes": ("data=diabetes", *FOREST),
    "wine": ("data=tests_wine", *FOREST),
}


@dataclass(frozen=True)
class Trained:
    """A model trained and evaluated once per session: treat it as read only."""

    settings: Settings
    result: train.TrainResult
    metrics: dict[str, float]


@pytest.fixture(scope="session")
{%- if cookiecutter.use_mlflow == 'yes' %}
def trained(tmp_path_factory, tracking_uri) -> Callable[[str], Trained]:
{%- else %}
def trained(tmp_path_factory) -> Callable[[str], Trained]:
{%- endif %}
    """Train and evaluate a case of CASES on first use; later calls reuse it."""
    conf = Path(shutil.copytree(CONFIG_DIR, tmp_path_factory.mktemp("trained") / "c"))
    write_contract(conf, wine_contract())
    cache: dict[str, Trained] = {}

    def get(case: str) -> Trained:
        if case not in cache:
            root = tmp_path_factory.mktemp(case)
            if case == "wine":
                write_wine(root, conf)
            settings = rooted(root, CASES[case], conf)
            with pytest.MonkeyPatch.context() as patch:
{%- if cookiecutter.use_mlflow == 'yes' %}
                patch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
{%- endif %}
                patch.chdir(root)  # what tools write next to the project stays here
                data.run(settings)
                features.run(settings)
                result = train.run(settings)
                metrics = evaluate.run(settings)
            cache[case] = Trained(settings, result, metrics)
        return cache[case]

    return get
