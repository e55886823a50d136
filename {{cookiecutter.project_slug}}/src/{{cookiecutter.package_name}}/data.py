"""Data stage: write the sample dataset to `data/raw/`; validate data files."""

import logging
from pathlib import Path

import pandas as pd

from . import contract
from .settings import Settings

log = logging.getLogger(__name__)


class DataValidationError(ValueError):
    """Data does not match the contract; the message names each column and row."""


def load_sample() -> pd.DataFrame:
    """Return the bundled sample dataset with the contract's column names."""
{%- if cookiecutter.task == 'classification' %}
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
{%- else %}
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True, scaled=False)
{%- endif %}
    frame = bunch.frame
    frame.columns = [*contract.FEATURE_NAMES, contract.TARGET]
    return frame


def _schema():
    """Build the pandera schema of a dataset from the contract."""
    import pandera.pandas as pa

    columns = {
        name: pa.Column(
            dtype,
            nullable=False,
            coerce=True,
            checks=pa.Check(_finite, name="finite"),
        )
        for name, dtype in contract.FEATURES.items()
    }
{%- if cookiecutter.task == 'classification' %}
    columns[contract.TARGET] = pa.Column(
        int,
        nullable=False,
        coerce=True,
        checks=pa.Check.isin(list(range(len(contract.CLASSES)))),
    )
{%- else %}
    columns[contract.TARGET] = pa.Column(
        float, nullable=False, coerce=True, checks=pa.Check(_finite, name="finite")
    )
{%- endif %}
    return pa.DataFrameSchema(columns, strict=True, ordered=False)


def _finite(values: pd.Series) -> pd.Series:
    """Reject infinities (NaN is already refused by `nullable=False`); vectorised."""
    return ~values.isin([float("inf"), float("-inf")])


def validate(frame: pd.DataFrame, source: str = "data") -> pd.DataFrame:
    """Check a frame against the contract and return it with coerced types.

    Raises DataValidationError listing every problem as column, row and value; rows are
    counted from 1 for the first data row (file line = row + 1 for a CSV with a header).
    """
    import pandera.errors

    if frame.empty:
        raise DataValidationError(f"{source}: no rows.")
    try:
        valid = _schema().validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        raise DataValidationError(_describe(exc.failure_cases, frame, source)) from None
    return valid[[*contract.FEATURE_NAMES, contract.TARGET]]


def _describe(failures: pd.DataFrame, frame: pd.DataFrame, source: str) -> str:
    """Turn pandera's failure cases into one readable line per problem."""
    lines = []
    seen = set()
    for failure in failures.to_dict("records"):
        check = str(failure["check"])
        if failure["schema_context"] == "DataFrameSchema":
            if check == "column_in_dataframe":
                lines.append(f"column {failure['failure_case']!r}: missing.")
            elif check == "column_in_schema":
                lines.append(
                    f"column {failure['failure_case']!r}: not in the contract "
                    "(contract.FEATURES and the target)."
                )
            else:
                lines.append(f"{check}: {failure['failure_case']!r}.")
            continue
        index = failure["index"]
        key = (failure["column"], index)
        if key in seen:  # one message per cell: coercion and dtype checks repeat it
            continue
        seen.add(key)
        row = frame.index.get_loc(index) + 1 if index in frame.index else index
        if check == "not_nullable":
            reason = "missing value"
        elif check.startswith(("coerce_dtype", "dtype")):
            reason = f"not a number (value {failure['failure_case']!r})"
        elif check == "finite":
            reason = f"infinite value ({failure['failure_case']!r})"
        elif check.startswith("isin"):
            reason = f"not a known class (value {failure['failure_case']!r})"
        else:
            reason = f"fails {check} (value {failure['failure_case']!r})"
        lines.append(f"column {failure['column']!r}, row {row}: {reason}.")
    shown = lines[:20]
    if len(lines) > len(shown):
        shown.append(f"... and {len(lines) - len(shown)} more problems.")
    return f"{source} does not match the data contract:\n  " + "\n  ".join(shown)


def read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV file and validate it, with a clear error when it is missing."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `make data` first.")
    return validate(pd.read_csv(path), source=str(path))


def run(settings: Settings) -> Path:
    """Write the validated sample dataset to `paths.raw_data`."""
    frame = validate(load_sample(), source="sample dataset")
    path = settings.paths.raw_data
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    log.info("Wrote %d rows x %d columns to %s", len(frame), frame.shape[1], path)
    return path
