"""Fast tier: render every meaningful combination of answers and check the output."""

import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from bakery import (
    COMPONENTS,
    NEEDS,
    all_off,
    answers_for,
    bake,
    expected_files,
    project_files,
    run,
)

BIN = Path(sys.executable).parent
# name -> answers. Each component off in turn, all off, the other choices, odd names.
BAKES = {
    "default": answers_for(),
    "all-off": all_off(),
    **{f"{c.removeprefix('use_')}-off": answers_for(**{c: "no"}) for c in COMPONENTS},
    "regression": answers_for(task="regression"),
    "regression-all-off": all_off(task="regression"),
    "python-3.12": answers_for(python_version="3.12"),
    "python-3.13": answers_for(python_version="3.13", license="Apache-2.0"),
    "bsd": answers_for(license="BSD-3-Clause"),
    "proprietary": answers_for(license="Proprietary", task="regression"),
    "long-names": answers_for(
        project_name="Customer Churn Prediction Platform Service",
        package_name="customer_churn_prediction_platform_service",
        author_name='Zoë "Z" O\'Brien',
        description='Predicts churn: "who" leaves, and why \\ when.',
    ),
}
LEFTOVER = re.compile(r"\{\{|\{%|\{#|cookiecutter")


@pytest.fixture(scope="module", params=sorted(BAKES))
def baked(request, tmp_path_factory):
    """(answers, project dir) for each named combination, baked once per module."""
    answers = BAKES[request.param]
    return answers, bake(tmp_path_factory.mktemp(request.param), answers)


def test_bake_has_exactly_the_expected_files(baked):
    answers, project = baked
    assert project_files(project) == expected_files(answers)


def test_no_template_syntax_is_left(baked):
    _, project = baked
    for name in sorted(project_files(project)):
        text = (project / name).read_text(encoding="utf-8")
        # GitHub Actions expressions are ${{ ... }}: not template syntax.
        for match in LEFTOVER.finditer(text.replace("${{", "$(")):
            line = text.count("\n", 0, match.start()) + 1
            pytest.fail(f"{name}:{line}: leftover {match.group()!r}")


def test_every_yaml_toml_and_json_file_parses(baked):
    _, project = baked
    for name in sorted(project_files(project)):
        path = project / name
        if path.suffix in {".yaml", ".yml"} or name == ".flake8":
            if path.suffix != ".flake8" and name != ".flake8":
                list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))


def test_is_a_git_repository_with_everything_committed(baked):
    _, project = baked
    status = run(["git", "status", "--porcelain"], cwd=project)
    assert status.returncode == 0, status.stderr
    assert status.stdout == ""
    assert run(["git", "log", "--oneline"], cwd=project).stdout.count("\n") == 1


@pytest.mark.parametrize(
    "tool",
    [
        ["black", "--check", "--diff", "."],
        ["isort", "--check-only", "--diff", "."],
        ["flake8", "."],
        ["interrogate", "src"],
    ],
    ids=["black", "isort", "flake8", "interrogate"],
)
def test_generated_code_passes_its_linters(baked, tool):
    _, project = baked
    result = run([str(BIN / tool[0]), *tool[1:]], cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_tool_versions_match_the_generated_hooks(baked):
    _, project = baked
    config = yaml.safe_load(
        (project / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    )
    pins = {
        dep.split("==")[0]: dep.split("==")[1]
        for repo in config["repos"]
        for hook in repo["hooks"]
        for dep in hook.get("additional_dependencies", [])
    }
    for tool in ("black", "isort", "flake8", "interrogate"):
        installed = run([sys.executable, "-m", "pip", "show", tool], cwd=project)
        version = re.search(r"^Version: (.+)$", installed.stdout, re.M).group(1)
        assert pins[tool] == version, f"{tool}: hooks pin {pins[tool]}, tests {version}"


def test_requires_python_follows_the_answer(baked):
    answers, project = baked
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    version = answers["python_version"]
    assert pyproject["project"]["requires-python"] == f">={version},<3.14"
    assert pyproject["tool"]["black"]["target-version"] == [
        f"py{version.replace('.', '')}"
    ]


def test_metadata_keeps_odd_characters_intact(baked):
    answers, project = baked
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == answers["description"]
    assert pyproject["project"]["authors"][0]["name"] == answers["author_name"]


def test_license_matches_the_answer(baked):
    answers, project = baked
    text = (project / "LICENSE").read_text(encoding="utf-8")
    first_words = {
        "MIT": "MIT License",
        "Apache-2.0": "Apache License",
        "BSD-3-Clause": "BSD 3-Clause License",
        "Proprietary": "All rights reserved",
    }
    assert first_words[answers["license"]] in text
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    expected = (
        "LicenseRef-Proprietary"
        if answers["license"] == "Proprietary"
        else answers["license"]
    )
    assert pyproject["project"]["license"] == expected


def test_make_help_lists_exactly_the_targets_of_the_chosen_components(baked):
    answers, project = baked
    result = run(["make", "help"], cwd=project)
    assert result.returncode == 0, result.stderr
    listed = set(re.findall(r"^\s+(?:\x1b\[\d+m)?([\w-]+)", result.stdout, re.M))
    core = {"help", "install", "lint", "format", "test", "data", "train", "evaluate"}
    assert core | {"clean", "batch-predict"} <= listed
    assert ("mlflow-ui" in listed) == (answers["use_mlflow"] == "yes")
    for component, targets in {
        "use_mlflow": {"mlflow-ui", "promote"},
        "use_dvc": {"pipeline"},
        "use_onnx": {"export-onnx", "benchmark-onnx"},
    }.items():
        wanted = answers[component] == "yes"
        assert (targets & listed) == (targets if wanted else set()), component


def test_dependencies_of_absent_components_are_absent(baked):
    answers, project = baked
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert ("mlflow" in text) == (answers["use_mlflow"] == "yes")
    everything = "\n".join(
        (project / name).read_text(encoding="utf-8")
        for name in project_files(project)
        if name.endswith((".py", ".yaml", ".toml", "Makefile"))
    )
    if answers["use_mlflow"] == "no":
        assert "mlflow" not in everything.lower()
    if answers["use_onnx"] == "no":
        assert not re.search(
            r"onnxruntime|skl2onnx|import onnx|export-onnx", everything
        )
    if answers["use_dvc"] == "no":
        assert not re.search(r"\bdvc\b|params\.yaml", everything, re.IGNORECASE)


def test_dependent_components_are_off_without_their_base():
    for component, needed in NEEDS.items():
        assert answers_for(**{needed: "no"})[component] == "no"
