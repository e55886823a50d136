"""Shared fixtures: settings composed from the real conf/, writing to a temp folder."""

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import data, features
from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.settings import Settings

CONFIG_DIR = Path(__file__).resolve().parents[1] / "conf"


{%- if cookiecutter.use_mlflow == 'yes' %}


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory) -> str:
    """One MLflow store for the whole session (creating its tables takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
{%- endif %}


@pytest.fixture
{%- if cookiecutter.use_mlflow == 'yes' %}
def make_settings(tmp_path, monkeypatch, tracking_uri):
    """Build settings from conf/ plus overrides, with every path inside tmp_path."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
{%- else %}
def make_settings(tmp_path, monkeypatch):
    """Build settings from conf/ plus overrides, with every path inside tmp_path."""
{%- endif %}
    monkeypatch.chdir(tmp_path)

    def build(*overrides: str) -> Settings:
        return load_settings(["train.cv_folds=2", *overrides], config_dir=CONFIG_DIR)

    return build


@pytest.fixture
def settings(make_settings) -> Settings:
    """Default settings with small, fast training runs."""
    return make_settings()


@pytest.fixture
def prepared(settings) -> Settings:
    """Settings whose raw data and train/test splits already exist."""
    data.run(settings)
    features.run(settings)
    return settings
