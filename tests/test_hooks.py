"""Invalid answers are refused with a clear message before anything is written."""

import importlib.util

import pytest
from cookiecutter.exceptions import FailedHookException

from bakery import TEMPLATE_DIR, answers_for, bake


def load_rules():
    """Import the pre-generation hook's rules (the file is valid Python unrendered)."""
    spec = importlib.util.spec_from_file_location(
        "pre_gen_project", TEMPLATE_DIR / "hooks" / "pre_gen_project.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BAD_ANSWERS = {
    "slug-with-space": ({"project_slug": "my project"}, "project_slug"),
    "slug-uppercase": ({"project_slug": "My-Project"}, "project_slug"),
    "slug-leading-digit": ({"project_slug": "1-project"}, "project_slug"),
    "slug-too-long": ({"project_slug": "a" * 51}, "at most 50"),
    "slug-yaml-boolean": ({"project_slug": "yes"}, "boolean or null in YAML"),
    "package-not-identifier": ({"package_name": "my-package"}, "package_name"),
    "package-leading-digit": ({"package_name": "2fast"}, "package_name"),
    "package-keyword": ({"package_name": "class"}, "keyword"),
    "package-soft-keyword": ({"package_name": "match"}, "keyword"),
    "package-stdlib": ({"package_name": "json"}, "standard library"),
    "package-shadows-dependency": ({"package_name": "mlflow"}, "shadow a dependency"),
    "email-without-at": ({"author_email": "someone.example.com"}, "author_email"),
    "email-without-domain": ({"author_email": "someone@localhost"}, "author_email"),
    "github-owner-bad": ({"github_owner": "-owner-"}, "github_owner"),
    "empty-project-name": (
        {"project_name": " ", "project_slug": "x", "package_name": "x"},
        "project_name",
    ),
    "locust-without-fastapi": (
        {"use_fastapi": "no", "use_locust": "yes", "use_docker": "no"},
        "use_locust=yes needs use_fastapi=yes",
    ),
    "docker-without-fastapi": (
        {"use_fastapi": "no", "use_docker": "yes", "use_locust": "no"},
        "use_docker=yes needs use_fastapi=yes",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
def test_bad_answer_is_refused_and_nothing_is_written(case, tmp_path, capfd):
    overrides, message = BAD_ANSWERS[case]
    answers = {**answers_for(), **overrides}
    with pytest.raises(FailedHookException):
        bake(tmp_path, answers)
    assert list(tmp_path.iterdir()) == []
    err = capfd.readouterr().err
    assert "invalid template answers" in err
    assert message in err


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
def test_rules_name_the_offending_answer(case):
    overrides, message = BAD_ANSWERS[case]
    answers = {
        **answers_for(project_slug="ok", package_name="ok_pkg"),
        **overrides,
    }
    errors = load_rules().validate(answers)
    assert any(message in error for error in errors), errors


def test_valid_answers_pass_the_rules():
    answers = answers_for(project_slug="my-mlops-project", package_name="my_mlops")
    assert load_rules().validate(answers) == []


def test_choice_outside_the_list_is_refused():
    answers = answers_for(project_slug="ok", package_name="ok", task="clustering")
    errors = load_rules().validate(answers)
    assert any(error.startswith("task:") for error in errors)


def test_every_error_is_reported_at_once():
    answers = answers_for(
        project_slug="Bad Slug", package_name="import", author_email="nope"
    )
    errors = load_rules().validate(answers)
    assert {error.split(":")[0] for error in errors} >= {
        "project_slug",
        "package_name",
        "author_email",
    }


def test_bake_without_git_on_path_warns_and_still_generates(
    tmp_path, monkeypatch, capfd
):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    project = bake(tmp_path, answers_for())
    assert (project / "pyproject.toml").is_file()
    assert not (project / ".git").exists()
    assert "git not found" in capfd.readouterr().out
