"""End to end through the CLI: the sample, and a user's file from contract to model."""

import json

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.task import for_contract

from .conftest import CONFIG_DIR, FOREST, assert_beats_dummy, dummy_metrics, wine_frame


def written_metrics(settings) -> dict:
    """The test metrics the evaluate stage wrote."""
    return json.loads(settings.paths.metrics_file.read_text(encoding="utf-8"))


def test_all_stages_train_a_model_that_beats_the_dummy(make_settings, sample_data):
    settings = make_settings()
    conf = ["--config-dir", str(CONFIG_DIR)]
    assert main(["all", *sample_data, "train.cv_folds=2", *conf]) == 0
    metric = for_contract(settings.data).primary(settings.train.primary_metric)
    assert_beats_dummy(
        settings, metric, written_metrics(settings), dummy_metrics(settings)
    )


def diabetes_frame():
    """scikit-learn's diabetes data as a user's Parquet file, with a categorical."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["Sex"] = np.where(frame.pop("sex") == 1, "F", "M")
    frame["age"] = frame["age"].astype("int64")
    return frame.rename(
        columns={"target": "Disease Progression", "bmi": "BMI", "bp": "Blood Pressure"}
    )


# (file under data/raw/, its frame, target, infer options, what infer must find)
JOURNEYS = {
    "wine": (
        "tests_wine.csv",
        wine_frame,
        "Cultivar",
        ["--ignore", "Sample ID"],
        {"Color Band": "categorical", "Oak Aged": "boolean", "Magnesium": "integer"},
    ),
    "diabetes": (
        "diabetes progression.parquet",
        diabetes_frame,
        "Disease Progression",
        ["--name", "progression"],
        {"Sex": "categorical", "age": "integer", "BMI": "numeric"},
    ),
}


@pytest.mark.parametrize("journey", list(JOURNEYS))
def test_a_users_file_goes_from_contract_to_a_useful_model(
    make_settings, conf_copy, tmp_path, journey
):
    filename, build, target, options, kinds = JOURNEYS[journey]
    make_settings()
    path = tmp_path / "data" / "raw" / filename
    path.parent.mkdir(parents=True)
    frame = build()
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    before = path.read_bytes()
    conf = ["--config-dir", str(conf_copy)]
    source = f"data/raw/{filename}"
    # --force: the copy of conf/ may hold a contract of yours of the same name.
    infer = ["contract", "infer", source, "--target", target, *options, "--force"]
    assert main([*infer, *conf]) == 0
    name = options[1] if options[0] == "--name" else path.stem

    overrides = [f"data={name}", *FOREST, "train.cv_folds=2"]
    assert main(["all", *overrides, *conf]) == 0

    settings = make_settings(*overrides, config_dir=conf_copy)
    assert {column: settings.data.features[column].kind for column in kinds} == kinds
    task = for_contract(settings.data)
    metric = task.primary(settings.train.primary_metric)
    assert_beats_dummy(
        settings, metric, written_metrics(settings), dummy_metrics(settings)
    )
    metadata = json.loads(settings.paths.metadata_file.read_text(encoding="utf-8"))
    assert metadata["contract"] == settings.data.contract().model_dump(mode="json")
    assert path.read_bytes() == before  # the user's file is read, never written
