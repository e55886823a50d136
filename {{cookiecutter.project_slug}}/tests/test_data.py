"""The data stage writes the sample dataset; validation names column and row."""

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import contract, data


def test_sample_matches_the_contract():
    frame = data.load_sample()
    assert list(frame.columns) == [*contract.FEATURE_NAMES, contract.TARGET]
    assert len(frame) > 100
    data.validate(frame)


def test_contract_example_is_a_row_of_the_sample_data():
    frame = data.load_sample()
    assert list(contract.EXAMPLE) == list(contract.FEATURE_NAMES)
    first = frame.iloc[0][list(contract.FEATURE_NAMES)].to_dict()
    assert first == pytest.approx(contract.EXAMPLE)


def test_run_writes_the_raw_csv(settings):
    path = data.run(settings)
    assert path == settings.paths.raw_data
    written = pd.read_csv(path)
    assert list(written.columns) == [*contract.FEATURE_NAMES, contract.TARGET]
    assert len(written) == len(data.load_sample())


@pytest.fixture
def sample():
    """A small valid frame."""
    return data.load_sample().head(10).copy()


def test_non_numeric_value_names_column_and_row(sample):
    column = contract.FEATURE_NAMES[1]
    sample[column] = sample[column].astype(object)
    sample.loc[sample.index[3], column] = "abc"
    with pytest.raises(data.DataValidationError) as excinfo:
        data.validate(sample, source="rows.csv")
    message = str(excinfo.value)
    assert "rows.csv" in message
    assert f"column '{column}', row 4" in message
    assert "abc" in message


def test_missing_value_names_column_and_row(sample):
    column = contract.FEATURE_NAMES[0]
    sample.loc[sample.index[6], column] = None
    with pytest.raises(data.DataValidationError, match=f"'{column}', row 7: missing"):
        data.validate(sample)


def test_infinite_value_is_refused(sample):
    column = contract.FEATURE_NAMES[0]
    sample.loc[sample.index[2], column] = float("inf")
    with pytest.raises(data.DataValidationError, match=f"'{column}', row 3"):
        data.validate(sample)


def test_missing_column_is_named(sample):
    column = contract.FEATURE_NAMES[-1]
    with pytest.raises(data.DataValidationError, match=f"column '{column}': missing"):
        data.validate(sample.drop(columns=[column]))


def test_unexpected_column_is_named(sample):
    sample["surprise"] = 1.0
    with pytest.raises(data.DataValidationError, match="'surprise': not in the"):
        data.validate(sample)


def test_empty_frame_is_refused(sample):
    with pytest.raises(data.DataValidationError, match="no rows"):
        data.validate(sample.iloc[0:0])
{%- if cookiecutter.task == 'classification' %}


def test_unknown_class_label_is_refused(sample):
    sample.loc[sample.index[0], contract.TARGET] = 7
    with pytest.raises(data.DataValidationError, match=f"'{contract.TARGET}', row 1"):
        data.validate(sample)
{%- endif %}


def test_read_csv_explains_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="make data"):
        data.read_csv(tmp_path / "absent.csv")
