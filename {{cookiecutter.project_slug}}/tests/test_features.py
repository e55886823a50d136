"""The features stage splits reproducibly; preprocessing follows the contract."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import contract, data, features
from {{ cookiecutter.package_name }}.settings import Contract
from {{ cookiecutter.package_name }}.task import for_contract

from .conftest import FOREST

TERMS = Contract.model_validate(
    {
        "task": "regression",
        "target": "y",
        "features": {
            "complete": {"kind": "numeric"},
            "gappy": {"kind": "numeric", "nullable": True},
            "flag": {"kind": "boolean"},
            "colour": {
                "kind": "categorical",
                "categories": ["red", "green", "blue"],
                "nullable": True,
            },
        },
    }
)


def frame(**columns) -> pd.DataFrame:
    """A model frame for TERMS: four rows, with some columns replaced."""
    base = {
        "complete": [1.0, 2.0, 3.0, 6.0],
        "gappy": [10.0, np.nan, 30.0, 50.0],
        "flag": [1.0, 0.0, 1.0, 1.0],
        "colour": ["red", "blue", contract.MISSING_CATEGORY, "green"],
    }
    return pd.DataFrame({**base, **columns})


def fitted(scale: bool):
    """The preprocessor of TERMS fitted on `frame()`."""
    return features.build_preprocessor(TERMS, scale=scale).fit(frame())


def transformed(preprocessor, rows: pd.DataFrame) -> pd.DataFrame:
    """Preprocessed rows with the preprocessor's output column names."""
    names = preprocessor.get_feature_names_out()
    return pd.DataFrame(preprocessor.transform(rows), columns=names)


def test_only_nullable_numbers_are_imputed():
    out = transformed(fitted(scale=False), frame())
    assert out["gappy"].tolist() == [10.0, 30.0, 30.0, 50.0]  # the median
    unexpected = transformed(fitted(scale=False), frame(complete=[1.0, np.nan, 3, 4]))
    assert np.isnan(unexpected["complete"][1])  # the contract says it is never missing


def test_numbers_are_standardised_only_when_asked():
    raw = transformed(fitted(scale=False), frame())
    assert raw[["complete", "flag"]].to_numpy().tolist() == (
        frame()[["complete", "flag"]].to_numpy().tolist()
    )
    scaled = transformed(fitted(scale=True), frame())
    for name in ("complete", "gappy", "flag"):
        assert scaled[name].mean() == pytest.approx(0.0, abs=1e-9), name
        assert scaled[name].std(ddof=0) == pytest.approx(1.0), name


def test_categories_are_one_hot_and_unknown_or_missing_are_all_zeros():
    rows = frame(colour=["green", contract.MISSING_CATEGORY, "purple", "red"])
    out = transformed(fitted(scale=True), rows)
    onehot = out[["colour_red", "colour_green", "colour_blue"]].to_numpy()
    assert onehot.tolist() == [[0, 1, 0], [0, 0, 0], [0, 0, 0], [1, 0, 0]]
    assert len(out.columns) == 3 + 3


@pytest.mark.parametrize("name", ["breast_cancer", "diabetes"])
def test_split_sizes_no_overlap_and_reproducible(make_settings, name):
    settings = make_settings(f"data={name}", *FOREST)
    data.run(settings)
    train, test = features.run(settings)
    total = len(data.read_source(settings.data))
    assert len(train) + len(test) == total
    assert abs(len(test) - total * settings.data.test_size) <= 1
    assert set(train.index).isdisjoint(test.index)
    written = data.read_split(settings.data, settings.paths.test_data)
    assert len(written) == len(test)
    again = features.run(settings)[1]
    pd.testing.assert_frame_equal(again, test)


def class_shares(rows: pd.DataFrame, target: str) -> pd.Series:
    """Share of each class among the rows."""
    return rows[target].value_counts(normalize=True).sort_index()


def test_classification_split_is_stratified(make_settings, wine):
    for settings in (make_settings("data=breast_cancer", *FOREST), wine()):
        data.run(settings)
        train, test = features.run(settings)
        target = settings.data.target
        train_shares = class_shares(train, target)
        test_shares = class_shares(test, target)
        assert list(train_shares.index) == sorted(settings.data.classes)
        # Stratified: each class's share differs by less than one test row.
        gap = (train_shares - test_shares).abs().max()
        assert gap < 1 / len(test), settings.data.name


def test_regression_split_is_not_stratified(make_settings):
    settings = make_settings("data=diabetes", *FOREST)
    target = pd.Series([1.0, 2.0, 2.0, 3.0])
    assert for_contract(settings.data).stratify(target) is None
