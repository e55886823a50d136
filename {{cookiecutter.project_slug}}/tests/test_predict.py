"""Batch scoring streams files in chunks; bad rows are reported by line, not dropped."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import contract, predict, train
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.features import split_xy

from .conftest import CONFIG_DIR


@pytest.fixture
def trained(prepared):
    """Settings with a trained default model on disk."""
    train.run(prepared)
    return prepared


def expected_predictions(settings, rows: pd.DataFrame) -> np.ndarray:
    """What the scikit-learn pipeline predicts for the rows."""
    import joblib

    pipeline = joblib.load(settings.paths.model_file)
    return pipeline.predict(split_xy(rows)[0] if contract.TARGET in rows else rows)


def test_csv_is_scored_chunk_by_chunk_like_the_model(trained, tmp_path):
    source = trained.paths.test_data
    output = tmp_path / "scored.csv"

    counts = predict.run(trained, source, output, chunk_size=7)

    rows = pd.read_csv(source)
    scored = pd.read_csv(output)
    assert counts == {"rows": len(rows), "scored": len(rows), "rejected": 0}
    assert list(scored.columns) == [*rows.columns, *predict.OUTPUT_COLUMNS]
    pd.testing.assert_frame_equal(scored[rows.columns], rows)
{%- if cookiecutter.task == 'classification' %}
    np.testing.assert_array_equal(
        scored["prediction"], expected_predictions(trained, rows)
    )
    probabilities = scored[list(predict.OUTPUT_COLUMNS[1:])].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
{%- else %}
    np.testing.assert_allclose(
        scored["prediction"], expected_predictions(trained, rows), rtol=1e-4
    )
{%- endif %}
    assert not (tmp_path / "scored.rejects.csv").exists()


def test_bad_rows_are_rejected_with_their_line_numbers(trained, tmp_path):
    rows = pd.read_csv(trained.paths.test_data).head(6).astype(str)
    first, second = contract.FEATURE_NAMES[0], contract.FEATURE_NAMES[1]
    rows.loc[rows.index[1], first] = "abc"
    rows.loc[rows.index[3], second] = ""
    rows.loc[rows.index[4], first] = "inf"
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    with source.open("a", encoding="utf-8") as handle:
        handle.write("\n")  # a blank line: line 8
    output = tmp_path / "scored.csv"

    counts = predict.run(trained, source, output, chunk_size=4)

    assert counts == {"rows": 7, "scored": 3, "rejected": 4}
    rejects = pd.read_csv(tmp_path / "scored.rejects.csv", keep_default_na=False)
    assert list(rejects["line"]) == [3, 5, 6, 8]
    errors = list(rejects["error"])
    assert errors[0] == f"column '{first}': not a number ('abc')"
    assert errors[1] == f"column '{second}': missing value"
    assert errors[2] == f"column '{first}': not finite ('inf')"
    assert errors[3] == "empty row: no feature values"
    assert rejects.loc[0, first] == "abc"  # the row as it was, to fix and re-run
    assert len(pd.read_csv(output)) == 3


def test_parquet_in_and_out(trained, tmp_path):
    source = tmp_path / "rows.parquet"
    rows = pd.read_csv(trained.paths.test_data)
    rows.to_parquet(source, index=False)
    output = tmp_path / "scored.parquet"

    counts = predict.run(trained, source, output, chunk_size=50)

    scored = pd.read_parquet(output)
    assert counts["scored"] == len(rows) == len(scored)
    assert list(scored.columns) == [*rows.columns, *predict.OUTPUT_COLUMNS]
{%- if cookiecutter.task == 'classification' %}
    np.testing.assert_array_equal(
        scored["prediction"], expected_predictions(trained, rows)
    )
{%- endif %}


def test_a_file_of_only_bad_rows_still_writes_the_columns(trained, tmp_path):
    rows = pd.read_csv(trained.paths.test_data).head(2).astype(str)
    rows[contract.FEATURE_NAMES[0]] = "x"
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)

    counts = predict.run(trained, source, tmp_path / "out.csv")

    assert counts == {"rows": 2, "scored": 0, "rejected": 2}
    written = pd.read_csv(tmp_path / "out.csv")
    assert written.empty and "prediction" in written.columns


def test_missing_column_stops_with_its_name(trained, tmp_path):
    column = contract.FEATURE_NAMES[-1]
    rows = pd.read_csv(trained.paths.test_data).drop(columns=[column])
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    with pytest.raises(predict.BatchInputError, match=column):
        predict.run(trained, source, tmp_path / "out.csv")


def test_unknown_format_and_empty_file_are_refused(trained, tmp_path):
    with pytest.raises(predict.BatchInputError, match=r"\.csv or \.parquet"):
        predict.run(trained, trained.paths.test_data, tmp_path / "out.json")
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(contract.FEATURE_NAMES) + "\n", encoding="utf-8")
    with pytest.raises(predict.BatchInputError, match="no rows"):
        predict.run(trained, empty, tmp_path / "out.csv")


def test_scoring_without_a_model_explains_what_to_run(prepared, tmp_path):
    with pytest.raises(FileNotFoundError, match="make train"):
        predict.run(prepared, prepared.paths.test_data, tmp_path / "out.csv")


def test_count_rows_counts_data_lines(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n1,2\n3,4", encoding="utf-8")  # no final newline
    assert predict.count_rows(path) == 2
    path.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    assert predict.count_rows(path) == 2
{%- if cookiecutter.use_onnx == 'yes' %}


def test_the_onnx_model_is_used_when_present_and_fresh(trained, tmp_path):
    import os

    from {{ cookiecutter.package_name }} import export
    from {{ cookiecutter.package_name }}.data import read_csv

    assert predict.load_scorer(trained)[0].endswith("model.joblib")
    export.run(trained)
    model, scores = predict.load_scorer(trained)
    assert model.endswith("model.onnx")
    rows, _ = split_xy(read_csv(trained.paths.test_data))
    columns = scores(rows)
    assert list(columns) == list(predict.OUTPUT_COLUMNS)
{%- if cookiecutter.task == 'classification' %}
    np.testing.assert_array_equal(
        columns["prediction"], expected_predictions(trained, rows)
    )
{%- endif %}
    # An ONNX file older than the trained model is stale: the joblib model is used.
    stat = trained.paths.model_file.stat()
    os.utime(trained.paths.onnx_file, (stat.st_atime, stat.st_mtime - 60))
    assert predict.load_scorer(trained)[0].endswith("model.joblib")
{%- endif %}


def test_cli_scores_a_file_and_reports_bad_input(trained, tmp_path, capsys):
    output = tmp_path / "scored.csv"
    args = ["--config-dir", str(CONFIG_DIR), "--output", str(output)]
    source = str(trained.paths.test_data)
    assert main(["predict", "--input", source, *args]) == 0
    assert output.is_file()
    assert main(["predict", "--input", str(tmp_path / "absent.csv"), *args]) == 1
    assert "absent.csv not found" in capsys.readouterr().err


def test_cli_predict_needs_input_and_output(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["predict", "--output", "scored.csv"])
    assert excinfo.value.code == 2
    assert "--input and --output" in capsys.readouterr().err
