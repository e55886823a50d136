"""The command line refuses bad input with a message and a non-zero exit code."""

import pytest

from {{ cookiecutter.package_name }}.cli import main

from .conftest import CONFIG_DIR


def test_unknown_stage_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["deploy"])
    assert excinfo.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bad_override_exits_2_naming_the_key(make_settings, capsys):
    make_settings()
    code = main(["data", "data.test_size=2", "--config-dir", str(CONFIG_DIR)])
    assert code == 2
    assert "data.test_size" in capsys.readouterr().err


def test_stage_without_its_inputs_exits_1_with_advice(make_settings, capsys):
    make_settings()
    code = main(["evaluate", "--config-dir", str(CONFIG_DIR)])
    assert code == 1
    assert "make train" in capsys.readouterr().err


def test_malformed_raw_data_is_refused(make_settings, capsys):
    settings = make_settings()
    settings.paths.raw_data.parent.mkdir(parents=True)
    settings.paths.raw_data.write_text("a,b\n1,2\n", encoding="utf-8")
    code = main(["features", "--config-dir", str(CONFIG_DIR)])
    assert code == 1
    assert "missing" in capsys.readouterr().err
