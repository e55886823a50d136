"""Data stage: read and validate the declared source file (`data.source`).

The source is the user's file: it is read, never written, except that a bundled sample
(`data.sample`) is written there once when the file does not exist yet.
"""

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from . import contract
from .errors import DataValidationError
from .settings import Contract, DataSettings, Settings

__all__ = ["DataValidationError", "load_sample", "read_source", "read_split", "run"]
log = logging.getLogger(__name__)


def _breast_cancer() -> pd.DataFrame:
    """Wisconsin breast cancer (ships inside scikit-learn): labels as text."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.copy()
    frame.columns = [name.replace(" ", "_") for name in bunch.feature_names] + [
        "target"
    ]
    frame["target"] = bunch.target_names[bunch.target].astype(object)
    return frame


def _diabetes() -> pd.DataFrame:
    """Diabetes progression (ships inside scikit-learn), unscaled values."""
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True, scaled=False).frame


# data.sample -> the function that returns it.
SAMPLES: dict[str, Callable[[], pd.DataFrame]] = {
    "breast_cancer": _breast_cancer,
    "diabetes": _diabetes,
}


def load_sample(name: str) -> pd.DataFrame:
    """One of the bundled sample datasets, as a data frame."""
    return SAMPLES[name]()


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write a frame as CSV or Parquet, by the file's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def read_source(data: DataSettings) -> pd.DataFrame:
    """Read the declared source and validate it: features and target, typed."""
    path = data.source
    if not path.is_file():
        hint = (
            "run `make data` to write the sample there"
            if data.sample
            else "put your file there, or point data.source at it"
        )
{%- if cookiecutter.use_dvc == 'yes' %}
        if path.with_name(f"{path.name}.dvc").is_file():  # a clone without the data
            hint = (
                f"DVC tracks it ({path.name}.dvc): `dvc pull` fetches it from the "
                "remote, a shared one (the default is a folder on the machine that "
                "pushed it: README, Remote)"
            )
{%- endif %}
        raise FileNotFoundError(f"data.source: {path} not found: {hint}.")
    frame = contract.read_table(path, data)
    return contract.validate(data, frame, source=str(path), ignore=data.ignore)


def read_split(terms: Contract, path: Path) -> pd.DataFrame:
    """Read a train or test split written by the features stage, validated."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `make data` first.")
    return contract.validate(terms, contract.read_table(path, terms), source=str(path))


def run(settings: Settings) -> Path:
    """Write the sample to `data.source` if it is declared and absent; validate."""
    data = settings.data
    if not data.source.is_file() and data.sample:
        write_table(load_sample(data.sample), data.source)
        log.info("Wrote the %s sample to %s", data.sample, data.source)
    frame = read_source(data)
    log.info(
        "%s: %d rows, %d features and the target %r match the %r contract",
        data.source,
        len(frame),
        len(data.features),
        data.target,
        data.name,
    )
    return data.source
