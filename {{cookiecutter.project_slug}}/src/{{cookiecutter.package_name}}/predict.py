"""Batch scoring: stream a CSV or Parquet file through the model, chunk by chunk.

Memory stays flat whatever the file size: a handful of chunks are in flight, and
the steps overlap: a reader thread reads chunk k+1 while one worker per core (up to 8,
and one more) checks and scores chunks k, k-1, ...
{%- if cookiecutter.use_onnx == 'yes' %} (onnxruntime releases the GIL){% endif %}
and a writer thread writes the oldest scored chunk (Arrow's reader, checks and writer
release the GIL). The output keeps the input
order. Files are read and written with Arrow: a CSV with every column as
text, so that nothing is coerced before it is checked (empty cells and pandas' NA
spellings are missing, as when training reads a file). Each chunk is checked against
the contract the model was trained on (it travels with the model) with one vectorised
check per contract column; rows that break it are not dropped silently: each is
reported with its line number and written, with the reason, to a rejects file. Columns
beyond the contract's (an id, the target) pass through as they were read; a file with
a column named as one scoring adds (`prediction`, `probability_<class>`) is refused.
`score_table` scores one chunk as an Arrow table (the Spark engine's tasks call its
parts, `check`, `outputs` and `assemble`); `score_frame` is the same scoring on a
pandas frame.
"""

import csv
import logging
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from . import artifacts, contract
from .errors import StageError
from .settings import Contract, Feature, Settings
from .task import Task, for_contract

log = logging.getLogger(__name__)

FORMATS = (".csv", ".parquet")
# Reasons are listed in the log up to this many rows; the rejects file has them all.
SHOWN_REJECTS = 10
# CSV bytes parsed at a time: one row must fit in a block. Arrow's streaming reader
# reads some 36 blocks ahead of the parser: 1 MiB blocks keep that near 36 MB (4 MiB
# blocks held up to 147 MB of a large file, measured).
BLOCK_SIZE = 1 << 20
# Boolean spellings in text, and what they mean.
_SPELLINGS = [key for key in contract.BOOLEANS if isinstance(key, str)]
_SPELLED = np.array([contract.BOOLEANS[key] for key in _SPELLINGS])


class BatchInputError(StageError):
    """The input file cannot be scored at all (format, missing columns)."""


@dataclass(frozen=True)
class Scorer:
    """The model batch scoring uses: what it is, its contract, its output columns."""

    name: str
    contract: Contract
    task: Task
    score: Callable[[pd.DataFrame], dict]

    @property
    def output_columns(self) -> tuple[str, ...]:
        """Columns added to each scored row."""
        return self.task.output_columns()


@dataclass
class Chunk:
    """Rows read from a file: their line numbers and, apart, the malformed lines."""

    lines: np.ndarray
    table: pa.Table
    # (line, reason) of lines that are not rows of the header's columns.
    malformed: list[tuple[int, str]] = field(default_factory=list)


def _format(path: Path) -> str:
    """The file format from the suffix; refuse anything else."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise BatchInputError(f"{path}: expected a .csv or .parquet file.")
    return suffix


def count_rows(path: Path) -> int:
    """Data rows in the file, read in blocks (for the progress bar)."""
    return _scan(path)[0]


def _scan(path: Path) -> tuple[int, bool]:
    """(data rows, whether a CSV holds a quote): one pass over the file's bytes.

    A CSV without any quote cannot have a line break inside a value, and Arrow
    parses it faster when told so.
    """
    if _format(path) == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows, False
    lines, last, quoted = 0, b"\n", False
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            quoted = quoted or b'"' in block
            last = block[-1:]
    return max(lines + (last != b"\n") - 1, 0), quoted


def read_chunks(
    path: Path, chunk_size: int, missing: tuple[str, ...], quoted: bool = True
) -> Iterator[Chunk]:
    """Yield the file's rows `chunk_size` at a time, with their line numbers.

    A Parquet row's line is its row number (from 1). In a CSV, line 1 is the header
    and blank lines are kept as rows, so that line numbers stay true (a quoted value
    spanning several lines would shift them); a line with more or fewer values than
    the header has columns is reported as malformed. `quoted=False` says the CSV
    holds no quote (see `_scan`): it is parsed faster. A CSV cell spelled as one of
    `missing` is null (the model's contract's `missing_text`).
    """
    if _format(path) == ".parquet":
        first = 1
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size):
            table = pa.Table.from_batches([batch])
            yield Chunk(np.arange(first, first + len(table)), table)
            first += len(table)
        return
    yield from _csv_chunks(path, chunk_size, quoted, missing)


def _header(path: Path) -> list[str]:
    """The CSV's column names as the file spells them."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise BatchInputError(f"{path}: no rows to score.")
    return header


def _pandas_names(header: list[str]) -> list[str]:
    """Column names as pandas names them: "Unnamed: 3" for a blank one, "a.1"..."""
    names: list[str] = []
    for index, name in enumerate(header):
        name = name or f"Unnamed: {index}"
        base, count = name, 0
        while name in names:
            count += 1
            name = f"{base}.{count}"
        names.append(name)
    return names


def _csv_chunks(
    path: Path, chunk_size: int, quoted: bool, missing: tuple[str, ...]
) -> Iterator[Chunk]:
    """CSV rows in chunks of exactly `chunk_size` (Arrow's blocks are in bytes)."""
    header = _header(path)
    malformed: list[tuple[int, str]] = []

    def skip(row) -> str:
        if row.number is None:  # only known when parsing is serial
            raise BatchInputError(f"{path}: malformed line {row.text!r}.")
        malformed.append(
            (
                row.number,
                f"malformed line: {row.actual_columns} values where the header has "
                f"{row.expected_columns} columns ({row.text!r})",
            )
        )
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE, use_threads=False),
        parse_options=pacsv.ParseOptions(
            newlines_in_values=quoted,
            ignore_empty_lines=False,
            invalid_row_handler=skip,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            null_values=list(missing),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    names = _pandas_names(header)
    next_line = 2

    def chunk(table: pa.Table) -> Chunk:
        nonlocal next_line
        # Lines of these rows: the next ones, but for the malformed lines among them.
        skipped = 0
        while True:
            end = next_line + table.num_rows + skipped
            inside = sum(1 for line, _ in malformed if line < end)
            if inside == skipped:
                break
            skipped = inside
        lines = np.arange(next_line, end)
        bad, malformed[:skipped] = malformed[:skipped], []
        if bad:
            lines = lines[~np.isin(lines, [line for line, _ in bad])]
        next_line = end
        return Chunk(lines, table.rename_columns(names), bad)

    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in reader:
        pending.append(batch)
        held += batch.num_rows
        while held >= chunk_size:
            table = pa.Table.from_batches(pending)
            yield chunk(table.slice(0, chunk_size))
            rest = table.slice(chunk_size)
            pending, held = rest.to_batches(), rest.num_rows
    last = chunk(pa.Table.from_batches(pending, schema=reader.schema))
    last.malformed += malformed  # after the last row
    if last.table.num_rows or last.malformed:
        yield last


def _is_text(kind: pa.DataType) -> bool:
    """Is the Arrow type a string type?"""
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_string_view(kind)
    )


def _bools(values) -> np.ndarray:
    """An Arrow boolean result as a numpy mask (null: False)."""
    if values.null_count:
        values = pc.fill_null(values, False)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def _missing(column: pa.ChunkedArray) -> np.ndarray:
    """Missing cells: null or NaN (CSV: empty, or a spelling pandas reads as NA)."""
    if pa.types.is_null(column.type):
        return np.ones(len(column), dtype=bool)
    missing = _bools(pc.is_null(column, nan_is_null=True))
    if _is_text(column.type):
        missing |= _bools(pc.equal(column, contract.MISSING_CATEGORY))
    return missing


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    """Values as float64; NaN where missing or not a number (as `pd.to_numeric`)."""
    kind = column.type
    if pa.types.is_null(kind):
        return np.full(len(column), np.nan)
    if _is_text(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind):
        try:
            number = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # some value is not a number: pandas says which, as when training
        else:
            return number.to_numpy(zero_copy_only=False)  # null: NaN
    raw = column.to_pandas()
    return pd.to_numeric(raw, errors="coerce").astype("float64").to_numpy()


def _as_text(raw: pd.Series) -> pd.Series:
    """Values as text (whole numbers as "1", not "1.0"); missing cells as NA."""
    if pd.api.types.is_float_dtype(raw.dtype) and (raw.dropna() % 1 == 0).all():
        raw = raw.astype("Int64")
    elif pd.api.types.is_bool_dtype(raw.dtype):
        raw = raw.astype(object)
    return raw.astype("string")


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as Arrow text, typed values spelled as pandas spells them."""
    if _is_text(column.type):
        return column
    text = _as_text(column.to_pandas())
    return pa.chunked_array([pa.array(text, type=pa.string(), from_pandas=True)])


def _check_column(
    feature: Feature, column: pa.ChunkedArray, missing: np.ndarray
) -> tuple[np.ndarray, list[tuple[np.ndarray, str]]]:
    """(model values, [(bad rows, reason)]) of one column, every row at once."""
    if feature.kind == "categorical":
        text = _text(column)
        known = _bools(pc.is_in(text, value_set=pa.array(feature.categories)))
        values = np.where(
            known, text.to_numpy(zero_copy_only=False), contract.MISSING_CATEGORY
        )
        return values.astype(object), [(~known & ~missing, "unknown category")]
    if feature.kind == "boolean":
        # Spellings first ("true", "yes", ...), then numbers 0 and 1 ("1.0", as a
        # split written by the features stage holds them).
        spelled = np.full(len(column), np.nan)
        rest = column
        if _is_text(column.type):
            index = pc.fill_null(
                pc.index_in(column, value_set=pa.array(_SPELLINGS)), -1
            ).to_numpy()
            found = index >= 0
            spelled[found] = _SPELLED[index[found]]
            if found.any():
                rest = pc.if_else(pa.array(found), None, column)
        number = _numbers(rest)
        numbered = np.where(np.isin(number, [0.0, 1.0]), number, np.nan)
        values = np.where(np.isnan(spelled), numbered, spelled)
        return values, [(np.isnan(values) & ~missing, "not a boolean")]
    number = _numbers(column)
    with np.errstate(invalid="ignore"):
        finite = np.abs(number) <= contract.FLOAT32_MAX
        problems = [
            (np.isnan(number) & ~missing, "not a number"),
            (~np.isnan(number) & ~finite, "not a finite number within float32's range"),
        ]
        if feature.kind == "integer":
            problems.append((finite & (number % 1 != 0), "not a whole number"))
        if feature.min is not None:
            below = finite & (number < feature.min)
            problems.append((below, f"below the contract's min {feature.min:g}"))
        if feature.max is not None:
            above = finite & (number > feature.max)
            problems.append((above, f"above the contract's max {feature.max:g}"))
    return number, problems


@dataclass(frozen=True)
class Checked:
    """A chunk checked against the contract: which rows break it, why, the others."""

    bad: np.ndarray
    # One reason per bad row, in row order.
    errors: list[str]
    # The model frame of the other rows.
    features: pd.DataFrame


def check(terms: Contract, table: pa.Table) -> Checked:
    """Check every row of a chunk against the contract, one column at a time.

    Every contract column is checked at once for all rows of the chunk, by kind:
    numbers finite within float32's range and the contract's bounds, integers whole,
    booleans spelled as `contract.BOOLEANS`, categoricals among the contract's
    categories, and a value missing only where the contract allows it.
    """
    rows = table.num_rows
    empty = np.ones(rows, dtype=bool)
    problems: list[tuple[np.ndarray, str, str, bool]] = []
    values = {}
    for name, feature in terms.features.items():
        column = table.column(name)
        missing = _missing(column)
        empty &= missing
        values[name], failures = _check_column(feature, column, missing)
        if not feature.nullable:
            problems.append((missing, name, "missing value", False))
        problems.extend((mask, name, reason, True) for mask, reason in failures)
    bad = empty.copy()
    for mask, *_ in problems:
        bad |= mask
    keep = ~bad
    features = pd.DataFrame(
        {name: column[keep] for name, column in values.items()}, copy=False
    )
    return Checked(bad, _errors(table, problems, empty, bad), features)


def _errors(
    table: pa.Table,
    problems: list[tuple[np.ndarray, str, str, bool]],
    empty: np.ndarray,
    bad: np.ndarray,
) -> list[str]:
    """One line per bad row: each problem as column, reason and value."""
    rows = np.flatnonzero(bad)
    if not len(rows):
        return []
    position = np.full(len(bad), -1)
    position[rows] = np.arange(len(rows))
    parts: list[list[str]] = [[] for _ in rows]
    for mask, name, reason, show in problems:
        hits = np.flatnonzero(mask)
        if not len(hits):
            continue
        shown = _shown(table.column(name), hits) if show else None
        for index, row in enumerate(hits):
            part = f"column {name!r}: {reason}"
            if shown is not None:
                part += f" ({shown[index]})"
            parts[position[row]].append(part)
    errors = ["; ".join(part) for part in parts]
    for index in np.flatnonzero(empty[rows]):
        errors[index] = "empty row: no feature values"
    return errors


def _shown(column: pa.ChunkedArray, rows: np.ndarray) -> list[str]:
    """Values of some rows as the error shows them (as pandas would print them)."""
    if _is_text(column.type):
        return [repr(value) for value in column.take(rows).to_pylist()]
    return [repr(value) for value in column.to_pandas().iloc[rows].astype(str)]


def _arrow(values: np.ndarray) -> pa.Array:
    """A model output column as Arrow (labels as text or integers, numbers)."""
    if values.dtype == object:
        return pa.array(values, type=pa.string(), from_pandas=True)
    return pa.array(values)


# The type of a feature column read as text, once checked, in a typed output.
FEATURE_TYPES = {
    "numeric": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "categorical": pa.string(),
}


# int64 holds whole numbers below this; the contract allows float32's range.
INT64_LIMIT = 2.0**63


def _typed(table: pa.Table, terms: Contract, values: pd.DataFrame) -> pa.Table:
    """`table` with its text columns of numbers and booleans as their checked values
    (typed as FEATURE_TYPES says; an integer beyond int64's range is null)."""
    for name, feature in terms.features.items():
        index = table.column_names.index(name)
        if not _is_text(table.schema.field(index).type):
            continue
        if feature.kind == "categorical":  # text already: string, not large_string
            column = table.column(index).cast(FEATURE_TYPES["categorical"])
            table = table.set_column(index, name, column)
            continue
        number = values[name].to_numpy(dtype=np.float64)
        absent = np.isnan(number)
        if feature.kind == "integer":
            with np.errstate(invalid="ignore"):
                absent |= np.abs(number) >= INT64_LIMIT
        if feature.kind == "boolean":
            number = number == 1.0
        column = pa.array(np.where(absent, 0, number), mask=absent)
        table = table.set_column(index, name, column.cast(FEATURE_TYPES[feature.kind]))
    return table


def output_type(scorer: Scorer, name: str) -> pa.DataType:
    """Arrow type of an output column: labels as the contract's classes, else double."""
    classes = scorer.contract.classes
    if name == "prediction" and classes:
        return pa.string() if isinstance(classes[0], str) else pa.int64()
    return pa.float64()


def scored_schema(scorer: Scorer, schema: pa.Schema, typed: bool) -> pa.Schema:
    """The scored rows' schema, whichever engine, model file or chunk: the input's
    columns (a text feature column typed as FEATURE_TYPES says, when `typed`), then
    the output columns."""
    features = scorer.contract.features
    fields = [
        (
            pa.field(field.name, FEATURE_TYPES[features[field.name].kind])
            if typed and field.name in features and _is_text(field.type)
            else field
        )
        for field in schema
    ]
    outputs = [
        pa.field(name, output_type(scorer, name)) for name in scorer.output_columns
    ]
    return pa.schema([*fields, *outputs])


def score_table(scorer: Scorer, chunk: Chunk) -> tuple[pa.Table, pa.Table]:
    """(scored rows: its columns + the outputs, rejects: line, error, its columns)."""
    checked = check(scorer.contract, chunk.table)
    return assemble(chunk, checked, outputs(scorer, checked))


def outputs(scorer: Scorer, checked: Checked) -> dict[str, np.ndarray]:
    """The model's output columns for the rows that passed the checks (maybe none)."""
    if not len(checked.features):
        return {}
    return scorer.score(checked.features)


def assemble(
    chunk: Chunk,
    checked: Checked,
    scores: dict[str, np.ndarray],
    contract_types: Contract | None = None,
) -> tuple[pa.Table, pa.Table]:
    """The scored rows (the valid ones + `scores`) and the rejects of a chunk.

    With `contract_types`, the scored rows' feature columns read as text (a CSV's)
    take their contract kind's type, from the checked values: float64, int64, bool
    (categoricals stay text). A Parquet output gets typed columns; a CSV output
    keeps the text as it was read.
    """
    table = chunk.table
    keep = ~checked.bad
    scored = table if keep.all() else table.filter(pa.array(keep))
    if contract_types is not None:
        scored = _typed(scored, contract_types, checked.features)
    if len(checked.features):
        # `require_columns` refused input columns of these names: none is replaced.
        for name, values in scores.items():
            scored = scored.append_column(name, _arrow(np.asarray(values)))
    lines = [*chunk.lines[checked.bad].tolist(), *(n for n, _ in chunk.malformed)]
    errors = [*checked.errors, *(error for _, error in chunk.malformed)]
    rows = table.filter(pa.array(checked.bad))
    if chunk.malformed:  # their values are in the error: no columns to show
        blank = pa.Table.from_arrays(
            [pa.nulls(len(chunk.malformed), kind) for kind in table.schema.types],
            schema=table.schema,
        )
        rows = pa.concat_tables([rows, blank])
    order = np.argsort(lines, kind="stable")
    reasons = pa.array(errors, pa.string()).take(order)
    line, error = reject_columns(table.column_names)
    rejected = rows.take(order).add_column(0, error, reasons)
    rejected = rejected.add_column(0, line, pa.array(lines, pa.int64()).take(order))
    return scored, rejected


def reject_columns(columns, *first: str) -> list[str]:
    """The names of the columns a rejects file puts before the input's: `first` (the
    Spark engine's `file`), `line` and `error`, each with `_` put in front while the
    input has a column of that name in any case (Spark's names ignore case), so that
    no input column is shadowed."""
    taken = {str(name).casefold() for name in columns}
    names = []
    for name in (*first, "line", "error"):
        while name in taken:
            name = f"_{name}"
        taken.add(name)
        names.append(name)
    return names


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A pandas frame as an Arrow table, column by column (mixed types as text)."""
    arrays = []
    for name in frame.columns:
        column = frame[name]
        try:
            arrays.append(pa.array(column, from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array(column.astype("string"), from_pandas=True))
    return pa.Table.from_arrays(arrays, names=[str(name) for name in frame.columns])


def score_frame(
    scorer: Scorer, frame: pd.DataFrame, first_line: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score a pandas frame of raw values as `run` scores a chunk of a file.

    `frame` holds the values as read (CSV: text or None; Parquet: typed); row i is
    line `first_line + i`. Returns (the valid rows with the task's output columns
    added, the rejected rows with `line` and `error` first, named by
    `reject_columns`).
    """
    require_columns(scorer, frame.columns, "the frame")
    table = _to_arrow(frame)
    checked = check(scorer.contract, table)
    keep = ~checked.bad
    if len(checked.features):
        outputs = scorer.score(checked.features)
    else:
        outputs = {name: np.array([], dtype=float) for name in scorer.output_columns}
    scored = frame[keep].assign(**{name: np.asarray(v) for name, v in outputs.items()})
    rejected = frame[checked.bad].copy()
    line, error = reject_columns(frame.columns)
    rejected.insert(0, error, checked.errors)
    rejected.insert(0, line, np.flatnonzero(checked.bad) + first_line)
    return scored, rejected


def require_columns(
    scorer: Scorer,
    columns,
    source: object,
    error: type[StageError] = BatchInputError,
    any_case: bool = False,
) -> None:
    """Refuse input without every contract column, naming the missing ones, or with
    a column of a name scoring adds (`prediction`, `probability_<class>`): its values
    would be lost in the output. `error`: the exception raised; `any_case`: names
    that differ only in case clash too (the Spark engine's, whose names ignore case).
    A name given twice is refused too (training refuses it: which one is the
    feature?); `columns` are the names as the file spells them."""
    present = list(map(str, columns))
    fold = str.casefold if any_case else str
    counts = Counter(fold(name) for name in present if name)
    twice = sorted({name for name in present if name and counts[fold(name)] > 1})
    if twice:
        raise error(
            f"{source}: column(s) {', '.join(map(repr, twice))} named more than once "
            f"in the header{' (Spark ignores the case of names)' if any_case else ''}"
            ": rename one of each. Nothing was written."
        )
    names = set(present)
    missing = [name for name in scorer.contract.feature_names if name not in names]
    if missing:
        raise error(
            f"{source}: missing column(s) "
            f"{', '.join(map(repr, missing))} of the model's contract."
        )
    added = {fold(name) for name in scorer.output_columns}
    clashing = [name for name in present if fold(name) in added]
    if clashing:
        raise error(
            f"{source}: column(s) {', '.join(map(repr, clashing))} would be "
            f"overwritten by the column(s) scoring adds "
            f"({', '.join(scorer.output_columns)}"
            f"{'; Spark ignores the case of names' if any_case else ''}): rename "
            "them in the input. Nothing was written."
        )


def _columns(path: Path) -> list[str]:
    """The file's column names, as the file spells them."""
    if _format(path) == ".parquet":
        return pq.read_schema(path).names
    return _header(path)


def _cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def load_scorer(settings: Settings) -> Scorer:
    """The current model: the ONNX export when it came from the trained model, else the
    scikit-learn pipeline (the log says which, and why)."""
    paths = settings.paths
{%- if cookiecutter.use_onnx == 'yes' %}
    if artifacts.onnx_is_current(paths.onnx_file, paths.model_file):
        # One onnxruntime thread per call: `run` scores chunks in one worker per
        # core, which share the session (its calls are thread-safe).
        onnx_model = artifacts.OnnxModel(paths.onnx_file)
        log.info(
            "Scoring with %s: exported from the current %s.",
            paths.onnx_file,
            paths.model_file,
        )
        task = for_contract(onnx_model.contract)
        return Scorer(
            str(paths.onnx_file),
            onnx_model.contract,
            task,
            lambda rows: task.columns(onnx_model.run(rows)),
        )
    why = (
        "it was exported from another model (run `make export-onnx` to refresh it)"
        if paths.onnx_file.is_file()
        else "there is no ONNX export (`make export-onnx`)"
    )
{%- endif %}
    bundle = artifacts.Bundle.load(paths.model_file, paths.metadata_file)
{%- if cookiecutter.use_onnx == 'yes' %}
    log.info(
        "Scoring with the scikit-learn pipeline %s, not %s: %s.",
        paths.model_file,
        paths.onnx_file,
        why,
    )
{%- else %}
    log.info("Scoring with the scikit-learn pipeline %s.", paths.model_file)
{%- endif %}
    task = for_contract(bundle.contract)
    return Scorer(
        str(paths.model_file),
        bundle.contract,
        task,
        lambda rows: task.columns(task.outputs(bundle.pipeline, rows)),
    )


def _csv_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as the CSV writer gets it, spelled mostly as pandas writes it.

    Booleans True/False; floats in their shortest round-trip form with pandas'
    "1.0" and "1e-07" (Arrow writes "1" and "1e-7"), NaN empty.
    """
    kind = column.type
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "True", "False")
    if pa.types.is_null(kind):
        return pa.chunked_array([pa.nulls(len(column), pa.string())])
    if not pa.types.is_floating(kind):
        return column
    text = pc.cast(column, pa.string())
    whole = pc.match_substring_regex(text, r"^-?[0-9]+$")
    text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
    text = pc.replace_substring_regex(text, r"e([-+])([0-9])$", r"e\10\2")
    return pc.if_else(pc.is_nan(column), None, text)


class _Writer:
    """Append chunks to a CSV or Parquet file, creating it on the first chunk."""

    def __init__(self, path: Path):
        self.path, self.kind = path, _format(path)
        self.handle = self.parquet = None

    def write(self, table: pa.Table) -> None:
        """Append the rows (the first call fixes the columns)."""
        if self.kind == ".parquet":
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.path, table.schema)
            elif table.schema != self.parquet.schema:
                table = table.cast(self.parquet.schema)
            self.parquet.write_table(table)
            return
        if self.handle is None:
            self.handle = self.path.open("wb")
            # The header as pandas writes it: quoted only where needed.
            header = StringIO()
            csv.writer(header, lineterminator="\n").writerow(table.column_names)
            self.handle.write(header.getvalue().encode("utf-8"))
        columns = [_csv_column(column) for column in table.columns]
        body = pa.Table.from_arrays(
            columns, names=[f"c{index}" for index in range(len(columns))]
        )
        # No quotes, as pandas writes values that need none; a chunk holding a value
        # that needs them (a comma, a quote, a line break) has all its text quoted.
        for quoting in ("none", "needed"):
            buffer = pa.BufferOutputStream()
            try:
                pacsv.write_csv(
                    body,
                    buffer,
                    pacsv.WriteOptions(include_header=False, quoting_style=quoting),
                )
            except pa.ArrowInvalid:
                continue
            self.handle.write(buffer.getvalue())
            return

    def close(self) -> None:
        """Flush and close the file."""
        if self.handle is not None:
            self.handle.close()
        if self.parquet is not None:
            self.parquet.close()


def run(
    settings: Settings,
    source: Path,
    destination: Path,
    rejects: Path | None = None,
    chunk_size: int = 10_000,
) -> dict[str, int]:
    """Score `source` into `destination`; rows that fail go to `rejects`."""
    source, destination = Path(source), Path(destination)
    if source.is_dir():
        raise BatchInputError(
            f"{source} is a folder: this engine scores one file (CSV or Parquet)"
{%- if cookiecutter.use_spark == 'yes' %}
            "; the Spark engine scores a folder of them (ENGINE=spark)."
{%- else %}
            ": score its files one by one."
{%- endif %}
        )
    if not source.is_file():
        raise FileNotFoundError(f"{source} not found.")
    _format(destination)
    rejects = Path(rejects or destination.with_name(f"{destination.stem}.rejects.csv"))
    scorer = load_scorer(settings)
    # Refused before anything is written or removed.
    require_columns(scorer, _columns(source), source)
    total, quoted = _scan(source)
    destination.parent.mkdir(parents=True, exist_ok=True)
    rejects.unlink(missing_ok=True)
    output, rejected_rows = _Writer(destination), _Writer(rejects)
    # Parquet holds types: the features' own, not the text a CSV gave them.
    typed = scorer.contract if output.kind == ".parquet" else None
    counts = {"rows": 0, "scored": 0, "rejected": 0}
    schema = None

    def first(chunk: Chunk) -> Chunk:
        """Reader thread: the chunk; the first one's columns kept (`schema`)."""
        nonlocal schema
        if schema is None:
            schema = chunk.table.schema
        return chunk

    def scored(chunk: Chunk) -> tuple:
        """A worker: the chunk's checks and the model's outputs."""
        checked = check(scorer.contract, chunk.table)
        return chunk, checked, outputs(scorer, checked)

    def written(item: tuple) -> None:
        """Writer thread: the scored rows and the rejects, appended; the counts."""
        chunk = item[0]
        scored, rejected = assemble(*item, contract_types=typed)
        if scored.num_rows:
            if typed is not None:  # Parquet: one schema, whichever model file
                scored = scored.cast(scored_schema(scorer, schema, typed=True))
            output.write(scored)
        if rejected.num_rows:
            rejected_rows.write(rejected)
            _report(rejected, counts["rejected"])
        rows = chunk.table.num_rows + len(chunk.malformed)
        counts["rows"] += rows
        counts["scored"] += scored.num_rows
        counts["rejected"] += rejected.num_rows
        progress.update(rows)

    try:
        with tqdm(total=total, unit="rows", desc="scoring", disable=None) as progress:
            missing = scorer.contract.missing_text
            chunks = map(first, read_chunks(source, chunk_size, missing, quoted))
            overlapped(chunks, scored, written, workers=min(_cores(), 8) + 1)
        if counts["rows"] == 0:
            raise BatchInputError(f"{source}: no rows to score.")
        if counts["scored"] == 0:  # still write the columns, for whoever reads next
            output.write(scored_schema(scorer, schema, typed is not None).empty_table())
    finally:
        output.close()
        rejected_rows.close()
    rejected = f"; {counts['rejected']} rejected, see {rejects}"
    log.info(
        "Scored %d of %d rows with %s into %s%s",
        counts["scored"],
        counts["rows"],
        scorer.name,
        destination,
        rejected if counts["rejected"] else "",
    )
    return counts


_END = object()


def overlapped(
    items: Iterable, step: Callable, sink: Callable, workers: int = 1
) -> None:
    """`sink(step(item))` for every item, in order, `workers` steps at a time.

    A reader thread takes the next item from `items` while `workers` threads run `step`
    on the items before it, each on its own item, and a writer thread runs `sink` on
    the oldest result: at most `workers` + 2 items are in flight, and `sink` sees the
    results in the items' order. The first error (or Ctrl-C) stops them all; it is
    raised here once every thread has finished what it was doing (one item each at
    most), so that no thread outlives the call.
    """
    items = iter(items)
    with (
        ThreadPoolExecutor(1, thread_name_prefix="batch-read") as reader,
        ThreadPoolExecutor(workers, thread_name_prefix="batch-score") as pool,
        ThreadPoolExecutor(1, thread_name_prefix="batch-write") as writer,
    ):
        running: deque[Future] = deque()
        behind: Future | None = None

        def write_oldest() -> None:
            nonlocal behind
            result = running.popleft().result()
            if behind is not None:
                behind.result()
            behind = writer.submit(sink, result)

        ahead = reader.submit(next, items, _END)
        while (item := ahead.result()) is not _END:
            ahead = reader.submit(next, items, _END)
            running.append(pool.submit(step, item))
            if len(running) == workers:
                write_oldest()
        while running:
            write_oldest()
        if behind is not None:
            behind.result()


def _report(rejected: pa.Table, already: int) -> None:
    """Log the first rejected rows with their line numbers."""
    shown = max(min(SHOWN_REJECTS - already, rejected.num_rows), 0)
    head = rejected.slice(0, shown)
    for line, error in zip(head.column(0).to_pylist(), head.column(1).to_pylist()):
        log.warning("line %d rejected: %s", line, error)
