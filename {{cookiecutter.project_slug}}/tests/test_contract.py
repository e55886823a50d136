"""The data contract: validation names column and row; inference proposes a contract."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import contract
from {{ cookiecutter.package_name }}.errors import (
    ContractError,
    DataFileError,
    DataValidationError,
)
from {{ cookiecutter.package_name }}.settings import Contract

# Column names as users write them: spaces, capitals, punctuation.
TERMS = Contract.model_validate(
    {
        "task": "classification",
        "target": "Loan Status",
        "classes": ["repaid", "defaulted"],
        "features": {
            "Income ($k)": {"kind": "numeric", "min": 0, "max": 500},
            "Debt/Income": {"kind": "numeric", "nullable": True},
            "Nb. of Cards": {"kind": "integer", "min": 0},
            "Home Owner?": {"kind": "boolean"},
            "Region": {
                "kind": "categorical",
                "categories": ["north", "south", "east"],
                "nullable": True,
            },
        },
    }
)
TARGET = TERMS.target


def changed(**update) -> Contract:
    """TERMS with some of its fields replaced, validated again."""
    return Contract.model_validate({**TERMS.model_dump(), **update})


def rows() -> pd.DataFrame:
    """Five rows that satisfy TERMS."""
    return pd.DataFrame(
        {
            "Income ($k)": [42.5, 80.0, 0.0, 500.0, 63.2],
            "Debt/Income": [0.2, 0.5, 0.1, 0.9, 0.3],
            "Nb. of Cards": [1, 3, 0, 2, 5],
            "Home Owner?": [True, False, True, True, False],
            "Region": ["north", "south", "east", "north", "south"],
            TARGET: ["repaid", "defaulted", "repaid", "repaid", "defaulted"],
        }
    )


def check(frame: pd.DataFrame, tmp_path, terms: Contract = TERMS, **options):
    """Write the frame as a CSV, read it back as the pipeline does, validate it."""
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    return contract.validate(
        terms, contract.read_table(path, terms), source=path.name, **options
    )


def with_value(column: str, row: int, value) -> pd.DataFrame:
    """The valid rows with one cell changed (row counted from 0)."""
    frame = rows().astype({column: object})
    frame.loc[row, column] = value
    return frame


def test_valid_rows_come_back_typed(tmp_path):
    valid = check(rows(), tmp_path)
    assert list(valid.columns) == [*TERMS.feature_names, TARGET]
    for name in ("Income ($k)", "Debt/Income", "Nb. of Cards", "Home Owner?"):
        assert valid[name].dtype == "float64", name
    assert valid["Home Owner?"].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]
    assert valid["Region"].tolist() == rows()["Region"].tolist()
    assert valid[TARGET].tolist() == rows()[TARGET].tolist()


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("Income ($k)", None, "missing value"),
        ("Income ($k)", "abc", "not a number (value 'abc')"),
        ("Nb. of Cards", "two", "not a number (value 'two')"),
        ("Debt/Income", 1e308, "float32"),
        ("Nb. of Cards", 2.5, "not a whole number"),
        ("Home Owner?", "maybe", "not a boolean (value 'maybe')"),
        ("Region", "west", "unknown category 'west'"),
        (TARGET, "written off", "not one of data.classes (value 'written off')"),
        ("Income ($k)", -1, "below the contract's min 0"),
        ("Income ($k)", 501, "above the contract's max 500"),
        ("Nb. of Cards", -1, "below the contract's min 0"),
    ],
)
def test_bad_value_is_reported_with_column_and_row(tmp_path, column, value, says):
    with pytest.raises(DataValidationError) as excinfo:
        check(with_value(column, 2, value), tmp_path)
    message = str(excinfo.value)
    assert message.startswith("rows.csv does not match the data contract")
    assert f"column '{column}', row 3: " in message
    assert says in message
    assert message.count("column '") == 1, message


def test_every_bad_value_is_reported_at_once(tmp_path):
    frame = with_value("Nb. of Cards", 0, 1.5)
    frame = frame.astype({"Region": object})
    frame.loc[4, "Region"] = "west"
    with pytest.raises(DataValidationError) as excinfo:
        check(frame, tmp_path)
    assert "column 'Nb. of Cards', row 1" in str(excinfo.value)
    assert "column 'Region', row 5" in str(excinfo.value)


def test_nullable_columns_accept_missing_values(tmp_path):
    frame = rows().astype({"Region": object})
    frame.loc[1, "Debt/Income"] = None
    frame.loc[3, "Region"] = None
    valid = check(frame, tmp_path)
    assert math.isnan(valid.loc[1, "Debt/Income"])
    assert pd.isna(valid.loc[3, "Region"])
    model_input = contract.model_frame(TERMS, valid)
    assert list(model_input.columns) == list(TERMS.feature_names)
    assert model_input.loc[3, "Region"] == contract.MISSING_CATEGORY
    assert math.isnan(model_input.loc[1, "Debt/Income"])


@pytest.mark.parametrize(
    "spellings", [[True, False], ["yes", "no"], ["TRUE", "FALSE"], [1, 0]]
)
def test_booleans_are_read_in_their_usual_spellings(tmp_path, spellings):
    frame = rows().astype({"Home Owner?": object})
    frame["Home Owner?"] = [spellings[0], spellings[1]] * 2 + [spellings[0]]
    assert check(frame, tmp_path)["Home Owner?"].tolist() == [1.0, 0.0] * 2 + [1.0]


def test_a_missing_boolean_is_refused_unless_nullable(tmp_path):
    frame = with_value("Home Owner?", 1, None)
    with pytest.raises(DataValidationError, match="'Home Owner\\?', row 2: missing"):
        check(frame, tmp_path)
    features = TERMS.model_dump()["features"]
    features["Home Owner?"]["nullable"] = True
    nullable = changed(features=features)
    assert math.isnan(check(frame, tmp_path, nullable).loc[1, "Home Owner?"])


def test_a_column_not_in_the_contract_is_refused_naming_it(tmp_path):
    frame = rows()
    frame["Customer Id"] = range(len(frame))
    with pytest.raises(ContractError) as excinfo:
        check(frame, tmp_path)
    message = str(excinfo.value)
    assert "'Customer Id'" in message
    assert "data.features" in message and "data.ignore" in message
    assert "Customer Id" not in check(frame, tmp_path, ignore=["Customer Id"])


def test_a_missing_target_is_refused_naming_data_target(tmp_path):
    frame = rows().drop(columns=TARGET)
    with pytest.raises(ContractError, match="data.target") as excinfo:
        check(frame, tmp_path)
    assert repr(TARGET) in str(excinfo.value)
    # Rows to score carry no target.
    assert TARGET not in check(frame, tmp_path, target=False)


def test_a_missing_feature_is_refused_naming_data_features(tmp_path):
    with pytest.raises(ContractError, match="data.features") as excinfo:
        check(rows().drop(columns="Nb. of Cards"), tmp_path)
    assert "'Nb. of Cards'" in str(excinfo.value)


def test_no_rows_is_refused(tmp_path):
    with pytest.raises(DataValidationError, match="no rows"):
        check(rows().head(0), tmp_path)


def test_integer_class_labels(tmp_path):
    terms = changed(classes=[0, 1, 2])
    frame = rows().assign(**{TARGET: [0, 1, 2, 1, 0]})
    assert check(frame, tmp_path, terms)[TARGET].tolist() == [0, 1, 2, 1, 0]
    frame.loc[4, TARGET] = 7
    with pytest.raises(DataValidationError, match=f"'{TARGET}', row 5"):
        check(frame, tmp_path, terms)


def test_regression_target_must_be_a_number(tmp_path):
    terms = changed(task="regression", classes=None)
    frame = rows().assign(**{TARGET: [1.5, 2.0, 3.25, 0.0, -4.0]})
    assert check(frame, tmp_path, terms)[TARGET].dtype == "float64"
    frame = frame.astype({TARGET: object})
    frame.loc[0, TARGET] = "lots"
    with pytest.raises(DataValidationError, match=f"'{TARGET}', row 1: not a number"):
        check(frame, tmp_path, terms)


def test_example_row_is_a_real_complete_row_in_json_types(tmp_path):
    frame = rows()
    frame.loc[0, "Debt/Income"] = None
    example = contract.example_row(TERMS, check(frame, tmp_path))
    assert list(example) == list(TERMS.feature_names)
    assert example == {
        "Income ($k)": 80.0,
        "Debt/Income": 0.5,
        "Nb. of Cards": 3,
        "Home Owner?": False,
        "Region": "south",
    }
    assert [type(value) for value in example.values()] == [float, float, int, bool, str]


def user_file() -> pd.DataFrame:
    """A file as a user brings it: every kind of column, some values missing."""
    rng = np.random.default_rng(0)
    size = 60
    return pd.DataFrame(
        {
            "Customer ID": [f"C{index:03d}" for index in range(size)],
            "Balance (EUR)": rng.normal(0, 100, size),
            "Age": rng.integers(18, 90, size),
            "Score": rng.random(size),
            "Has Card": rng.random(size) < 0.5,
            "Paperless": rng.choice(["yes", "no", None], size),
            "Verified": rng.choice(["True", "False"], size),
            "Plan": rng.choice(["basic", "premium", "gold"], size),
            "Region": rng.choice(["north", "south", None], size),
            "Visits": np.where(
                rng.random(size) < 0.2, np.nan, rng.integers(0, 9, size)
            ),
            "Churned": rng.choice(["yes", "no"], size),
            "Segment": rng.choice([1, 2, 3], size),
            "Spend": rng.gamma(2.0, 50.0, size),
        }
    )


def test_infer_proposes_kinds_nullable_and_bounds():
    terms = contract.infer(user_file(), "Churned", ignore=["Customer ID"])
    features = terms["features"]
    assert "Customer ID" not in features and "Churned" not in features
    assert features["Balance (EUR)"] == {"kind": "numeric"}  # negative values: no min
    assert features["Age"] == {"kind": "integer", "min": 0}
    assert features["Score"] == {"kind": "numeric", "min": 0}
    assert features["Has Card"] == {"kind": "boolean"}
    # Text spellings of booleans, as a CSV export holds them.
    assert features["Paperless"] == {"kind": "boolean", "nullable": True}
    assert features["Verified"] == {"kind": "boolean"}
    assert features["Segment"] == {"kind": "integer", "min": 0}  # numbers stay
    assert features["Plan"] == {
        "kind": "categorical",
        "categories": ["basic", "gold", "premium"],
    }
    assert features["Region"] == {
        "kind": "categorical",
        "categories": ["north", "south"],
        "nullable": True,
    }
    assert features["Visits"] == {"kind": "integer", "min": 0, "nullable": True}


def test_inferred_contract_is_valid_and_accepts_its_file():
    frame = user_file()
    terms = Contract.model_validate(
        contract.infer(frame, "Churned", ignore=["Customer ID"])
    )
    valid = contract.validate(terms, frame, ignore=["Customer ID"])
    assert len(valid) == len(frame)


@pytest.mark.parametrize(
    ("target", "task", "classes"),
    [
        ("Churned", "classification", ["no", "yes"]),
        ("Segment", "classification", [1, 2, 3]),
        ("Spend", "regression", None),
        ("Age", "regression", None),  # whole numbers, but more than max_classes
    ],
)
def test_infer_picks_the_task_and_classes_from_the_target(target, task, classes):
    terms = contract.infer(user_file(), target, ignore=["Customer ID"])
    assert terms["task"] == task
    assert terms.get("classes") == classes
    assert terms["target"] == target
    if classes:
        assert [type(label) for label in terms["classes"]] == [type(classes[0])] * len(
            classes
        )


def test_infer_warns_of_a_class_with_too_few_rows_naming_them(caplog):
    frame = user_file()
    frame.loc[7, "Churned"] = "maybe"  # a stray third label
    terms = contract.infer(frame, "Churned", ignore=["Customer ID"])
    assert terms["classes"] == ["maybe", "no", "yes"]
    assert "class 'maybe' of 'Churned' has 1 row(s) (row 8)" in caplog.text
    assert "class 'no'" not in caplog.text and "class 'yes'" not in caplog.text


def test_infer_takes_the_task_it_is_told():
    terms = contract.infer(
        user_file(), "Segment", task="regression", ignore=["Customer ID"]
    )
    assert terms["task"] == "regression" and "classes" not in terms


def test_infer_refuses_classes_that_are_amounts():
    """Classification told for a column of amounts: refused with the way out, not a
    contract of one class per value."""
    with pytest.raises(ContractError, match="'Spend' holds numbers with fractions"):
        contract.infer(
            user_file(), "Spend", task="classification", ignore=["Customer ID"]
        )
    coded = user_file().assign(Code=np.arange(60))
    with pytest.raises(ContractError, match="60 distinct values") as excinfo:
        contract.infer(coded, "Code", task="classification", ignore=["Customer ID"])
    assert "--task regression" in str(excinfo.value)
    assert "--max-categories (50" in str(excinfo.value)
    # Inferred from text, a target of many labels is classification, as it was.
    named = coded.assign(Code=[f"product {i}" for i in range(60)])
    terms = contract.infer(named, "Code", ignore=["Customer ID"])
    assert terms["task"] == "classification" and len(terms["classes"]) == 60
    with pytest.raises(ContractError, match="too many classes") as excinfo:
        contract.infer(named, "Code", task="classification", ignore=["Customer ID"])
    assert "--task regression" not in str(excinfo.value)  # text: no quantity
    terms = contract.infer(
        coded,
        "Code",
        task="classification",
        ignore=["Customer ID"],
        max_categories=60,
    )
    assert terms["classes"] == list(range(60))


def test_infer_refuses_an_id_column_naming_it_and_the_way_out():
    with pytest.raises(ContractError) as excinfo:
        contract.infer(user_file(), "Churned")
    message = str(excinfo.value)
    assert "'Customer ID'" in message
    assert "--ignore" in message and "--max-categories" in message
    features = contract.infer(user_file(), "Churned", max_categories=100)["features"]
    assert features["Customer ID"]["kind"] == "categorical"


def test_infer_refuses_a_target_it_cannot_find_or_learn():
    with pytest.raises(ContractError, match="--target"):
        contract.infer(user_file(), "Churn")
    frame = user_file().assign(Churned="no")
    with pytest.raises(ContractError, match="one class"):
        contract.infer(frame, "Churned", ignore=["Customer ID"])
    frame.loc[3, "Churned"] = None
    with pytest.raises(ContractError, match="row 4"):
        contract.infer(frame, "Churned", ignore=["Customer ID"])


def test_infer_writes_what_to_review_and_warns_of_useless_columns(caplog):
    import yaml

    frame = user_file().assign(Country="Polska", Row=range(60))
    frame["Garage"] = np.where(np.arange(60) % 2, "yes", None)  # yes or missing
    frame["Plan"] = frame["Plan"].replace({"gold": "z\u0142oto"})
    terms = contract.infer(frame, "Churned", ignore=["Customer ID"])
    assert terms["positive_class"] == "yes"  # the default, written out
    assert "'Country' holds one value ('Polska')" in caplog.text
    assert "'Row' numbers the rows (0 to 59, each once)" in caplog.text
    assert "'Age'" not in caplog.text and "'Garage'" not in caplog.text
    text = contract.contract_yaml(terms, "users", Path("data/raw/users.csv"), 60)
    assert "z\u0142oto" in text  # as written, not escaped
    assert "# positive_class:" in text
    written = yaml.safe_load(text)
    assert written["positive_class"] == "yes"
    assert "z\u0142oto" in written["features"]["Plan"]["categories"]
    Contract.model_validate(
        {k: v for k, v in written.items() if k not in ("name", "source")}
    )
    assert "positive_class" not in contract.infer(
        user_file(), "Segment", ignore=["Customer ID"]
    )


def test_infer_tells_dates_from_categories(caplog):
    days = pd.date_range("2025-01-01", periods=60, freq="D").strftime("%Y-%m-%d")
    frame = user_file().assign(Signup=days)
    with pytest.raises(ContractError) as excinfo:
        contract.infer(frame, "Churned", ignore=["Customer ID"])
    assert "'Signup' (60 values) hold dates" in str(excinfo.value)
    assert "--ignore" in str(excinfo.value)
    # Few of them (monthly cohorts): categories, with a warning.
    months = np.resize(["2025-01-01", "2025-02-01", "2025-03-01"], 60)
    terms = contract.infer(
        user_file().assign(Cohort=months), "Churned", ignore=["Customer ID"]
    )
    assert terms["features"]["Cohort"]["kind"] == "categorical"
    assert "'Cohort' holds dates, read as 3 categories" in caplog.text
    assert "'Plan' holds dates" not in caplog.text


def test_infer_refuses_a_column_without_values_naming_it():
    frame = user_file().assign(**{"Fax number": np.nan})
    with pytest.raises(ContractError) as excinfo:
        contract.infer(frame, "Churned", ignore=["Customer ID"])
    assert "'Fax number' hold no value at all" in str(excinfo.value)
    assert "--ignore" in str(excinfo.value)
    terms = contract.infer(frame, "Churned", ignore=["Customer ID", "Fax number"])
    assert "Fax number" not in terms["features"]


def test_infer_warns_of_text_holding_only_numbers(caplog):
    """A Parquet column of digits stored as text: categories, said so."""
    frame = user_file().assign(Calls=lambda f: (np.arange(len(f)) % 9).astype(str))
    terms = contract.infer(frame, "Churned", ignore=["Customer ID"])
    assert terms["features"]["Calls"]["kind"] == "categorical"
    assert "'Calls' is text holding only numbers (9 distinct)" in caplog.text
    assert "'Plan' is text holding only numbers" not in caplog.text


def test_infer_warns_of_numbers_no_model_takes(caplog):
    frame = user_file()
    frame.loc[[10, 40, 50], "Spend"] = [np.inf, -np.inf, 1e39]
    terms = contract.infer(frame, "Churned", ignore=["Customer ID"])
    assert terms["features"]["Spend"]["kind"] == "numeric"
    assert "'Spend' holds row 11 inf, row 41 -inf, row 51 1e+39" in caplog.text
    assert "'Balance (EUR)' holds" not in caplog.text


def test_infer_names_every_column_that_stops_it_at_once():
    frame = user_file().assign(Empty=np.nan, Opened="2025-03-01")
    frame["Opened"] = [f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(60)]
    with pytest.raises(ContractError) as excinfo:
        contract.infer(frame, "Churned", ignore=["Customer ID"], max_categories=20)
    message = str(excinfo.value)
    assert "'Empty' hold no value" in message and "'Opened' (" in message
    assert "hold dates" in message


def test_infer_names_the_typo_in_a_column_of_numbers(caplog):
    # Read as text because of one cell: it would be taken for categories, or refused
    # as an id (60 distinct values); the cell at fault is what to name.
    frame = user_file()
    frame["Spend"] = frame["Spend"].astype(str)
    frame.loc[17, "Spend"] = "n/a?"
    with pytest.raises(ContractError) as excinfo:
        contract.infer(frame, "Churned", ignore=["Customer ID"])
    assert "'Spend' (row 18 'n/a?') hold numbers but for these values" in str(
        excinfo.value
    )
    assert "--max-categories" in str(excinfo.value)  # codes, not numbers?
    # Few enough values for categories (or more allowed): categories, with a warning
    # naming the cells (sizes 1, 2, 3, XL; codes such as K1A0B1 among digits).
    for few, options in ((frame.head(40), {}), (frame, {"max_categories": 100})):
        caplog.clear()
        terms = contract.infer(few, "Churned", ignore=["Customer ID"], **options)
        assert terms["features"]["Spend"]["kind"] == "categorical"
        assert "'Spend' is numbers but for row 18 'n/a?'" in caplog.text
    # With few distinct values it can be a category (sizes 1, 2, 3 and XL): a warning.
    frame = user_file()
    frame["Size"] = frame["Segment"].astype(str)
    frame.loc[4, "Size"] = "XL"
    terms = contract.infer(frame, "Churned", ignore=["Customer ID", "Spend"])
    assert terms["features"]["Size"]["kind"] == "categorical"
    assert "'Size' is numbers but for row 5 'XL'" in caplog.text


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("empty.csv", b"", "is empty (0 bytes)"),
        ("empty.parquet", b"", "is empty (0 bytes)"),
        ("blank.csv", b"\n\n", "no header line"),
        ("ragged.csv", b"a,b,y\n1,2,0\n1,2,3,4\n", "line 3: 4 values where"),
        ("latin1.csv", "a,city,y\n1,Krak\u00f3w,0\n".encode("latin-1"), "line 2"),
        ("twice.csv", b"a,a,y\n1,2,0\n", "'a' named more than once"),
        ("unnamed.csv", b"a,b,,\n1,2,,\n", "column(s) 3, 4 of the header have no"),
        ("quoted.csv", b'a,b\n1,"x\ny"\n3,4\n5,6,7\n', "line 5: 3 values where"),
        ("broken.parquet", b"PAR1 not really", "not a readable Parquet file"),
    ],
)
def test_a_file_that_is_not_a_table_is_refused_with_its_line(
    tmp_path, name, content, says
):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataFileError) as refused:
        contract.read_table(path)
    assert str(path) in str(refused.value)
    assert says in str(refused.value)
    if name == "latin1.csv":
        assert "not UTF-8 text (byte 0xf3)" in str(refused.value)


def test_a_column_named_twice_in_parquet_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "twice.parquet"
    table = pa.table([pa.array([1.0]), pa.array([2.0]), pa.array([0])], ["a", "a", "y"])
    pq.write_table(table, path)
    with pytest.raises(DataFileError, match="'a' named more than once") as refused:
        contract.read_table(path)
    assert "not a readable Parquet file" not in str(refused.value)
