"""Features stage: split the raw data; define the model's preprocessing."""

import logging

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from . import contract
from .data import read_csv
from .settings import Settings

log = logging.getLogger(__name__)


def build_preprocessor(scale: bool = True) -> StandardScaler | ColumnTransformer:
    """Return the (unfitted) preprocessing step; it becomes part of the model pipeline.

    Keeping preprocessing inside the pipeline means serving and ONNX export apply
    exactly what training applied. `scale=False` passes the contract's features
    through unchanged (for models that do not depend on the scale of their inputs).
    """
    if scale:
        return StandardScaler()
    return ColumnTransformer(
        [("features", "passthrough", list(contract.FEATURE_NAMES))]
    )


def split_xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Separate the contract's features from the target."""
    return frame[list(contract.FEATURE_NAMES)], frame[contract.TARGET]


def run(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the raw data into train and test files under `paths.processed_dir`."""
    frame = read_csv(settings.paths.raw_data)
    train, test = train_test_split(
        frame,
        test_size=settings.data.test_size,
        random_state=settings.data.split_seed,
{%- if cookiecutter.task == 'classification' %}
        stratify=frame[contract.TARGET],
{%- endif %}
    )
    settings.paths.processed_dir.mkdir(parents=True, exist_ok=True)
    train.to_csv(settings.paths.train_data, index=False)
    test.to_csv(settings.paths.test_data, index=False)
    log.info(
        "Split %d rows into %d train and %d test rows in %s",
        len(frame),
        len(train),
        len(test),
        settings.paths.processed_dir,
    )
    return train, test
