"""The data stage reads the declared source; a sample is written only where none is."""

import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }} import contract, data
from {{ cookiecutter.package_name }}.errors import (
    ContractError,
    DataValidationError,
)

from .conftest import CONFIG_DIR, FOREST

# The shipped contracts that bundle a sample (`data.sample`).
SAMPLES = sorted(
    path.stem
    for path in (CONFIG_DIR / "data").glob("*.yaml")
    if yaml.safe_load(path.read_text(encoding="utf-8")).get("sample")
)


@pytest.mark.parametrize("name", SAMPLES)
def test_each_sample_matches_its_shipped_contract(make_settings, name):
    settings = make_settings(f"data={name}", *FOREST)
    frame = data.load_sample(settings.data.sample)
    valid = contract.validate(settings.data, frame, ignore=settings.data.ignore)
    assert len(valid) == len(frame) > 100


def test_sample_is_written_when_declared_and_absent(settings):
    assert settings.data.sample is not None and not settings.data.source.exists()
    assert data.run(settings) == settings.data.source
    written = contract.read_table(settings.data.source, settings.data)
    expected = data.load_sample(settings.data.sample)
    assert len(written) == len(expected)
    assert list(written.columns) == list(expected.columns)
    before = settings.data.source.stat().st_mtime_ns
    data.run(settings)
    assert settings.data.source.stat().st_mtime_ns == before


def test_a_users_file_is_never_overwritten(settings):
    mine = data.load_sample(settings.data.sample).sample(frac=0.5, random_state=1)
    settings.data.source.parent.mkdir(parents=True)
    mine.to_csv(settings.data.source, index=False)
    before = settings.data.source.read_bytes()
    data.run(settings)
    assert settings.data.source.read_bytes() == before


def test_a_parquet_source_is_written_and_read(make_settings):
    settings = make_settings("data.source=data/raw/sample.parquet")
    data.run(settings)
    frame = pd.read_parquet(settings.data.source)
    assert len(data.read_source(settings.data)) == len(frame)


def test_missing_source_without_a_sample_names_data_source(make_settings):
    settings = make_settings("data.sample=null")
    with pytest.raises(FileNotFoundError, match="data.source") as excinfo:
        data.run(settings)
    assert settings.data.source.as_posix() in str(excinfo.value).replace("\\", "/")
    assert not settings.data.source.exists()
{%- if cookiecutter.use_dvc == 'yes' %}


def test_a_source_dvc_tracks_but_not_pulled_says_dvc_pull(make_settings):
    """A fresh clone: the .dvc file is in git, the data in the remote."""
    settings = make_settings("data.sample=null")
    source = settings.data.source
    source.parent.mkdir(parents=True, exist_ok=True)
    source.with_name(f"{source.name}.dvc").write_text("outs: []\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="`dvc pull` fetches it"):
        data.run(settings)
{%- endif %}


def test_an_invalid_source_is_refused_with_column_and_row(settings):
    frame = data.load_sample(settings.data.sample)
    column = settings.data.feature_names[1]
    frame[column] = frame[column].astype(object)
    frame.loc[frame.index[4], column] = "n/a?"
    settings.data.source.parent.mkdir(parents=True)
    frame.to_csv(settings.data.source, index=False)
    with pytest.raises(DataValidationError) as excinfo:
        data.run(settings)
    message = str(excinfo.value)
    assert str(settings.data.source) in message
    assert f"column '{column}', row 5: not a number" in message


def test_a_column_left_out_of_the_contract_is_refused(settings):
    frame = data.load_sample(settings.data.sample).assign(notes="free text")
    settings.data.source.parent.mkdir(parents=True)
    frame.to_csv(settings.data.source, index=False)
    with pytest.raises(ContractError, match="'notes'.*data.ignore"):
        data.run(settings)


def test_ignored_columns_are_read_but_not_used(make_settings):
    settings = make_settings("data.ignore=[notes]")
    frame = data.load_sample(settings.data.sample).assign(notes="free text")
    settings.data.source.parent.mkdir(parents=True)
    frame.to_csv(settings.data.source, index=False)
    data.run(settings)
    assert "notes" not in data.read_source(settings.data)


def test_reading_a_split_that_is_not_there_says_what_to_run(settings):
    with pytest.raises(FileNotFoundError, match="make data"):
        data.read_split(settings.data, settings.paths.train_data)
