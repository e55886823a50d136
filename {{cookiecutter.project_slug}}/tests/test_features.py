"""The features stage splits the data reproducibly; the preprocessor standardises."""

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }} import contract, data, features


def test_split_sizes_and_no_overlap(settings):
    data.run(settings)
    train, test = features.run(settings)
    total = len(data.load_sample())
    assert len(train) + len(test) == total
    assert abs(len(test) - total * settings.data.test_size) <= 1
    assert set(train.index).isdisjoint(test.index)
    assert settings.paths.train_data.is_file() and settings.paths.test_data.is_file()


def test_split_is_reproducible(settings):
    data.run(settings)
    first = features.run(settings)[1]
    second = features.run(settings)[1]
    pd.testing.assert_frame_equal(first, second)
{%- if cookiecutter.task == 'classification' %}


def test_split_keeps_class_balance(settings):
    data.run(settings)
    train, test = features.run(settings)
    train_share = train[contract.TARGET].mean()
    test_share = test[contract.TARGET].mean()
    assert abs(train_share - test_share) < 0.02
{%- endif %}


def test_split_xy_uses_the_contract_columns():
    x, y = features.split_xy(data.load_sample())
    assert tuple(x.columns) == contract.FEATURE_NAMES
    assert y.name == contract.TARGET


def test_preprocessor_standardises():
    x, _ = features.split_xy(data.load_sample())
    scaled = features.build_preprocessor().fit_transform(x)
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(scaled.std(axis=0), 1.0, atol=1e-9)


def test_preprocessor_without_scaling_passes_the_features_through():
    x, _ = features.split_xy(data.load_sample())
    passed = features.build_preprocessor(scale=False).fit_transform(x)
    np.testing.assert_array_equal(passed, x.to_numpy())
