"""Features stage: split the source into train and test; the model's preprocessing.

The preprocessing is derived from the contract and lives inside the model pipeline, so
that serving, batch scoring and the ONNX export apply exactly what training applied.
"""

import logging

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .data import read_source
from .settings import Contract, Settings
from .task import for_contract

log = logging.getLogger(__name__)


def build_preprocessor(contract: Contract, scale: bool = True) -> ColumnTransformer:
    """Return the (unfitted) preprocessing step for the contract's features.

    - numeric, integer and boolean features: the median imputed where the contract
      says a value may be missing; standardised when `scale` (models that depend on
      the scale of their inputs);
    - categoricals: one-hot over the contract's categories; an unknown category, or a
      missing one, is all zeros (never an error).
    """
    numbers = [n for n, f in contract.features.items() if f.kind != "categorical"]
    missing = [n for n in numbers if contract.features[n].nullable]
    complete = [n for n in numbers if not contract.features[n].nullable]
    categorical = {
        n: f.categories for n, f in contract.features.items() if f.kind == "categorical"
    }
    steps = []
    if complete:
        steps.append(
            ("numeric", StandardScaler() if scale else "passthrough", complete)
        )
    if missing:
        imputer = SimpleImputer(strategy="median")
        steps.append(
            (
                "numeric_missing",
                (
                    Pipeline([("impute", imputer), ("scale", StandardScaler())])
                    if scale
                    else imputer
                ),
                missing,
            )
        )
    if categorical:
        encoder = OneHotEncoder(
            categories=list(categorical.values()),
            handle_unknown="ignore",
            sparse_output=False,
            dtype="float64",
        )
        steps.append(("categorical", encoder, list(categorical)))
    return ColumnTransformer(steps, verbose_feature_names_out=False)


def split(settings: Settings, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test rows (stratified on the class for classification)."""
    target = frame[settings.data.target]
    return train_test_split(
        frame,
        test_size=settings.data.test_size,
        random_state=settings.data.split_seed,
        stratify=for_contract(settings.data).stratify(target),
    )


def run(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the validated source into train and test files under `paths`."""
    frame = read_source(settings.data)
    train, test = split(settings, frame)
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
