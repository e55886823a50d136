"""The command line: exit 2 on configuration, 1 on data and contract, with a message."""

import re
import subprocess
import sys

import pytest
import yaml

from {{ cookiecutter.package_name }} import data
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_settings

from .conftest import CONFIG_DIR, wine_frame

CONF = ["--config-dir", str(CONFIG_DIR)]


def test_unknown_stage_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["deploy"])
    assert excinfo.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bad_override_exits_2_naming_the_key(make_settings, sample_data, capsys):
    make_settings()
    assert main(["data", *sample_data, "data.test_size=2", *CONF]) == 2
    assert "data.test_size" in capsys.readouterr().err


def test_a_model_that_does_not_do_the_task_exits_2(make_settings, capsys):
    make_settings()
    assert main(["data", "data=diabetes", "model=logistic_regression", *CONF]) == 2
    err = capsys.readouterr().err
    assert "model.name" in err and "logistic_regression" in err
    assert "pick one that does: model=ridge or model=random_forest" in err


def test_stage_without_its_inputs_exits_1_with_advice(make_settings, capsys):
    make_settings()
    assert main(["evaluate", *CONF]) == 1
    assert "make train" in capsys.readouterr().err


def test_missing_source_exits_1_naming_data_source(make_settings, sample_data, capsys):
    make_settings()
    assert main(["data", *sample_data, "data.sample=null", *CONF]) == 1
    assert "data.source" in capsys.readouterr().err


def write_source(settings, frame) -> None:
    """Write rows where the settings' contract expects its source file."""
    settings.data.source.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(settings.data.source, index=False)


def test_invalid_data_exits_1_naming_column_and_row(settings, sample_data, capsys):
    frame = data.load_sample(settings.data.sample)
    column = settings.data.feature_names[0]
    frame.loc[frame.index[2], column] = None
    write_source(settings, frame)
    assert main(["features", *sample_data, *CONF]) == 1
    err = capsys.readouterr().err
    assert f"column '{column}', row 3: missing value" in err
    assert "Traceback" not in err


def test_a_file_that_does_not_fit_the_contract_exits_1(settings, sample_data, capsys):
    write_source(settings, data.load_sample(settings.data.sample).assign(extra=1))
    assert main(["data", *sample_data, *CONF]) == 1
    err = capsys.readouterr().err
    assert "'extra'" in err and "data.ignore" in err


@pytest.fixture
def wine_csv(make_settings, tmp_path):
    """The wine file under data/raw/ of the (temporary) project folder."""
    make_settings()
    path = tmp_path / "data" / "raw" / "tests_wine.csv"
    path.parent.mkdir(parents=True)
    wine_frame().to_csv(path, index=False)
    return path.relative_to(tmp_path)


def infer(conf, *args: str) -> int:
    """Run `contract infer` with a conf/ directory."""
    return main(["contract", "infer", *args, "--config-dir", str(conf)])


def test_contract_infer_warnings_read_as_warnings(wine_csv, conf_copy, tmp_path):
    """Run as `make contract` runs it: each of inference's warnings on its own line,
    marked as one."""
    frame = wine_frame().assign(Country="Italia")  # one value: nothing to learn
    path = tmp_path / "wines.csv"
    frame.to_csv(path, index=False)
    package = "{{ cookiecutter.package_name }}"
    command = [sys.executable, "-m", package, "contract", "infer", str(path)]
    command += ["--target", "Cultivar", "--ignore", "Sample ID"]
    result = subprocess.run(
        [*command, "--config-dir", str(conf_copy)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "warning: column 'Country' holds one value ('Italia')" in result.stderr


def test_contract_infer_writes_a_contract_that_composes(wine_csv, conf_copy, capsys):
    code = infer(
        conf_copy, str(wine_csv), "--target", "Cultivar", "--ignore", "Sample ID"
    )
    assert code == 0
    out = capsys.readouterr().out
    destination = conf_copy / "data" / "tests_wine.yaml"
    assert str(destination) in out and "data=tests_wine" in out
    terms = yaml.safe_load(destination.read_text(encoding="utf-8"))
    assert terms["ignore"] == ["Sample ID"]
    settings = load_settings(
        ["data=tests_wine", "model=random_forest"], config_dir=conf_copy
    )
    assert settings.data.task == "classification"
    assert settings.data.source.as_posix() == wine_csv.as_posix()
    assert settings.data.features["Oak Aged"].kind == "boolean"
    assert settings.data.features["Color Band"].nullable
    assert data.run(settings) == settings.data.source


@pytest.mark.parametrize("target", ["Cultivar", "Alcohol %"])
def test_contract_infer_prints_a_train_line_that_validates(
    wine_csv, conf_copy, capsys, target
):
    """Whatever the task of the data and of the default model: a regression target
    gets a model that regresses when the default one only classifies."""
    args = [str(wine_csv), "--target", target, "--ignore", "Sample ID", "--name", "x"]
    assert infer(conf_copy, *args) == 0
    line = re.search(r'make train ARGS="([^"]+)"', capsys.readouterr().out)
    assert line, "no make train line"
    settings = load_settings(line.group(1).split(), config_dir=conf_copy)
    assert settings.data.name == "x" and settings.data.target == target


def test_contract_infer_warns_of_categories_read_as_missing(
    wine_csv, conf_copy, tmp_path, capsys
):
    rows = wine_frame()
    rows.loc[:4, "Color Band"] = "NA"  # a code that pandas reads as missing
    rows.loc[5:6, "Color Band"] = "null"
    rows["Malic Acid"] = rows["Malic Acid"].astype(object)
    rows.loc[7, "Malic Acid"] = "NA"
    path = tmp_path / wine_csv
    rows.to_csv(path, index=False)
    args = [str(wine_csv), "--target", "Cultivar", "--ignore", "Sample ID"]
    assert infer(conf_copy, *args) == 0
    err = capsys.readouterr().err
    assert "column 'Color Band': 5 'NA', 2 'null' read as missing" in err
    assert "'Malic Acid'" not in err  # numbers: missing is what they mean


def test_contract_infer_keeps_a_category_spelled_na_with_na_values(
    wine_csv, conf_copy, tmp_path, capsys
):
    rows = wine_frame()
    rows.loc[:4, "Color Band"] = "NA"  # a code, not a missing value
    rows.loc[5:6, "Color Band"] = "null"
    path = tmp_path / wine_csv
    rows.to_csv(path, index=False)
    args = [str(wine_csv), "--target", "Cultivar", "--ignore", "Sample ID"]
    assert infer(conf_copy, *args, "--na-values", "null, n/a") == 0
    assert "read as missing" not in capsys.readouterr().err
    terms = yaml.safe_load((conf_copy / "data" / "tests_wine.yaml").read_text())
    assert terms["na_values"] == ["null", "n/a"]
    assert "NA" in terms["features"]["Color Band"]["categories"]
    assert "null" not in terms["features"]["Color Band"]["categories"]
    settings = load_settings(
        ["data=tests_wine", "model=random_forest"], config_dir=conf_copy
    )
    band = data.read_source(settings.data)["Color Band"]
    assert (band == "NA").sum() == 5 and band.isna().sum() >= 2


def test_contract_infer_never_overwrites_without_force(wine_csv, conf_copy, capsys):
    args = [str(wine_csv), "--target", "Cultivar", "--ignore", "Sample ID"]
    assert infer(conf_copy, *args, "--name", "mine") == 0
    destination = conf_copy / "data" / "mine.yaml"
    destination.write_text("# reviewed by hand\n", encoding="utf-8")
    assert infer(conf_copy, *args, "--name", "mine") == 1
    assert "--force" in capsys.readouterr().err
    assert destination.read_text(encoding="utf-8") == "# reviewed by hand\n"
    assert infer(conf_copy, *args, "--name", "mine", "--force") == 0
    assert "features:" in destination.read_text(encoding="utf-8")


def test_contract_infer_names_a_column_with_too_many_values(
    wine_csv, conf_copy, capsys
):
    assert infer(conf_copy, str(wine_csv), "--target", "Cultivar") == 1
    err = capsys.readouterr().err
    assert "'Sample ID'" in err and "--ignore" in err and "--max-categories" in err
    assert not (conf_copy / "data" / "tests_wine.yaml").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["data/raw/absent.csv", "--target", "y"], "not found"),
        (["data/raw/tests_wine.txt", "--target", "y"], ".csv or .parquet"),
        (["data/raw/header_only.csv", "--target", "Cultivar"], "no rows"),
        (["data/raw/tests_wine.csv", "--target", "Cultivr"], "--target"),
        (
            ["data/raw/tests_wine.csv", "--target", "Cultivar", "--ignore", "Nope"],
            "Nope",
        ),
    ],
)
def test_contract_infer_exits_1_on_bad_input(wine_csv, conf_copy, capsys, args, says):
    header = wine_csv.with_name("header_only.csv")
    header.write_text(wine_csv.read_text().splitlines()[0] + "\n")
    assert infer(conf_copy, *args) == 1
    assert says in capsys.readouterr().err


def test_contract_infer_names_the_line_of_a_file_it_cannot_read(
    wine_csv, conf_copy, capsys
):
    latin1 = wine_csv.with_name("exported.csv")
    latin1.write_bytes(
        "Region,Cultivar\nCura\u00e7ao,a\nBord\u00e9aux,b\n".encode("cp1252")
    )
    assert infer(conf_copy, str(latin1), "--target", "Cultivar") == 1
    err = capsys.readouterr().err
    assert f"error: {latin1}, line 2: not UTF-8 text (byte 0xe7)" in err
    assert "Traceback" not in err
    assert not (conf_copy / "data" / "exported.yaml").exists()


def test_contract_infer_needs_a_target(wine_csv, conf_copy):
    with pytest.raises(SystemExit) as excinfo:
        infer(conf_copy, str(wine_csv))
    assert excinfo.value.code == 2
