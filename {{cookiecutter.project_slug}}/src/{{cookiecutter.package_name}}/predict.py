"""Batch scoring: stream a CSV or Parquet file through the model, chunk by chunk.

Memory stays flat whatever the file size: one chunk is read, checked, scored and
written at a time. Rows that break the data contract are not dropped silently: each is
reported with its line number and written, with the reason, to a rejects file.
"""

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import contract
from .cli import StageError
from .settings import Settings

log = logging.getLogger(__name__)

FORMATS = (".csv", ".parquet")
# Reasons are listed in the log up to this many rows; the rejects file has them all.
SHOWN_REJECTS = 10
# Columns added to each scored row.
{%- if cookiecutter.task == 'classification' %}
OUTPUT_COLUMNS = ("prediction", *(f"probability_{name}" for name in contract.CLASSES))
{%- else %}
OUTPUT_COLUMNS = ("prediction",)
{%- endif %}


class BatchInputError(StageError):
    """The input file cannot be scored at all (format, missing columns)."""


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

    CSV values are read as text, so that nothing is coerced before it is checked, and
    blank lines are kept as rows, so that line numbers stay true (line 1 is the header;
    a quoted value spanning several lines would shift them).
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
        keep_default_na=False,
        skip_blank_lines=False,
        chunksize=chunk_size,
    )
    first = 2
    for frame in chunks:
        yield first, frame
        first += len(frame)


def check(frame: pd.DataFrame, first_line: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a chunk into (valid features as floats, rejects with line and error)."""
    values = {}
    problems = pd.Series("", index=frame.index)
    empty = pd.Series(True, index=frame.index)
    for name in contract.FEATURE_NAMES:
        raw = frame[name]
        number = pd.to_numeric(raw, errors="coerce").astype("float64")
        missing = raw.isna()
        if not pd.api.types.is_numeric_dtype(raw.dtype):
            missing |= raw.eq("")
        empty &= missing
        not_number = number.isna() & ~missing
        infinite = np.isinf(number)
        for mask, reason in (
            (missing, "missing value"),
            (not_number, "not a number"),
            (infinite, "not finite"),
        ):
            if mask.any():
                shown = raw[mask].astype(str).map(repr)
                detail = "" if reason == "missing value" else " (" + shown + ")"
                problems[mask] += f"column {name!r}: {reason}" + detail + "; "
        values[name] = number
    problems[empty] = "empty row: no feature values"
    bad = problems != ""
    valid = pd.DataFrame(values, index=frame.index)[~bad]
    rejected = frame[bad].copy()
    rejected.insert(0, "error", problems[bad].str.rstrip("; "))
    positions = np.flatnonzero(bad.to_numpy())
    rejected.insert(0, "line", positions + first_line)
    return valid, rejected


def load_scorer(settings: Settings) -> tuple[str, Callable[[pd.DataFrame], dict]]:
    """(which model, function from feature frame to prediction columns)."""
    paths = settings.paths
    if not paths.model_file.is_file():
        raise FileNotFoundError(
            f"{paths.model_file} not found: run `make train` first."
        )
{%- if cookiecutter.use_onnx == 'yes' %}
    onnx_file = paths.onnx_file
    if onnx_file.is_file():
        if onnx_file.stat().st_mtime >= paths.model_file.stat().st_mtime:
            from . import export

            session = export.session(onnx_file)

            def onnx_scores(features: pd.DataFrame) -> dict:
                """Prediction columns from the ONNX model."""
                outputs = export.predict(session, features)
{%- if cookiecutter.task == 'classification' %}
                return _columns(outputs["label"], outputs["probabilities"])
{%- else %}
                return _columns(outputs["variable"][:, 0])
{%- endif %}

            return str(onnx_file), onnx_scores
        log.warning(
            "%s is older than %s: scoring with the scikit-learn model "
            "(run `make export-onnx` to refresh it).",
            onnx_file,
            paths.model_file,
        )
{%- endif %}
    import joblib

    pipeline = joblib.load(paths.model_file)

    def native_scores(features: pd.DataFrame) -> dict:
        """Prediction columns from the scikit-learn pipeline."""
{%- if cookiecutter.task == 'classification' %}
        return _columns(pipeline.predict(features), pipeline.predict_proba(features))
{%- else %}
        return _columns(pipeline.predict(features))
{%- endif %}

    return str(paths.model_file), native_scores
{%- if cookiecutter.task == 'classification' %}


def _columns(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """Output columns: the predicted class and one probability per class."""
    columns = {"prediction": labels.astype("int64")}
    for index, name in enumerate(contract.CLASSES):
        columns[f"probability_{name}"] = probabilities[:, index]
    return columns
{%- else %}


def _columns(predictions: np.ndarray) -> dict:
    """Output column: the predicted value."""
    return {"prediction": predictions.astype("float64")}
{%- endif %}


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
    model, scores = load_scorer(settings)
    destination.parent.mkdir(parents=True, exist_ok=True)
    rejects.unlink(missing_ok=True)
    output, rejected_rows = _Writer(destination), _Writer(rejects)
    counts = {"rows": 0, "scored": 0, "rejected": 0}
    try:
        with tqdm(
            total=count_rows(source), unit="rows", desc="scoring", disable=None
        ) as progress:
            for first_line, frame in read_chunks(source, chunk_size):
                missing = [c for c in contract.FEATURE_NAMES if c not in frame.columns]
                if missing:
                    raise BatchInputError(
                        f"{source}: missing column(s) {', '.join(missing)}."
                    )
                valid, rejected = check(frame, first_line)
                if len(valid):
                    scored = frame.loc[valid.index].assign(**scores(valid))
                    output.write(scored)
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
            output.write(frame.iloc[0:0].assign(**dict.fromkeys(OUTPUT_COLUMNS, 0.0)))
    finally:
        output.close()
        rejected_rows.close()
    rejected = f"; {counts['rejected']} rejected, see {rejects}"
    log.info(
        "Scored %d of %d rows with %s into %s%s",
        counts["scored"],
        counts["rows"],
        model,
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
