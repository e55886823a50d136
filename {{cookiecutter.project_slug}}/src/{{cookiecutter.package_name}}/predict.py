"""Batch scoring: stream a CSV or Parquet file through the model, chunk by chunk.

Memory stays flat whatever the file size: one chunk is read, checked, scored and
written at a time. Each chunk is checked against the contract the model was trained
on (it travels with the model), column by column; rows that break it are not dropped
silently: each is reported with its line number and written, with the reason, to a
rejects file. Columns beyond the contract's (an id, the target) pass through.
"""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import artifacts, contract
from .errors import StageError
from .settings import Contract, Feature, Settings
from .task import Task, for_contract

log = logging.getLogger(__name__)

FORMATS = (".csv", ".parquet")
# Reasons are listed in the log up to this many rows; the rejects file has them all.
SHOWN_REJECTS = 10


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


def _format(path: Path) -> str:
    """The file format from the suffix; refuse anything else."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise BatchInputError(f"{path}: expected a .csv or .parquet file.")
    return suffix


def count_rows(path: Path) -> int:
    """Data rows in the file, read in blocks (for the progress bar)."""
    if _format(path) == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(lines + (last != b"\n") - 1, 0)


def read_chunks(path: Path, chunk_size: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield (line number of the first row, rows) chunks.

    CSV values are read as text, so that nothing is coerced before it is checked
    (empty cells and pandas' NA spellings are missing, as when training reads a file),
    and blank lines are kept as rows, so that line numbers stay true (line 1 is the
    header; a quoted value spanning several lines would shift them).
    """
    if _format(path) == ".parquet":
        import pyarrow.parquet as pq

        first = 1
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size):
            frame = batch.to_pandas()
            yield first, frame
            first += len(frame)
        return
    chunks = pd.read_csv(
        path,
        dtype=str,
        skip_blank_lines=False,
        chunksize=chunk_size,
    )
    first = 2
    for frame in chunks:
        yield first, frame
        first += len(frame)


def _missing(raw: pd.Series) -> pd.Series:
    """Missing cells: null or NaN (CSV: empty, or a spelling pandas reads as NA)."""
    missing = raw.isna()
    if raw.dtype == object or isinstance(raw.dtype, pd.StringDtype):
        missing |= raw.eq(contract.MISSING_CATEGORY).fillna(True).astype(bool)
    return missing


def _as_text(raw: pd.Series) -> pd.Series:
    """Values as text (whole numbers as "1", not "1.0"); missing cells as NA."""
    if pd.api.types.is_float_dtype(raw.dtype) and (raw.dropna() % 1 == 0).all():
        raw = raw.astype("Int64")
    elif pd.api.types.is_bool_dtype(raw.dtype):
        raw = raw.astype(object)
    return raw.astype("string")


def _check_column(
    feature: Feature, raw: pd.Series, missing: pd.Series
) -> tuple[pd.Series, list[tuple[pd.Series, str]]]:
    """(typed values, [(bad rows, reason)]) of one column, every row at once."""
    if feature.kind == "categorical":
        text = _as_text(raw)
        known = text.isin(feature.categories).fillna(False).astype(bool)
        values = text.astype(object).where(known & ~missing, np.nan)
        return values, [(~known & ~missing, "unknown category")]
    number = pd.to_numeric(raw, errors="coerce").astype("float64")
    if feature.kind == "boolean":
        # Spellings first ("true", "yes", ...), then numbers 0 and 1 ("1.0", as a
        # split written by the features stage holds them).
        spelled = raw.map(contract.BOOLEANS).astype("float64")
        values = spelled.fillna(number.where(number.isin([0.0, 1.0])))
        return values, [(values.isna() & ~missing, "not a boolean")]
    finite = number.abs() <= contract.FLOAT32_MAX
    problems = [
        (number.isna() & ~missing, "not a number"),
        (number.notna() & ~finite, "not a finite number within float32's range"),
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


def check(
    terms: Contract, frame: pd.DataFrame, first_line: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a chunk into (model frame of the valid rows, rejects with line and error).

    Every contract column is checked at once for all rows of the chunk, by kind:
    numbers finite within float32's range and the contract's bounds, integers whole,
    booleans spelled as `contract.BOOLEANS`, categoricals among the contract's
    categories, and a value missing only where the contract allows it.
    """
    typed = {}
    problems = pd.Series("", index=frame.index, dtype=object)
    empty = pd.Series(True, index=frame.index)
    for name, feature in terms.features.items():
        raw = frame[name]
        missing = _missing(raw)
        empty &= missing
        values, failures = _check_column(feature, raw, missing)
        if not feature.nullable and missing.any():
            problems[missing] += f"column {name!r}: missing value; "
        for mask, reason in failures:
            if mask.any():
                shown = raw[mask].astype(str).map(repr)
                problems[mask] += f"column {name!r}: {reason} (" + shown + "); "
        typed[name] = values
    problems[empty] = "empty row: no feature values"
    bad = (problems != "").to_numpy()
    valid = contract.model_frame(terms, pd.DataFrame(typed, index=frame.index)[~bad])
    rejected = frame[bad].copy()
    rejected.insert(0, "error", problems[bad].str.rstrip("; "))
    rejected.insert(0, "line", np.flatnonzero(bad) + first_line)
    return valid, rejected


def load_scorer(settings: Settings) -> Scorer:
    """The current model: the ONNX export when it came from the trained model, else the
    scikit-learn pipeline (the log says which, and why)."""
    paths = settings.paths
{%- if cookiecutter.use_onnx == 'yes' %}
    if artifacts.onnx_is_current(paths.onnx_file, paths.model_file):
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


class _Writer:
    """Append chunks to a CSV or Parquet file, creating it on the first chunk."""

    def __init__(self, path: Path):
        self.path, self.kind = path, _format(path)
        self.handle = self.parquet = None

    def write(self, frame: pd.DataFrame) -> None:
        """Append the rows (the first call fixes the columns)."""
        if self.kind == ".csv":
            if self.handle is None:
                self.handle = self.path.open("w", encoding="utf-8", newline="")
                frame.to_csv(self.handle, index=False)
            else:
                frame.to_csv(self.handle, index=False, header=False)
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.parquet is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self.parquet = pq.ParquetWriter(self.path, table.schema)
        else:
            table = pa.Table.from_pandas(
                frame, schema=self.parquet.schema, preserve_index=False
            )
        self.parquet.write_table(table)

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
    if not source.is_file():
        raise FileNotFoundError(f"{source} not found.")
    _format(destination)
    rejects = Path(rejects or destination.with_name(f"{destination.stem}.rejects.csv"))
    scorer = load_scorer(settings)
    terms = scorer.contract
    destination.parent.mkdir(parents=True, exist_ok=True)
    rejects.unlink(missing_ok=True)
    output, rejected_rows = _Writer(destination), _Writer(rejects)
    counts = {"rows": 0, "scored": 0, "rejected": 0}
    try:
        with tqdm(
            total=count_rows(source), unit="rows", desc="scoring", disable=None
        ) as progress:
            for first_line, frame in read_chunks(source, chunk_size):
                missing = [c for c in terms.feature_names if c not in frame.columns]
                if missing:
                    raise BatchInputError(
                        f"{source}: missing column(s) "
                        f"{', '.join(map(repr, missing))} of the model's contract."
                    )
                valid, rejected = check(terms, frame, first_line)
                if len(valid):
                    columns = scorer.score(valid)
                    output.write(frame.loc[valid.index].assign(**columns))
                if len(rejected):
                    rejected_rows.write(rejected)
                    _report(rejected, counts["rejected"])
                counts["rows"] += len(frame)
                counts["scored"] += len(valid)
                counts["rejected"] += len(rejected)
                progress.update(len(frame))
        if counts["rows"] == 0:
            raise BatchInputError(f"{source}: no rows to score.")
        if counts["scored"] == 0:  # still write the columns, for whoever reads next
            empty = dict.fromkeys(scorer.output_columns, 0.0)
            output.write(frame.iloc[0:0].assign(**empty))
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


def _report(rejected: pd.DataFrame, already: int) -> None:
    """Log the first rejected rows with their line numbers."""
    for line, error in zip(rejected["line"], rejected["error"]):
        if already >= SHOWN_REJECTS:
            return
        log.warning("line %d rejected: %s", line, error)
        already += 1
