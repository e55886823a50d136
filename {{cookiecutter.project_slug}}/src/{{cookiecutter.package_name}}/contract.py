"""What the data contract derives: the data schema, the model's input frame, an example.

The contract itself is configuration (`conf/data/<name>.yaml`, validated into
`settings.Contract`), and the trained model carries a copy of it. This module turns it
into what each consumer needs: a pandera schema to validate files (every problem with
its column and row), the frame the model pipeline reads, a real example row, and a
contract inferred from a file (`python -m <package> contract infer`).
"""

import csv
import logging
import math
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ContractError, DataFileError, DataValidationError
from .settings import NA_VALUES, Contract, Feature, missing_text

# Values beyond float32's range become infinite in the model (ONNX runs in float32).
FLOAT32_MAX = float(np.finfo(np.float32).max)
# A missing categorical value as the model pipeline sees it: an unknown category (the
# one-hot encoder ignores it), kept a string so that the ONNX export can carry it.
MISSING_CATEGORY = ""
# Spellings of booleans accepted in files, and what they mean.
BOOLEANS = {
    True: 1.0,
    False: 0.0,
    1: 1.0,
    0: 0.0,
    "true": 1.0,
    "false": 0.0,
    "True": 1.0,
    "False": 0.0,
    "TRUE": 1.0,
    "FALSE": 0.0,
    "1": 1.0,
    "0": 0.0,
    "1.0": 1.0,
    "0.0": 0.0,
    "yes": 1.0,
    "no": 0.0,
}
# pandera imports `pyspark.pandas` when PySpark is installed (to validate and to
# check), which warns that pandas-on-Spark does not support pandas 3 yet at every
# command: this project does not use pandas-on-Spark. That one warning is silenced.
warnings.filterwarnings(
    "ignore",
    message="PySpark does not yet fully support pandas",
    category=FutureWarning,
)
log = logging.getLogger(__name__)
# Problems listed in one error message; the count of the rest follows.
SHOWN_PROBLEMS = 20
# Fewer rows than this in a class: warned of by `infer` (a typo, or too few to learn
# from and to stratify the split and the cross-validation folds by).
FEW_CLASS_ROWS = 10


def read_table(
    path: Path, contract: Contract | None = None, na_values: list[str] | None = None
) -> pd.DataFrame:
    """Read a CSV or Parquet file; categoricals and string labels stay text.

    A CSV cell is missing when empty or spelled as the contract's `na_values` say
    (without a contract, as `na_values` say; None: pandas' spellings).
    A file that is not a table is refused (DataFileError) with its line: empty, not
    UTF-8, a line with more values than the header, a column named twice (pandas
    would rename the second `name.1`). A header without rows is `validate`'s to refuse.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found.")
    if path.stat().st_size == 0:
        raise DataFileError(f"{path} is empty (0 bytes).")
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is both
            raise DataFileError(
                f"{path} is not a readable Parquet file: {exc}"
            ) from exc
        _columns_once(path, names)
        frame = pd.read_parquet(path)
    else:
        missing = missing_text(na_values) if contract is None else contract.missing_text
        frame = _read_csv(path, contract, missing)
    return frame


def _read_csv(
    path: Path, contract: Contract | None, missing: tuple[str, ...]
) -> pd.DataFrame:
    """`pd.read_csv` (text kept text), its failures named by file and line."""
    text = {}
    if contract is not None:
        text = {
            name: "string"
            for name, feature in contract.features.items()
            if feature.kind == "categorical"
        }
        if contract.classes and isinstance(contract.classes[0], str):
            text[contract.target] = "string"
    try:
        with path.open(encoding="utf-8-sig", newline="") as lines:
            _columns_once(path, next(csv.reader(lines), []))
        return pd.read_csv(
            path, dtype=text, keep_default_na=False, na_values=list(missing)
        )
    except UnicodeDecodeError as exc:
        # The decoder's offset is within a chunk: find the first bad byte itself.
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
            start = exc.start
        except UnicodeDecodeError as bad:
            start = bad.start
        line = raw[:start].count(b"\n") + 1
        raise DataFileError(
            f"{path}, line {line}: not UTF-8 text (byte {raw[start]:#x}): "
            "save it as UTF-8 (a spreadsheet's CSV UTF-8), or convert it, e.g. "
            "`iconv -f latin1 -t utf-8`."
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataFileError(f"{path} has no header line.") from exc
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found is None:
            raise DataFileError(f"{path} is not a readable CSV file: {exc}") from exc
        expected, record, saw = found.groups()
        line = _line_of(path, int(record))
        raise DataFileError(
            f"{path}, line {line}: {saw} values where the header has {expected} "
            "columns: a comma in a value that is not quoted? Quote that value or fix "
            "the line."
        ) from exc


def _line_of(path: Path, record: int) -> int:
    """The file line that ends CSV record `record` (the header is record 1): a
    quoted value may hold line breaks."""
    with path.open(encoding="utf-8-sig", newline="") as lines:
        reader = csv.reader(lines)
        for number, _ in enumerate(reader, 1):
            if number == record:
                return reader.line_num
    return record


def _columns_once(path: Path, names: list[str]) -> None:
    """Refuse a header with a column without a name, or one named twice."""
    blank = [str(number) for number, name in enumerate(names, 1) if not name.strip()]
    if blank:
        raise DataFileError(
            f"{path}: column(s) {', '.join(blank)} of the header have no name (a "
            "spreadsheet's empty columns?): name them, or delete them."
        )
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise DataFileError(
            f"{path}: column(s) {', '.join(map(repr, twice))} named more than once in "
            "the header: rename one of each."
        )


def check_columns(
    contract: Contract,
    frame: pd.DataFrame,
    source: str,
    *,
    target: bool = True,
    ignore: Iterable[str] = (),
    strict: bool = True,
) -> None:
    """Refuse a file whose columns do not fit the contract, saying what to change."""
    columns = set(map(str, frame.columns))
    shown = ", ".join(repr(c) for c in list(frame.columns)[:30])
    if target and contract.target not in columns:
        raise ContractError(
            f"data.target: {source} has no column {contract.target!r} (its columns: "
            f"{shown}). Set data.target to the column to predict."
        )
    absent = [name for name in contract.features if name not in columns]
    if absent:
        raise ContractError(
            f"data.features: {source} has no column(s) "
            f"{', '.join(map(repr, absent))} (its columns: {shown}). Fix the names "
            "in the contract, or remove the features the file does not have."
        )
    if strict:
        known = {contract.target, *contract.features, *ignore}
        unknown = [c for c in frame.columns if c not in known]
        if unknown:
            raise ContractError(
                f"{source}: column(s) {', '.join(map(repr, unknown))} are not in the "
                "contract: add them under data.features, or under data.ignore."
            )


def validate(
    contract: Contract,
    frame: pd.DataFrame,
    source: str = "data",
    *,
    target: bool = True,
    ignore: Iterable[str] = (),
    strict: bool = True,
) -> pd.DataFrame:
    """Check a frame against the contract; return its features (and target), typed.

    Numeric, integer and boolean features come back as float64 (NaN when missing),
    categoricals as text (NaN when missing). Raises ContractError when the columns do
    not fit, DataValidationError listing every bad value as column, row and value;
    rows are counted from 1 for the first data row (a CSV's line = row + 1).
    """
    import pandera.errors

    check_columns(contract, frame, source, target=target, ignore=ignore, strict=strict)
    if frame.empty:
        raise DataValidationError(f"{source}: no rows.")
    columns = [*contract.feature_names, *([contract.target] if target else [])]
    prepared = _prepare(contract, frame[columns])
    try:
        valid = schema(contract, target=target).validate(prepared, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        raise DataValidationError(describe(exc.failure_cases, frame, source)) from None
    return _typed(contract, valid)


def _prepare(contract: Contract, frame: pd.DataFrame) -> pd.DataFrame:
    """Normalise spellings before checks: booleans to 0/1, categories to text."""
    frame = frame.copy()
    for name, feature in contract.features.items():
        if feature.kind == "boolean":
            frame[name] = spelled_booleans(frame[name])
        elif feature.kind == "categorical":
            frame[name] = _text(frame[name])
    if contract.target in frame and contract.classes:
        if isinstance(contract.classes[0], str):
            frame[contract.target] = _text(frame[contract.target])
    return frame


def spelled_booleans(column: pd.Series, unknown: str = "keep") -> pd.Series:
    """A boolean column's spellings (`BOOLEANS`) as 1/0 and missing values as NaN;
    any other value kept for validation to refuse (`unknown="keep"`) or read as
    missing (`"missing"`: the monitor's tables)."""

    def value(v: Any) -> Any:
        other = v if unknown == "keep" else np.nan
        return BOOLEANS.get(v, other) if _hashable(v) else other

    return column.map(value).where(column.notna(), np.nan)


def _hashable(value: Any) -> bool:
    """Can the value be looked up in a dict?"""
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _text(column: pd.Series) -> pd.Series:
    """Non-missing values as strings (integers as "1", not "1.0"), missing as NA."""
    if pd.api.types.is_float_dtype(column) and (column.dropna() % 1 == 0).all():
        column = column.astype("Int64")
    return column.astype("string")


def _typed(contract: Contract, frame: pd.DataFrame) -> pd.DataFrame:
    """Validated columns in their model types (float64, or object text with NaN)."""
    out = {}
    for name, feature in contract.features.items():
        column = frame[name]
        if feature.kind == "categorical":
            out[name] = column.astype(object).where(column.notna(), np.nan)
        else:
            out[name] = pd.to_numeric(column, errors="coerce").astype("float64")
    if contract.target in frame:
        column = frame[contract.target]
        if contract.task == "regression":
            out[contract.target] = column.astype("float64")
        elif isinstance(contract.classes[0], str):
            out[contract.target] = column.astype(object)
        else:
            out[contract.target] = column.astype("int64")
    return pd.DataFrame(out, index=frame.index)


def schema(contract: Contract, target: bool = True):
    """The pandera schema of a file's contract columns (vectorised checks)."""
    import pandera.pandas as pa

    columns = {
        name: _column(pa, feature) for name, feature in contract.features.items()
    }
    if target:
        if contract.task == "regression":
            columns[contract.target] = pa.Column(
                float, coerce=True, checks=[_finite_check(pa)]
            )
        else:
            kind = "string" if isinstance(contract.classes[0], str) else int
            columns[contract.target] = pa.Column(
                kind,
                coerce=True,
                checks=_isin(pa, list(contract.classes), "known_class"),
            )
    return pa.DataFrameSchema(columns, ordered=False)


def _column(pa: Any, feature: Feature):
    """One feature's pandera column."""
    if feature.kind == "categorical":
        return pa.Column(
            "string",
            nullable=feature.nullable,
            checks=_isin(pa, feature.categories, "known_category"),
        )
    if feature.kind == "boolean":
        return pa.Column(
            nullable=feature.nullable,
            checks=_isin(pa, [0.0, 1.0], "boolean"),
        )
    # Checks read the values as numbers: a value that failed coercion is reported once,
    # by the coercion, not again by each check.
    checks = [_finite_check(pa)]
    if feature.kind == "integer":
        checks.append(
            pa.Check(lambda s: _numbers(s) % 1 == 0, name="integer", ignore_na=True)
        )
    if feature.min is not None:
        low = feature.min
        checks.append(
            pa.Check(lambda s: _numbers(s) >= low, name=f"min {low:g}", ignore_na=True)
        )
    if feature.max is not None:
        high = feature.max
        checks.append(
            pa.Check(
                lambda s: _numbers(s) <= high, name=f"max {high:g}", ignore_na=True
            )
        )
    return pa.Column(float, nullable=feature.nullable, coerce=True, checks=checks)


def _isin(pa: Any, allowed: list, name: str):
    """A membership check whose failures carry `name` (describe() words them)."""
    allowed = list(allowed)
    return pa.Check(lambda s: s.isin(allowed), name=name, ignore_na=True)


def _numbers(values: pd.Series) -> pd.Series:
    """Values as floats; what is not a number becomes NaN (reported by coercion)."""
    return pd.to_numeric(values, errors="coerce")


def _finite_check(pa: Any):
    """Finite, and within float32's range (what the exported model computes in)."""
    return pa.Check(
        lambda s: _numbers(s).abs() <= FLOAT32_MAX, name="finite", ignore_na=True
    )


def describe(failures: pd.DataFrame, frame: pd.DataFrame, source: str) -> str:
    """Turn pandera's failure cases into one readable line per problem."""
    lines = []
    seen = set()
    for failure in failures.to_dict("records"):
        check = str(failure["check"])
        if failure["schema_context"] == "DataFrameSchema":
            lines.append(f"{check}: {failure['failure_case']!r}.")
            continue
        index = failure["index"]
        if index is None or (isinstance(index, float) and math.isnan(index)):
            if any(column == failure["column"] for column, _ in seen):
                continue  # a check that could not run on values already reported
        key = (failure["column"], index)
        if key in seen:  # one message per cell: coercion and dtype checks repeat it
            continue
        seen.add(key)
        row = frame.index.get_loc(index) + 1 if index in frame.index else index
        value = failure["failure_case"]
        if check == "not_nullable":
            reason = "missing value (the contract says it may not be missing)"
        elif check.startswith(("coerce_dtype", "dtype")):
            reason = f"not a number (value {value!r})"
        elif check == "finite":
            reason = f"not a finite number within float32's range (value {value!r})"
        elif check == "integer":
            reason = f"not a whole number (value {value!r})"
        elif check == "boolean":
            reason = f"not a boolean (value {value!r})"
        elif check == "known_category":
            reason = f"unknown category {value!r} (add it to the contract's categories)"
        elif check == "known_class":
            reason = f"not one of data.classes (value {value!r})"
        elif check.startswith(("min ", "max ")):
            reason = (
                f"below the contract's {check}"
                if check.startswith("min")
                else (f"above the contract's {check}")
            )
            reason += f" (value {value!r})"
        else:
            reason = f"fails {check} (value {value!r})"
        lines.append(f"column {failure['column']!r}, row {row}: {reason}.")
    shown = lines[:SHOWN_PROBLEMS]
    if len(lines) > len(shown):
        shown.append(f"... and {len(lines) - len(shown)} more problems.")
    return f"{source} does not match the data contract:\n  " + "\n  ".join(shown)


def model_frame(contract: Contract, frame: pd.DataFrame) -> pd.DataFrame:
    """The features as the model pipeline reads them, in contract order.

    Numeric, integer and boolean features as float64 (NaN when missing); categoricals
    as text, a missing one as MISSING_CATEGORY.
    """
    out = {}
    for name, feature in contract.features.items():
        column = frame[name]
        if feature.kind == "categorical":
            out[name] = column.astype(object).where(column.notna(), MISSING_CATEGORY)
        else:
            out[name] = column.astype("float64")
    return pd.DataFrame(out, index=frame.index)


def split_xy(contract: Contract, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """(model input frame, target) of a validated frame."""
    return model_frame(contract, frame), frame[contract.target]


def example_row(contract: Contract, frame: pd.DataFrame) -> dict[str, Any]:
    """A real row as a JSON request would send it: the first with no missing value."""
    features = frame[list(contract.feature_names)]
    complete = features.dropna()
    row = (complete if len(complete) else features).iloc[0]
    return {name: json_value(contract.features[name], row[name]) for name in row.index}


def json_value(feature: Feature, value: Any) -> Any:
    """A validated value as JSON carries it: bool, int, float, str or null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if feature.kind == "categorical":
        return str(value)
    if feature.kind == "boolean":
        return bool(value)
    if feature.kind == "integer":
        return int(value)
    return float(value)


def infer(
    frame: pd.DataFrame,
    target: str,
    *,
    task: str | None = None,
    ignore: Iterable[str] = (),
    max_categories: int = 50,
    max_classes: int = 20,
) -> dict[str, Any]:
    """A contract (task, target, classes, features) inferred from a file's columns.

    Kinds: booleans, whole numbers (integer), other numbers (numeric), and text
    (categorical, up to `max_categories` values: beyond it the column is an id or
    free text, and the error says how to ignore it). Nullable where a value is
    missing; `min: 0` where no value is negative. The task is classification for a
    text target or one with at most `max_classes` whole-number values.
    """
    ignore = list(ignore)
    if frame.empty:
        raise ContractError("the file has a header but no rows: nothing to infer from.")
    if target not in frame.columns:
        raise ContractError(
            f"--target: no column {target!r} in the file (its columns: "
            f"{', '.join(map(repr, frame.columns))})."
        )
    unknown = [name for name in ignore if name not in frame.columns]
    if unknown:
        raise ContractError(f"--ignore: no column(s) {', '.join(map(repr, unknown))}.")
    labels = frame[target]
    if labels.isna().any():
        row = int(np.flatnonzero(labels.isna().to_numpy())[0]) + 1
        raise ContractError(
            f"column {target!r}, row {row}: the target is missing; drop those rows."
        )
    numeric_target = pd.api.types.is_numeric_dtype(labels) and not (
        pd.api.types.is_bool_dtype(labels)
    )
    told = task is not None
    if task is None:
        whole = numeric_target and bool((labels % 1 == 0).all())
        few = labels.nunique() <= max_classes
        task = (
            "classification"
            if not numeric_target or (whole and few)
            else ("regression")
        )
    contract: dict[str, Any] = {"task": task, "target": target}
    if task == "classification":
        if told:  # inferred, it is text or a few whole numbers: labels
            _labels_or_refuse(labels, numeric_target, max_categories)
        if numeric_target and (labels % 1 == 0).all():
            contract["classes"] = sorted(int(v) for v in labels.unique())
        else:
            contract["classes"] = sorted(str(v) for v in labels.unique())
        if len(contract["classes"]) < 2:
            raise ContractError(
                f"column {target!r} has one class only: nothing to learn."
            )
        if len(contract["classes"]) == 2:  # the default, written out to review
            contract["positive_class"] = contract["classes"][-1]
        _warn_of_rare_classes(labels)
    elif not numeric_target:
        raise ContractError(f"--task regression: column {target!r} is not numeric.")
    features = {}
    too_many, empty, typos, dated = [], [], [], []
    for name in frame.columns:
        if name == target or name in ignore:
            continue
        if frame[name].isna().all():
            empty.append(repr(name))
            continue
        spec, distinct = _infer_feature(frame[name], max_categories)
        if (spec is None or spec["kind"] == "categorical") and _dates(frame[name]):
            if spec is None:
                dated.append(f"{name!r} ({distinct} values)")
                continue
            log.warning(
                "column %r holds dates, read as %d categories: a date not in the "
                "file will be refused; leave it out with --ignore, or derive numbers "
                "from it (year, month, days since) in the file.",
                name,
                distinct,
            )
        _warn_if_useless(frame[name], spec)
        beyond = _not_finite(frame[name])
        if beyond:
            log.warning(
                "column %r holds %s: the model takes finite numbers within float32's "
                "range, and training refuses these rows; empty those cells (a missing "
                "value) or clip them in the file, and infer again.",
                name,
                beyond,
            )
        odd = _not_numbers(frame[name])
        if odd and spec is None:
            # Too many values for categories: numbers with a typo, most likely.
            typos.append(f"{name!r} ({odd})")
            continue
        if odd:
            log.warning(
                "column %r is numbers but for %s: read as categories; if it holds "
                "numbers, fix or empty those cells and infer again.",
                name,
                odd,
            )
        if spec is None:
            too_many.append(f"{name!r} ({distinct} values)")
            continue
        if spec["kind"] == "categorical" and _only_numbers(frame[name]):
            log.warning(
                "column %r is text holding only numbers (%d distinct): read as "
                "categories, as a text column of a Parquet file is (a CSV reads them "
                "as numbers), and a value not in the file will be refused. If they "
                "are counts or amounts, store the column as numbers and infer again.",
                name,
                distinct,
            )
        features[str(name)] = spec
    # Every column that stops the inference, in one message: one run to fix them.
    problems = []
    if empty:
        problems.append(
            f"column(s) {', '.join(empty)} hold no value at all: nothing to learn. "
            'Leave them out with --ignore (make contract: IGNORE="a,b").'
        )
    if typos:
        problems.append(
            f"column(s) {'; '.join(typos)} hold numbers but for these values: fix or "
            "empty those cells (an empty cell is a missing value) and infer again; "
            "if they are codes, not numbers, raise --max-categories (MAX_CATEGORIES=)."
        )
    if dated:
        problems.append(
            f"column(s) {', '.join(dated)} hold dates: not categories (every new date "
            "would be refused) nor numbers. Leave them out with --ignore (make "
            'contract: IGNORE="a,b"), or derive numbers from them (year, month, '
            "days since) in the file and infer again."
        )
    if too_many:
        problems.append(
            f"column(s) {', '.join(too_many)} hold more than {max_categories} distinct "
            "text values: an id or free text, not a category. Leave them out with "
            '--ignore (make contract: IGNORE="a,b"), or raise --max-categories '
            "(MAX_CATEGORIES=)."
        )
    if problems:
        raise ContractError("\n".join(problems))
    if not features:
        raise ContractError("no feature column left: the file has only the target.")
    contract["features"] = features
    return contract


def _dates(column: pd.Series) -> bool:
    """Whether a column holds dates or times: a datetime type, or text of which 95 %
    reads as dates (2025-03-01, 01/03/2025, 2025-03-01T10:00); a sample of 1,000."""
    values = column.dropna()
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    if not len(values) or pd.api.types.is_numeric_dtype(values):
        return False
    text = values.head(1000).astype(str)
    shaped = text.str.match(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
    if shaped.mean() < 0.95:
        return False
    parsed = pd.to_datetime(text[shaped], errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


def _labels_or_refuse(labels: pd.Series, numeric: bool, most: int) -> None:
    """Refuse a target told to be classified that holds amounts, not labels: numbers
    with fractions, or more distinct values than `most` (--max-categories)."""
    count = labels.nunique()
    if numeric and not (labels % 1 == 0).all():
        fractional = labels[labels % 1 != 0].iloc[0]
        raise ContractError(
            f"column {labels.name!r} holds numbers with fractions ({count} distinct "
            f"values, e.g. {fractional!r}), not class labels: --task regression "
            "(make contract: TASK=regression)."
        )
    if count > most:
        way_out = f"raise --max-categories ({most}; MAX_CATEGORIES=) for classes"
        if numeric:
            way_out = f"--task regression (TASK=regression) for amounts; {way_out}"
        raise ContractError(
            f"column {labels.name!r} has {count} distinct values: too many classes "
            f"to learn: {way_out}."
        )


def missing_spellings(path: Path, columns: list[str]) -> dict[str, dict[str, int]]:
    """Of a CSV file's `columns`, the cells read as missing for their text (pandas'
    `NA_VALUES` but the empty cell: `NA`, `None`, `null`...), counted by spelling; a
    category spelled so (`NA`, Namibia) would be lost. Parquet files have none."""
    if Path(path).suffix.lower() == ".parquet" or not columns:
        return {}
    spellings = set(NA_VALUES) - {""}
    raw = pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False)
    found = {}
    for name in columns:
        counts = raw[name][raw[name].isin(spellings)].value_counts()
        if len(counts):
            found[name] = {str(k): int(v) for k, v in counts.items()}
    return found


def _warn_of_rare_classes(labels: pd.Series, shown: int = 5) -> None:
    """Warn of each class with fewer than FEW_CLASS_ROWS rows, naming its rows (from
    1, as validation counts): a stray label makes a task of one class more."""
    counts = labels.value_counts()
    for label, count in counts[counts < FEW_CLASS_ROWS].items():
        rows = np.flatnonzero((labels == label).to_numpy())[:shown] + 1
        where = ", ".join(f"row {row}" for row in rows)
        log.warning(
            "class %r of %r has %d row(s) (%s%s): too few to learn from or to "
            "stratify the split and the cross-validation by. A typo? Fix or drop "
            "those rows and infer again; else keep %d or more rows of it.",
            label,
            labels.name,
            count,
            where,
            ", ..." if count > shown else "",
            FEW_CLASS_ROWS,
        )


def _warn_if_useless(column: pd.Series, spec: dict | None) -> None:
    """Warn of a column a model cannot learn from: one value, or a row number."""
    values = column.dropna()
    # A value or missing is something to learn (the encoders keep which it is).
    if values.nunique() == 1 and len(values) == len(column):
        log.warning(
            "column %r holds one value (%r): nothing to learn from it; leave it out "
            "with --ignore.",
            column.name,
            values.iloc[0],
        )
    elif (
        spec is not None
        and spec["kind"] == "integer"
        and len(values) >= 20
        and values.is_unique
        and values.max() - values.min() == len(values) - 1
    ):
        log.warning(
            "column %r numbers the rows (%d to %d, each once): an id? Leave it out "
            "with --ignore.",
            column.name,
            values.min(),
            values.max(),
        )


def _not_finite(column: pd.Series, shown: int = 5) -> str:
    """The rows of a numeric column that no model takes: infinite, or beyond float32's
    range (rows from 1, as validation counts), e.g. "row 11 inf"; "" for none."""
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return ""
    values = column.dropna().astype("float64")
    bad = values[~np.isfinite(values) | (values.abs() > FLOAT32_MAX)]
    rows = [column.index.get_loc(index) + 1 for index in bad.index[:shown]]
    where = ", ".join(f"row {row} {float(value)!r}" for row, value in zip(rows, bad))
    return where + (f" and {len(bad) - shown} more" if len(bad) > shown else "")


def _text_as_numbers(column: pd.Series) -> tuple[pd.Series, pd.Series] | None:
    """(the text values, each read as a number or NaN) of a text column, missing
    values left out; None for a column of numbers or booleans."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return None
    values = column.dropna()
    values = values[values.astype(str) != MISSING_CATEGORY]
    return values, pd.to_numeric(values.astype(str).str.strip(), errors="coerce")


def _not_numbers(column: pd.Series, shown: int = 5) -> str:
    """The rows of a text column that is numbers but for at most one value in 20
    (rows from 1, as validation counts), e.g. "row 18 'n/a?'"; "" for any other."""
    read = _text_as_numbers(column)
    if read is None or len(read[0]) < 20:
        return ""
    values, numbers = read
    odd = values[numbers.isna()]
    if odd.empty or len(odd) > len(values) // 20:
        return ""
    rows = [column.index.get_loc(index) + 1 for index in odd.index[:shown]]
    where = ", ".join(f"row {row} {value!r}" for row, value in zip(rows, odd))
    return where + (f" and {len(odd) - shown} more" if len(odd) > shown else "")


def _only_numbers(column: pd.Series) -> bool:
    """A text column every value of which is a number ("3", "0.5")."""
    read = _text_as_numbers(column)
    return read is not None and len(read[0]) > 0 and bool(read[1].notna().all())


def _spelled_boolean(value: Any) -> bool:
    """A bool, or a text spelling of one in `BOOLEANS` other than digits (yes, False):
    a column of 0 and 1 stays a number."""
    if type(value) is bool:
        return True
    return isinstance(value, str) and value in BOOLEANS and not value[:1].isdigit()


def _infer_feature(column: pd.Series, max_categories: int) -> tuple[dict | None, int]:
    """(feature spec, distinct values) of one column; spec None: too many categories."""
    values = column.dropna()
    spec: dict[str, Any]
    if pd.api.types.is_bool_dtype(column) or (
        len(values) and values.map(_spelled_boolean).all()
    ):
        spec = {"kind": "boolean"}
    elif pd.api.types.is_numeric_dtype(column):
        whole = bool((values % 1 == 0).all()) if len(values) else False
        spec = {"kind": "integer" if whole else "numeric"}
        if len(values) and (values >= 0).all():
            spec["min"] = 0
    else:
        categories = sorted({str(v) for v in values} - {MISSING_CATEGORY})
        if len(categories) > max_categories:
            return None, len(categories)
        spec = {"kind": "categorical", "categories": categories}
    if column.isna().any() or (
        spec["kind"] == "categorical" and (column == MISSING_CATEGORY).any()
    ):
        spec["nullable"] = True
    return spec, values.nunique()


def contract_yaml(contract: dict[str, Any], name: str, source: Path, rows: int) -> str:
    """The text of `conf/data/<name>.yaml` for an inferred contract, to review."""
    import yaml

    document = {"name": name, "source": Path(source).as_posix(), **contract}
    features = document.pop("features")
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=88)
    # One line per feature: a contract of many columns stays readable.
    lines = ["features:"]
    for column, spec in features.items():
        key = yaml.safe_dump(column, allow_unicode=True).removesuffix("...\n").strip()
        value = yaml.safe_dump(
            spec,
            default_flow_style=True,
            sort_keys=False,
            width=10_000,
            allow_unicode=True,
        ).strip()
        lines.append(f"  {key}: {value}")
    header = (
        f"# Data contract inferred from {Path(source).as_posix()} ({rows} rows) by\n"
        f"# `python -m {__package__} contract infer`. Review it: kinds,\n"
        "# categories, which features may be missing (nullable) and their bounds\n"
        "# (min/max) are what training{% if cookiecutter.use_fastapi == 'yes' %}, the API{% endif %} and batch scoring will accept.\n"
        "# Columns to leave out: ignore.\n"
    )
    if "na_values" in contract:
        header += (
            "# na_values: CSV text read as missing besides the empty cell ([]: none).\n"
        )
    if "positive_class" in contract:
        header += (
            "# positive_class: the class ROC AUC, F1, precision and recall score.\n"
        )
    return header + body + "\n".join(lines) + "\n"
