"""The batch-scoring benchmark's input files (benchmarks/batch.py `build`)."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from {{ cookiecutter.package_name }}.settings import DataSettings

from .conftest import wine_contract, wine_frame

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "batch.py"


def _script():
    """benchmarks/batch.py as a module."""
    spec = importlib.util.spec_from_file_location("bench_batch", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bad_rows_miss_the_first_required_feature_whatever_its_type(tmp_path):
    # A boolean first: pandas refuses a missing value in a bool column.
    terms = wine_contract()
    features = terms["features"]
    terms["features"] = {"Oak Aged": features.pop("Oak Aged"), **features}
    terms["source"] = str(tmp_path / "wine.csv")
    wine_frame().to_csv(terms["source"], index=False)
    contract = DataSettings(**terms)
    settings = SimpleNamespace(data=SimpleNamespace(source=terms["source"]))
    files = _script().build(settings, contract, rows=50, bad=5, folder=tmp_path)
    for kind, read in (("csv", pd.read_csv), ("parquet", pd.read_parquet)):
        frame = read(files[kind])
        assert len(frame) == 50
        assert frame["Oak Aged"].isna().sum() == 5, kind
        assert frame["Magnesium"].notna().all()
    assert pd.read_csv(files["clean"])["Oak Aged"].notna().all()
