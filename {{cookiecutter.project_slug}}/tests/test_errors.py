"""Errors live below the code that raises them; the CLI maps each to an exit code."""

import ast
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import cli
from {{ cookiecutter.package_name }}.artifacts import ArtifactError
from {{ cookiecutter.package_name }}.config import ConfigError
from {{ cookiecutter.package_name }}.errors import (
    ContractError,
    DataValidationError,
    StageError,
)

from .conftest import CONFIG_DIR

PACKAGE = Path(cli.__file__).parent


def test_data_and_contract_errors_are_stage_errors_and_value_errors():
    for error in (DataValidationError, ContractError, ArtifactError):
        assert issubclass(error, StageError), error
    for error in (DataValidationError, ContractError, ConfigError):
        assert issubclass(error, ValueError), error
    assert not issubclass(ConfigError, StageError)


def imported_modules(path: Path) -> set[str]:
    """Modules a source file imports, relative ones as `.name`."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_library_module_imports_the_cli():
    cli_modules = {".cli", "..cli", f"{cli.__package__}.cli"}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in ("cli.py", "__main__.py"):
            continue
        upward = imported_modules(path) & cli_modules
        assert not upward, f"{path.relative_to(PACKAGE)} imports the CLI: {upward}"


@pytest.mark.parametrize(
    "error",
    [
        DataValidationError("rows.csv: column 'x', row 3: not a number"),
        ContractError("data.target: no column 'y'"),
        ArtifactError("models/model.joblib not found: run `make train` first."),
        FileNotFoundError("data.source: data/raw/x.csv not found"),
    ],
)
def test_a_stage_error_exits_1_with_its_message(
    make_settings, monkeypatch, capsys, error
):
    make_settings()

    def fail(settings):
        raise error

    monkeypatch.setattr(cli, "_stage", lambda name: fail)
    assert cli.main(["train", "--config-dir", str(CONFIG_DIR)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {error}\n"


def test_a_bug_is_not_hidden_as_a_stage_error(make_settings, monkeypatch):
    make_settings()

    def fail(settings):
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "_stage", lambda name: fail)
    with pytest.raises(KeyError):
        cli.main(["train", "--config-dir", str(CONFIG_DIR)])
