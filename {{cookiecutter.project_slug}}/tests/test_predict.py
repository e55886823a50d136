"""Batch scoring follows the model's contract: chunks checked by kind, bad rows by line.

Nothing here depends on the sample's numbers: expected predictions come from the saved
pipeline, columns and reasons from the contract. A small contract of every kind
(`mixed`) is written in a temporary folder: a categorical and a numeric column that may
be missing, a boolean, an integer, bounds, three string classes and column names the
ONNX converter renames.
"""

import copy
import shutil
import threading
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from {{ cookiecutter.package_name }} import (
    artifacts,
    contract,
    data,
    features,
    predict,
    train,
)
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_settings
from {{ cookiecutter.package_name }}.errors import StageError
from {{ cookiecutter.package_name }}.settings import NA_VALUES, Settings
from {{ cookiecutter.package_name }}.task import for_contract

from .conftest import CONFIG_DIR

# The mixed contract: iris with a derived categorical, a boolean, an integer and an
# id column; the classes are listed unsorted on purpose.
MIXED = {
    "name": "mixed",
    "source": "data/raw/mixed.csv",
    "task": "classification",
    "target": "Species",
    "classes": ["virginica", "setosa", "versicolor"],
    "ignore": ["Plant ID"],
    "test_size": 0.3,
    "split_seed": 5,
    "features": {
        "Sepal Length (cm)": {"kind": "numeric", "nullable": True, "min": 0},
        "sepal width (cm)": {"kind": "numeric", "min": 0, "max": 10},
        "petal length (cm)": {"kind": "numeric", "min": 0},
        "petal width (cm)": {"kind": "numeric", "min": 0},
        "Leaf Shape": {
            "kind": "categorical",
            "categories": ["narrow", "oval", "round"],
            "nullable": True,
        },
        "Greenhouse?": {"kind": "boolean"},
        "Stem Count": {"kind": "integer", "min": 0},
    },
}


def mixed_frame() -> pd.DataFrame:
    """The rows of the mixed contract: every seventh value of two columns missing."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.rename(columns={"sepal length (cm)": "Sepal Length (cm)"})
    rng = np.random.default_rng(11)
    frame.insert(0, "Plant ID", [f"P{index:03d}" for index in range(len(frame))])
    frame["Species"] = bunch.target_names[frame.pop("target")].astype(object)
    shapes = np.array(["narrow", "oval", "round"], dtype=object)
    frame["Leaf Shape"] = shapes[rng.integers(0, 3, len(frame))]
    frame["Greenhouse?"] = rng.random(len(frame)) < 0.5
    frame["Stem Count"] = rng.integers(1, 6, len(frame))
    every_seventh = np.arange(len(frame)) % 7 == 3
    frame.loc[every_seventh, "Leaf Shape"] = None
    frame.loc[np.roll(every_seventh, 2), "Sepal Length (cm)"] = np.nan
    return frame


def mixed_settings(
    root, *overrides: str, model: str = "logistic_regression"
) -> Settings:
    """Settings on the mixed contract, its file and a conf/ copy written under root."""
    conf = root / "conf"
    if not conf.exists():
        shutil.copytree(CONFIG_DIR, conf)
        terms = yaml.safe_dump(MIXED, sort_keys=False, allow_unicode=True)
        (conf / "data" / "mixed.yaml").write_text(terms, encoding="utf-8")
        source = root / MIXED["source"]
        source.parent.mkdir(parents=True, exist_ok=True)
        mixed_frame().to_csv(source, index=False)
    return load_settings(
        ["data=mixed", f"model={model}", "train.cv_folds=0", *overrides],
        config_dir=conf,
    )


def fit(settings: Settings, rows: int | None = None) -> Settings:
    """Write the splits, fit the pipeline and save it with its contract (as train).

    `rows`: fit on the first rows of the training split only (another model).
    """
    data.run(settings)
    features.run(settings)
    split = data.read_split(settings.data, settings.paths.train_data)
    x_train, y_train = contract.split_xy(settings.data, split.head(rows))
    pipeline = train.build_pipeline(settings).fit(x_train, y_train)
    metadata = {
        "model_name": settings.model.name,
        "contract": settings.data.contract().model_dump(mode="json"),
    }
    artifacts.save(
        pipeline, metadata, settings.paths.model_file, settings.paths.metadata_file
    )
    return settings


def read_text(path) -> pd.DataFrame:
    """A CSV file as text, cell for cell."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def expected(settings: Settings, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The output columns the saved scikit-learn pipeline gives the rows."""
    paths = settings.paths
    bundle = artifacts.Bundle.load(paths.model_file, paths.metadata_file)
    terms, task = bundle.contract, for_contract(bundle.contract)
    typed = contract.validate(terms, rows, target=False, strict=False)
    outputs = task.outputs(bundle.pipeline, contract.model_frame(terms, typed))
    return task.columns(outputs)


def assert_scored_like(settings: Settings, scored: pd.DataFrame, rows: pd.DataFrame):
    """Scored output columns match the pipeline's outputs for the same rows."""
    for column, values in expected(settings, rows).items():
        if column == "prediction" and values.dtype == object:
            assert list(scored[column]) == list(values)
        else:
            np.testing.assert_allclose(scored[column], values, rtol=1e-4, atol=1e-4)


@pytest.fixture
def trained(prepared) -> Settings:
    """Default settings with a fitted model and its contract on disk."""
    return fit(prepared)


@pytest.fixture
def mixed(make_settings, tmp_path) -> Settings:
    """The mixed contract in tmp_path (cwd), fitted with a logistic regression."""
    return fit(mixed_settings(tmp_path))


def outputs_of(settings: Settings) -> tuple[str, ...]:
    """The columns batch scoring adds, from the model's contract."""
    return for_contract(settings.data).output_columns()


def test_csv_is_scored_chunk_by_chunk_like_the_model(trained, tmp_path):
    source = trained.paths.test_data
    output = tmp_path / "scored.csv"

    counts = predict.run(trained, source, output, chunk_size=7)

    rows = read_text(source)
    scored = pd.read_csv(output)
    assert counts == {"rows": len(rows), "scored": len(rows), "rejected": 0}
    assert list(scored.columns) == [*rows.columns, *outputs_of(trained)]
    pd.testing.assert_frame_equal(read_text(output)[rows.columns], rows)
    assert_scored_like(trained, scored, contract.read_table(source, trained.data))
    if trained.data.task == "classification":
        probabilities = scored[list(outputs_of(trained)[1:])].to_numpy()
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert not (tmp_path / "scored.rejects.csv").exists()


def test_bad_rows_are_rejected_with_their_line_numbers(trained, tmp_path):
    numbers = [
        name
        for name, feature in trained.data.features.items()
        if feature.kind in ("numeric", "integer") and not feature.nullable
    ]
    first, second = numbers[0], numbers[1]
    rows = read_text(trained.paths.test_data).head(6)
    rows.loc[rows.index[1], first] = "abc"
    rows.loc[rows.index[3], second] = ""
    rows.loc[rows.index[4], first] = "1e308"
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    with source.open("a", encoding="utf-8") as handle:
        handle.write("\n")  # a blank line: line 8
    output = tmp_path / "scored.csv"

    counts = predict.run(trained, source, output, chunk_size=4)

    assert counts == {"rows": 7, "scored": 3, "rejected": 4}
    rejects = read_text(tmp_path / "scored.rejects.csv")
    assert list(rejects["line"]) == ["3", "5", "6", "8"]
    assert list(rejects["error"]) == [
        f"column '{first}': not a number ('abc')",
        f"column '{second}': missing value",
        f"column '{first}': not a finite number within float32's range ('1e308')",
        "empty row: no feature values",
    ]
    assert rejects.loc[0, first] == "abc"  # the row as it was, to fix and re-run
    assert len(pd.read_csv(output)) == 3


def test_input_columns_named_like_the_rejects_own_keep_their_values(trained, tmp_path):
    number = next(
        name
        for name, feature in trained.data.features.items()
        if feature.kind in ("numeric", "integer") and not feature.nullable
    )
    rows = read_text(trained.paths.test_data).head(4)
    rows.loc[rows.index[2], number] = "abc"
    rows["line"], rows["error"], rows["_line"] = "L7", "none", "kept"
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)

    counts = predict.run(trained, source, tmp_path / "scored.csv")

    assert counts == {"rows": 4, "scored": 3, "rejected": 1}
    with (tmp_path / "scored.rejects.csv").open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split(",")
    assert header[:2] == ["__line", "_error"] and len(header) == len(set(header))
    rejects = read_text(tmp_path / "scored.rejects.csv")
    assert rejects.loc[0, "__line"] == "4"
    assert rejects.loc[0, "_error"] == f"column '{number}': not a number ('abc')"
    assert list(rejects.loc[0, ["line", "error", "_line"]]) == ["L7", "none", "kept"]
    scored = read_text(tmp_path / "scored.csv")
    assert set(scored["line"]) == {"L7"} and set(scored["_line"]) == {"kept"}
    _, rejected = predict.score_frame(predict.load_scorer(trained), rows, 2)
    assert list(rejected.columns[:2]) == ["__line", "_error"]
    assert list(rejected["__line"]) == [4] and list(rejected["line"]) == ["L7"]


def test_every_kind_is_checked_against_the_model_contract(mixed, tmp_path):
    rows = read_text(mixed.paths.test_data).head(12).drop(columns=["Species"])
    rows.insert(0, "Plant ID", [f"X{index}" for index in range(len(rows))])
    rows["note"] = "passes through"  # a column the contract does not know
    bad = {
        1: ("Leaf Shape", "square"),
        2: ("petal width (cm)", ""),
        3: ("petal length (cm)", "1e308"),
        4: ("sepal width (cm)", "11"),
        5: ("sepal width (cm)", "-0.5"),
        6: ("Greenhouse?", "maybe"),
        7: ("Stem Count", "2.5"),
    }
    for position, (column, value) in bad.items():
        rows.loc[rows.index[position], column] = value
    # Missing where the contract allows it; booleans spelled as a person would.
    rows.loc[rows.index[8], ["Sepal Length (cm)", "Leaf Shape"]] = ""
    rows.loc[rows.index[9], "Greenhouse?"] = "yes"
    rows.loc[rows.index[10], "Greenhouse?"] = "False"
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    output = tmp_path / "scored.parquet"

    counts = predict.run(mixed, source, output, chunk_size=5)

    assert counts == {"rows": 12, "scored": 5, "rejected": 7}
    rejects = read_text(tmp_path / "scored.rejects.csv")
    assert list(rejects["line"]) == [str(position + 2) for position in bad]
    assert list(rejects["error"]) == [
        "column 'Leaf Shape': unknown category ('square')",
        "column 'petal width (cm)': missing value",
        "column 'petal length (cm)': not a finite number within float32's range "
        "('1e308')",
        "column 'sepal width (cm)': above the contract's max 10 ('11')",
        "column 'sepal width (cm)': below the contract's min 0 ('-0.5')",
        "column 'Greenhouse?': not a boolean ('maybe')",
        "column 'Stem Count': not a whole number ('2.5')",
    ]
    scored = pd.read_parquet(output)
    kept = [0, 8, 9, 10, 11]
    assert list(scored["Plant ID"]) == [f"X{index}" for index in kept]
    assert list(scored.columns) == [*rows.columns, *outputs_of(mixed)]
    assert set(scored["prediction"]) <= set(mixed.data.classes)
    good = contract.read_table(source, mixed.data).iloc[kept]
    spelled = {"yes": "1", "False": "0"}  # as batch scoring reads them
    good["Greenhouse?"] = good["Greenhouse?"].replace(spelled).astype(float)
    assert_scored_like(mixed, scored, good)


def test_parquet_in_and_out(trained, tmp_path):
    source = tmp_path / "rows.parquet"
    rows = contract.read_table(trained.paths.test_data, trained.data)
    rows.to_parquet(source, index=False)
    output = tmp_path / "scored.parquet"

    counts = predict.run(trained, source, output, chunk_size=50)

    scored = pd.read_parquet(output)
    assert counts["scored"] == len(rows) == len(scored)
    assert list(scored.columns) == [*rows.columns, *outputs_of(trained)]
    assert_scored_like(trained, scored, rows)


def test_a_csv_scored_into_parquet_gets_typed_feature_columns(mixed, tmp_path):
    source = tmp_path / "rows.csv"
    rows = read_text(mixed.paths.test_data)
    rows.insert(0, "Plant ID", [f"X{index}" for index in range(len(rows))])
    rows.to_csv(source, index=False)
    parquet, text = tmp_path / "scored.parquet", tmp_path / "scored.csv"

    predict.run(mixed, source, parquet, chunk_size=7)
    predict.run(mixed, source, text, chunk_size=7)

    schema = pq.read_schema(parquet)
    kinds = {"numeric": "double", "integer": "int64", "boolean": "bool"}
    for name, feature in mixed.data.features.items():
        assert str(schema.field(name).type) == kinds.get(feature.kind, "string"), name
    assert str(schema.field("Plant ID").type) == "string"  # not a feature: as read
    scored = pd.read_parquet(parquet)
    typed = contract.read_table(source, mixed.data)
    for name, feature in mixed.data.features.items():
        if feature.kind == "numeric":
            np.testing.assert_array_equal(scored[name], typed[name])
        elif feature.kind in ("integer", "boolean"):
            assert scored[name].tolist() == typed[name].astype(int).tolist(), name
    # A CSV output keeps the text as it was read.
    assert read_text(text)[list(rows.columns)].equals(read_text(source))


def test_parquet_output_has_one_schema_whatever_is_scored(mixed, tmp_path):
    """Text features typed from a CSV or a Parquet file of text; the same columns
    when no row is scored; an integer beyond int64's range (the contract allows
    float32's) is null, not a failed run."""
    # Without the target: a column that is not a feature keeps the type it is read
    # with (text from a CSV, pandas' large_string from this Parquet file).
    rows = read_text(mixed.paths.test_data).drop(columns=["Species"])
    rows.loc[0, "Stem Count"] = "1e19"
    rows.to_csv(tmp_path / "rows.csv", index=False)
    rows.to_parquet(tmp_path / "text.parquet", index=False)  # every column text
    rows.assign(**{"Greenhouse?": "maybe"}).to_csv(tmp_path / "bad.csv", index=False)

    def schema_of(name: str) -> list[tuple[str, str]]:
        source = tmp_path / name
        output = tmp_path / f"{source.stem}.scored.parquet"
        predict.run(mixed, source, output, chunk_size=7)
        return [(field.name, str(field.type)) for field in pq.read_schema(output)]

    typed = schema_of("rows.csv")
    assert dict(typed)["Stem Count"] == "int64"
    assert schema_of("text.parquet") == typed
    assert schema_of("bad.csv") == typed  # every row rejected
    scored = pd.read_parquet(tmp_path / "rows.scored.parquet")
    assert pd.isna(scored.loc[0, "Stem Count"])
    assert scored["Stem Count"].iloc[1:].notna().all()


def test_the_target_column_is_not_needed(trained, tmp_path):
    rows = read_text(trained.paths.test_data).drop(columns=[trained.data.target])
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)

    counts = predict.run(trained, source, tmp_path / "out.csv")

    assert counts["scored"] == len(rows)


def test_a_file_of_only_bad_rows_still_writes_the_columns(trained, tmp_path):
    rows = read_text(trained.paths.test_data).head(2)
    rows[trained.data.feature_names[0]] = "x"
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)

    counts = predict.run(trained, source, tmp_path / "out.csv")

    assert counts == {"rows": 2, "scored": 0, "rejected": 2}
    written = pd.read_csv(tmp_path / "out.csv")
    assert written.empty and set(outputs_of(trained)) <= set(written.columns)


def test_missing_column_stops_with_its_name(trained, tmp_path):
    column = trained.data.feature_names[-1]
    rows = read_text(trained.paths.test_data).drop(columns=[column])
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    with pytest.raises(predict.BatchInputError, match=column):
        predict.run(trained, source, tmp_path / "out.csv")


def test_a_column_named_twice_is_refused_as_training_refuses_it(trained, tmp_path):
    """Which of the two would be the feature? pandas would rename the second."""
    column = trained.data.feature_names[0]
    lines = read_text(trained.paths.test_data).head(3).to_csv(index=False)
    header, rest = lines.split("\n", 1)
    source = tmp_path / "rows.csv"
    source.write_text(f"{header},{column},notes,,\n{rest}", encoding="utf-8")
    with pytest.raises(predict.BatchInputError) as excinfo:
        predict.run(trained, source, tmp_path / "out.csv")
    assert f"'{column}' named more than once" in str(excinfo.value)
    assert "'notes'" not in str(excinfo.value)  # nor the two blank names after it
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_input_columns_named_as_outputs_are_refused_before_writing(
    trained, tmp_path, capsys, suffix
):
    outputs = outputs_of(trained)
    rows = read_text(trained.paths.test_data).head(3)
    rows["prediction"] = "old"
    rows[outputs[-1]] = "0.5"  # a probability_<class> column, if any
    source = tmp_path / f"rows{suffix}"
    if suffix == ".csv":
        rows.to_csv(source, index=False)
    else:
        rows.to_parquet(source, index=False)
    output = tmp_path / f"scored{suffix}"
    args = ["--config-dir", str(CONFIG_DIR), "--output", str(output)]

    assert main(["predict", "--input", str(source), *args]) == 1

    error = capsys.readouterr().err
    for name in {"prediction", outputs[-1]}:
        assert repr(name) in error
    assert "rename them in the input" in error
    assert not output.exists() and not (tmp_path / "scored.rejects.csv").exists()
    with pytest.raises(predict.BatchInputError, match="'prediction'"):
        predict.score_frame(predict.load_scorer(trained), rows, 2)


def test_unknown_format_and_empty_file_are_refused(trained, tmp_path):
    with pytest.raises(predict.BatchInputError, match=r"\.csv or \.parquet"):
        predict.run(trained, trained.paths.test_data, tmp_path / "out.json")
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(trained.data.feature_names) + "\n", encoding="utf-8")
    with pytest.raises(predict.BatchInputError, match="no rows"):
        predict.run(trained, empty, tmp_path / "out.csv")


def test_scoring_without_a_model_explains_what_to_run(prepared, tmp_path):
    with pytest.raises(StageError, match="make train"):
        predict.run(prepared, prepared.paths.test_data, tmp_path / "out.csv")


def test_count_rows_counts_data_lines(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n1,2\n3,4", encoding="utf-8")  # no final newline
    assert predict.count_rows(path) == 2
    path.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    assert predict.count_rows(path) == 2
{%- if cookiecutter.use_onnx == 'yes' %}


def test_the_onnx_model_is_used_only_while_it_is_current(mixed, tmp_path, caplog):
    from {{ cookiecutter.package_name }} import export

    caplog.set_level("INFO", logger=predict.__name__)
    assert predict.load_scorer(mixed).name.endswith("model.joblib")
    assert "no ONNX export" in caplog.text
    export.run(mixed)
    scorer = predict.load_scorer(mixed)
    assert scorer.name.endswith("model.onnx")
    source, output = mixed.paths.test_data, tmp_path / "scored.csv"
    rows = contract.read_table(source, mixed.data)
    predict.run(mixed, source, output)
    assert_scored_like(mixed, pd.read_csv(output), rows)

    # Retrained after the export: the ONNX file is stale and is not used.
    fit(mixed, rows=40)
    caplog.clear()
    assert predict.load_scorer(mixed).name.endswith("model.joblib")
    assert "exported from another model" in caplog.text
    predict.run(mixed, source, output)
    assert_scored_like(mixed, pd.read_csv(output), rows)
{%- endif %}


def test_score_frame_gives_what_run_writes(trained, tmp_path):
    rows = read_text(trained.paths.test_data).head(30)
    first = trained.data.feature_names[0]
    rows.loc[rows.index[[2, 17]], first] = ["abc", ""]
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    predict.run(trained, source, tmp_path / "out.csv", chunk_size=8)
    raw = pd.read_csv(source, dtype=str).astype(object)  # text, missing as NaN
    raw = raw.where(raw.notna(), None)  # as Spark hands rows over: text or None

    scored, rejected = predict.score_frame(predict.load_scorer(trained), raw, 2)

    written = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert list(scored.columns) == list(written.columns)
    assert list(scored[first]) == list(written[first])
    for column in outputs_of(trained)[1:]:
        np.testing.assert_allclose(scored[column], written[column].astype(float))
    assert list(rejected["line"]) == [4, 19]
    assert list(rejected.columns) == ["line", "error", *rows.columns]
    expected_rejects = read_text(tmp_path / "out.rejects.csv")
    assert list(rejected["error"]) == list(expected_rejects["error"])


def test_score_frame_takes_typed_values(trained):
    rows = contract.read_table(trained.paths.test_data, trained.data).head(10)
    rows.loc[rows.index[3], trained.data.feature_names[0]] = np.nan

    scored, rejected = predict.score_frame(predict.load_scorer(trained), rows, 1)

    assert len(scored) == 9 and list(rejected["line"]) == [4]
    assert list(rejected["error"]) == [
        f"column '{trained.data.feature_names[0]}': missing value"
    ]
    assert_scored_like(trained, scored, rows.drop(index=rows.index[3]))


def test_na_spellings_are_those_pandas_reads():
    from pandas._libs.parsers import STR_NA_VALUES

    assert set(NA_VALUES) == set(STR_NA_VALUES)


def test_na_values_keep_a_category_spelled_na_in_training_and_scoring(
    make_settings, tmp_path
):
    """`na_values: [null]`: a shape coded NA is a category to the split, the model
    and batch scoring alike; the cells spelled null are missing."""
    terms = copy.deepcopy(MIXED)
    terms["na_values"] = ["null"]
    terms["features"]["Leaf Shape"]["categories"] = ["narrow", "oval", "NA"]
    frame = mixed_frame()
    frame["Leaf Shape"] = frame["Leaf Shape"].replace({"round": "NA"})
    conf = shutil.copytree(CONFIG_DIR, tmp_path / "conf")
    (conf / "data" / "mixed.yaml").write_text(yaml.safe_dump(terms), encoding="utf-8")
    source = tmp_path / MIXED["source"]
    source.parent.mkdir(parents=True)
    frame.to_csv(source, index=False, na_rep="null")
    settings = fit(mixed_settings(tmp_path))

    shapes = data.read_split(settings.data, settings.paths.train_data)["Leaf Shape"]
    assert (shapes == "NA").sum() > 10 and shapes.isna().sum() > 10
    rows = tmp_path / "rows.csv"
    read_text(source).head(40).to_csv(rows, index=False)
    chunk = next(predict.read_chunks(rows, 40, settings.data.missing_text))
    shapes = chunk.table.column("Leaf Shape").to_pylist()
    assert "NA" in shapes and None in shapes and "null" not in shapes

    output = tmp_path / "scored.csv"
    assert predict.run(settings, rows, output) == {
        "rows": 40,
        "scored": 40,
        "rejected": 0,
    }
    assert_scored_like(
        settings, pd.read_csv(output), contract.read_table(rows, settings.data)
    )


def test_odd_csv_files_are_read_as_pandas_reads_them(mixed, tmp_path):
    rows = read_text(mixed.paths.test_data).head(6).drop(columns=["Species"])
    rows.insert(0, "Plant ID", ["a, b", 'say "hi"', "two\nlines", "", "P4", "P5"])
    rows.loc[rows.index[4], "Sepal Length (cm)"] = "NA"  # nullable: missing
    rows.loc[rows.index[5], "Sepal Length (cm)"] = "null"
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    text = source.read_text(encoding="utf-8")
    # A blank line and a short one: lines 8 and 9 (a line break in quotes is no row).
    source.write_text(text + "\nP9,1.0\n", encoding="utf-8")
    output = tmp_path / "scored.csv"

    counts = predict.run(mixed, source, output, chunk_size=4)

    assert counts == {"rows": 8, "scored": 6, "rejected": 2}
    scored = pd.read_csv(output, dtype=str, keep_default_na=False)
    expected = pd.read_csv(source, dtype=str, nrows=6)
    assert list(scored["Plant ID"]) == [*expected["Plant ID"].fillna("")]
    assert list(scored["Sepal Length (cm)"][4:]) == ["", ""]
    rejects = read_text(tmp_path / "scored.rejects.csv")
    assert list(rejects["line"]) == ["8", "9"]
    assert rejects.loc[0, "error"] == "empty row: no feature values"
    assert rejects.loc[1, "error"].startswith("malformed line: 2 values where the")


def test_a_large_file_is_scored_in_chunks_with_true_line_numbers(trained, tmp_path):
    rows = read_text(trained.paths.test_data)
    rows = rows.sample(n=20_000, replace=True, random_state=0).reset_index(drop=True)
    first = trained.data.feature_names[0]
    bad = [0, 999, 1000, 12_345, 19_999]  # chunk edges included
    rows.loc[bad, first] = "x"
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    output = tmp_path / "scored.parquet"

    counts = predict.run(trained, source, output, chunk_size=1000)

    assert counts == {"rows": 20_000, "scored": 19_995, "rejected": 5}
    rejects = read_text(tmp_path / "scored.rejects.csv")
    assert list(rejects["line"]) == [str(row + 2) for row in bad]
    scored = pd.read_parquet(output)
    kept = rows.drop(index=bad)
    assert list(scored[first]) == kept[first].astype(float).tolist()  # typed
    typed = contract.read_table(source, trained.data).drop(index=bad)
    assert_scored_like(trained, scored, typed)


def test_floats_are_written_as_pandas_writes_them(tmp_path):
    import pyarrow as pa

    path = tmp_path / "floats.csv"
    writer = predict._Writer(path)
    values = [1.0, 0.5, 1e-07, float("nan"), 0.3333333333333333]
    writer.write(pa.table({"x": values, "flag": [True, False, True, False, True]}))
    writer.close()
    frame = pd.DataFrame({"x": values, "flag": [True, False, True, False, True]})
    assert path.read_text(encoding="utf-8") == frame.to_csv(index=False)


def test_cli_scores_a_file_and_reports_bad_input(trained, tmp_path, capsys):
    output = tmp_path / "scored.csv"
    args = ["--config-dir", str(CONFIG_DIR), "--output", str(output)]
    source = str(trained.paths.test_data)
    assert main(["predict", "--input", source, *args]) == 0
    assert output.is_file()
    assert main(["predict", "--input", str(tmp_path / "absent.csv"), *args]) == 1
    assert "absent.csv not found" in capsys.readouterr().err
    # A folder exists: not "not found", but which engine reads one.
    assert main(["predict", "--input", str(tmp_path), *args]) == 1
    assert f"{tmp_path} is a folder: this engine scores one file" in (
        capsys.readouterr().err
    )


def test_cli_predict_needs_input_and_output(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["predict", "--output", "scored.csv"])
    assert excinfo.value.code == 2
    assert "--input and --output" in capsys.readouterr().err


@pytest.mark.parametrize("workers", [1, 3])
def test_overlapped_keeps_the_order_with_workers_plus_two_items_in_flight(workers):
    lock, flight, most, seen = threading.Lock(), [0], [0], []

    def items():
        for item in range(30):
            with lock:
                flight[0] += 1
                most[0] = max(most[0], flight[0])
            yield item

    def step(item):
        time.sleep(0.001 * (item % 4))  # uneven steps: order must still hold
        return item * 2

    def sink(result):
        time.sleep(0.001 * (result % 3))
        seen.append(result)
        with lock:
            flight[0] -= 1

    predict.overlapped(items(), step, sink, workers=workers)
    assert seen == [item * 2 for item in range(30)]
    assert most[0] <= workers + 2


def test_overlapped_runs_its_steps_side_by_side():
    # Three steps must be running at once to pass the barrier; one at a time would
    # break it (timeout) and raise.
    barrier = threading.Barrier(3, timeout=10)

    def step(item):
        barrier.wait()
        return item

    seen = []
    predict.overlapped(iter(range(6)), step, seen.append, workers=3)
    assert seen == list(range(6))


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("where", ["items", "step", "sink"])
def test_overlapped_raises_the_first_error_and_leaves_no_thread(where, workers):
    threads = threading.active_count()

    def fail(name, item):
        if name == where and item == 5:
            raise ValueError(f"{name} failed")
        return item

    def items():
        for item in range(20):
            yield fail("items", item)

    with pytest.raises(ValueError, match=f"{where} failed"):
        predict.overlapped(
            items(),
            lambda item: fail("step", item),
            lambda item: fail("sink", item),
            workers=workers,
        )
    assert threading.active_count() == threads
