"""End-to-end tier: bake, install with the generated `make install`, run its own targets.

These tests talk to the package index (installers) and take minutes; `-m "not e2e"`
skips them.
"""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from bakery import all_off, answers_for, bake, run
from workflows import load_workflow, run_job

pytestmark = pytest.mark.e2e
TOOLS_BIN = Path(sys.executable).parent
LOCK_FILES = {"poetry.lock", "uv.lock"}


def project_env() -> dict:
    """A user's shell: the template's tools (uv) on PATH, no outer virtualenv."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "MAKEFLAGS", "MFLAGS"}
    }
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def make(project: Path, *targets: str, timeout: int = 900) -> str:
    """Run generated make targets; fail the test with their output when one fails."""
    result = run(
        ["make", *targets], cwd=project, env=project_env(), timeout=timeout
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"make {' '.join(targets)} failed:\n{output[-6000:]}"
    return output


def untracked_or_changed(project: Path) -> set[str]:
    """Files git sees as changed or new, apart from lock files the installers write."""
    status = run(["git", "status", "--porcelain"], cwd=project).stdout
    paths = {line[3:] for line in status.splitlines()}
    return paths - LOCK_FILES


def check_project_end_to_end(project: Path, installer: str) -> dict:
    """install, lint, train, evaluate, test; return the evaluation metrics."""
    make(project, "install", f"INSTALLER={installer}")
    assert (project / ".git" / "hooks" / "pre-commit").is_file()
    if (project / ".github" / "workflows" / "ci.yml").is_file():
        # Lint, test and the pipeline as the generated CI runs them (same targets).
        run_ci_workflow_here(project, installer)
    else:
        make(project, "lint")
        make(project, "train")
        make(project, "evaluate")
        output = make(project, "test")
        assert " passed" in output and " failed" not in output
    # Running the hooks again after everything ran changes nothing.
    make(project, "lint")
    assert untracked_or_changed(project) == set()
    return json.loads((project / "reports" / "metrics.json").read_text("utf-8"))


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_default_bake_runs_end_to_end_with_uv(tmp_path):
    project = bake(tmp_path, answers_for())
    metrics = check_project_end_to_end(project, "uv")
    assert metrics["accuracy"] > 0.9
    assert (project / "mlflow.db").is_file()


def run_ci_workflow_here(project: Path, installer: str) -> None:
    """The shell steps of every job of the generated ci workflow pass here.

    Run as GitHub runs them (bash -eo pipefail, the workflow's env; GitHub-only actions
    skipped, uploaded paths checked), in the project installed just before, with one
    change: INSTALLER, because Poetry cannot use this machine's package index as it is
    (test_poetry_installer_path_works covers Poetry).
    """
    ci = load_workflow(project / ".github" / "workflows" / "ci.yml")
    # Not the `loadtest` job of Docker-less bakes: it leaves a server running.
    for job in ("lint", "test"):
        for step, outcome in run_job(ci, job, project, {"INSTALLER": installer}):
            print(f"ci.yml {job}: {step}: {outcome}")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_all_off_regression_bake_runs_end_to_end_with_pip(tmp_path):
    project = bake(tmp_path, all_off(task="regression"))
    metrics = check_project_end_to_end(project, "pip")
    assert metrics["r2"] > 0.3
    assert not (project / "mlflow.db").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_poetry_installer_path_works(tmp_path):
    """Poetry needs the index declared as a primary source where its JSON API is absent.

    The URL is pip's own default, read at run time, and only in this test's copy of the
    baked project: the template never names a registry host.
    """
    from pip._internal.models.index import PyPI

    project = bake(tmp_path, all_off())
    make(project, ".tools/bin/poetry")
    poetry = str(project / ".tools" / "bin" / "poetry")
    added = run(
        [poetry, "source", "add", "--priority=primary", "index", PyPI.simple_url],
        cwd=project,
        env=project_env(),
    )
    assert added.returncode == 0, added.stdout + added.stderr
    run(["git", "commit", "-qam", "Use the local index"], cwd=project)
    env_poetry = f"POETRY={poetry}"
    make(project, "install", "INSTALLER=poetry", env_poetry, timeout=1500)
    assert (project / "poetry.lock").is_file()
    assert (project / ".venv" / "bin" / "python").is_file()
    make(project, "train")
    output = make(project, "test")
    assert " passed" in output and " failed" not in output
