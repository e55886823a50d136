"""The reference profile: written by train for every model, bins that fit the data,
and a PSI that stays low on the training rows and rises on a shifted feature."""

import json

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import artifacts, reference
from {{ cookiecutter.package_name }}.settings import Contract, Feature

from .conftest import CASES, split


@pytest.mark.parametrize("case", sorted(CASES))
def test_train_writes_the_profile_of_its_rows_and_predictions(trained, case):
    run = trained(case)
    settings = run.settings
    profile = json.loads(settings.paths.reference_file.read_text(encoding="utf-8"))
    assert profile["version"] == reference.VERSION
    assert profile["model_sha256"] == artifacts.fingerprint(settings.paths.model_file)
    assert profile["dataset"] == settings.data.name
    assert profile["task"] == settings.data.task
    rows, _ = split(settings, "train")
    assert profile["rows"] == len(rows)
    assert list(profile["features"]) == list(settings.data.feature_names)
    for name, item in [*profile["features"].items(), ("", profile["prediction"])]:
        assert sum(item["shares"]) == pytest.approx(1.0), name
        assert 0.0 <= item["missing"] <= 1.0
        if item["kind"] == "numeric":
            assert item["edges"] == sorted(set(item["edges"]))
            assert len(item["shares"]) == len(item["edges"]) + 1
        else:
            assert len(item["shares"]) == len(reference.binned(item)) + 1
    features = settings.data.features
    for name, item in profile["features"].items():
        kind = features[name].kind
        if kind == "categorical":
            assert item["categories"] == features[name].categories
        elif kind == "boolean":
            assert item["categories"] == [False, True]
        else:
            assert item["kind"] == "numeric"
    if settings.data.task == "classification":
        assert profile["prediction"]["categories"] == sorted(settings.data.classes)
    else:
        assert profile["prediction"]["kind"] == "numeric"
        cv_rmse = run.result.cv_metrics.get("cv_rmse")
        assert profile["prediction"].get("error") == cv_rmse


def test_a_shadow_agrees_within_the_served_models_own_error():
    """Regression: the default tolerance is the model's cross-validated RMSE (a ridge
    and a forest agree within it on most rows; within 1 % of the std, on none)."""
    terms = Contract(
        task="regression", target="y", features={"x": Feature(kind="numeric")}
    )
    rows = pd.DataFrame({"x": np.arange(100.0)})
    predictions = np.arange(100.0) * 2
    with_error = reference.Reference.from_dict(
        reference.build(terms, rows, predictions, "d", "sha", error=12.5)
    )
    assert with_error.agreement_tolerance() == 12.5
    assert with_error.agreement_tolerance(3.0) == 3.0  # configured
    without = reference.Reference.from_dict(
        reference.build(terms, rows, predictions, "d", "sha")
    )
    assert without.agreement_tolerance() == pytest.approx(0.01 * predictions.std())


def test_the_training_rows_do_not_drift_from_their_own_profile(trained):
    run = trained("wine")
    settings = run.settings
    loaded = reference.load(settings.paths.reference_file)
    from {{ cookiecutter.package_name }}.data import read_split

    rows = read_split(settings.data, settings.paths.train_data)
    predictions = run.result.pipeline.predict(split(settings, "train")[0])
    drift = loaded.drift(rows, predictions)
    assert set(drift) == {*settings.data.feature_names, "prediction"}
    assert max(drift.values()) < 1e-6


def small_contract() -> Contract:
    """A number, a nullable categorical and a boolean."""
    return Contract(
        task="regression",
        target="y",
        features={
            "x": Feature(kind="numeric"),
            "color": Feature(
                kind="categorical", categories=["red", "green"], nullable=True
            ),
            "flag": Feature(kind="boolean"),
        },
    )


def test_shares_bin_numbers_categories_booleans_and_missing_values():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=1000),
            "color": rng.choice(np.array(["red", "green", None], dtype=object), 1000),
            "flag": rng.random(1000) < 0.3,
        }
    )
    profile = reference.build(
        small_contract(), frame, frame["x"] * 2, dataset="d", model_sha256="sha256:0"
    )
    assert profile["features"]["color"]["missing"] == pytest.approx(1 / 3, abs=0.05)
    assert profile["features"]["flag"]["shares"][1] == pytest.approx(0.3, abs=0.05)
    assert profile["features"]["flag"]["shares"][2] == 0.0
    loaded = reference.Reference.from_dict(json.loads(json.dumps(profile)))
    shares, missing = loaded.shares("color", ["red", "blue", None, "", "green"])
    assert missing == pytest.approx(0.4)
    np.testing.assert_allclose(shares, [1 / 3, 1 / 3, 1 / 3])  # blue: "other"
    shares, _ = loaded.shares("flag", [True, False, 1.0, True])
    np.testing.assert_allclose(shares, [0.25, 0.75, 0.0])
    shares, missing = loaded.shares("x", [np.nan, -100.0, 100.0, None])
    assert missing == 0.5
    assert shares[0] == shares[-1] == 0.5


def test_psi_is_zero_for_equal_shares_and_alerts_on_a_shift():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"x": rng.normal(size=2000), "color": "red", "flag": rng.random(2000) < 0.5}
    )
    loaded = reference.Reference.from_dict(
        reference.build(
            small_contract(), frame, frame["x"], dataset="d", model_sha256="s"
        )
    )
    assert reference.psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    live = pd.DataFrame(
        {"x": rng.normal(size=1000), "color": "red", "flag": rng.random(1000) < 0.5}
    )
    calm = loaded.drift(live)
    assert max(calm.values()) < reference.PSI_WARN
    shifted = loaded.drift(live.assign(x=live["x"] + 1.5))
    assert shifted["x"] > reference.PSI_ALERT
    assert shifted["flag"] < reference.PSI_WARN


def test_a_categorical_of_many_values_is_binned_by_its_most_frequent():
    # 300 cities, a window of 400 rows drawn like the training rows: with a bin per
    # city most bins are empty in the window, and PSI read that as drift (1.5).
    rng = np.random.default_rng(2)
    cities = [f"city {index:03d}" for index in range(300)]
    weights = rng.dirichlet(np.ones(len(cities)))
    terms = Contract(
        task="regression",
        target="y",
        features={"city": Feature(kind="categorical", categories=cities)},
    )
    rows = pd.DataFrame({"city": rng.choice(cities, 2000, p=weights)})
    profile = reference.build(terms, rows, rng.normal(size=2000), "d", "s")
    assert profile["features"]["city"]["categories"] == cities  # what is known
    kept = reference.binned(profile["features"]["city"])
    counts = rows["city"].value_counts()
    assert len(kept) == reference.CATEGORY_BINS
    assert kept == [city for city in cities if city in kept]  # the contract's order
    assert counts[kept].min() >= counts.drop(kept).max()
    others = profile["features"]["city"]["shares"][-1]
    assert others == pytest.approx(1 - counts[kept].sum() / 2000)

    loaded = reference.Reference.from_dict(json.loads(json.dumps(profile)))
    window = pd.DataFrame({"city": rng.choice(cities, 400, p=weights)})
    assert loaded.drift(window)["city"] < reference.PSI_WARN
    rare = counts.index[-20:].tolist()  # traffic from cities training rarely saw
    shifted = pd.DataFrame({"city": rng.choice(rare, 400)})
    assert loaded.drift(shifted)["city"] > reference.PSI_ALERT


def test_a_profile_of_another_version_is_refused():
    with pytest.raises(ValueError, match="version"):
        reference.Reference.from_dict({"version": 99})
