"""Read generated GitHub Actions workflows, and run their shell steps outside GitHub."""

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)
# `make ...` at the start of a command (line start, after ; && || |, or after nohup),
# up to the next operator or redirection.
MAKE_COMMAND = re.compile(
    r"(?:^|[;&|]|\b(?:nohup|do|then|else)\b)[ \t]*make[ \t]+([^;&|<>\n]+)", re.M
)
TEMPLATE_DIR = Path(__file__).resolve().parents[1]


def load_workflow(path: Path) -> dict:
    """Parse a workflow; YAML 1.1 reads the key `on` as True, put it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def workflows(project: Path) -> dict[str, dict]:
    """file name -> parsed workflow, for every workflow of a baked project."""
    folder = project / ".github" / "workflows"
    return {path.name: load_workflow(path) for path in sorted(folder.glob("*.yml"))}


@dataclass
class Step:
    """One shell step of a job, as GitHub would run it."""

    job: str
    name: str
    run: str
    env: dict = field(default_factory=dict)


def run_steps(workflow: dict, job: str) -> list[Step]:
    """The `run:` steps of a job in order, with the environment GitHub gives them."""
    spec = workflow["jobs"][job]
    env = {**workflow.get("env", {}), **spec.get("env", {})}
    steps = []
    for number, step in enumerate(spec.get("steps", []), start=1):
        if "run" not in step:
            continue
        steps.append(
            Step(
                job=job,
                name=step.get("name", f"step {number}"),
                run=step["run"],
                env={**env, **step.get("env", {})},
            )
        )
    return steps


def make_invocations(run: str) -> list[list[str]]:
    """Every `make ...` command line of a shell script, as argument lists."""
    script = run.replace("\\\n", " ")
    return [shlex.split(match.group(1)) for match in MAKE_COMMAND.finditer(script)]


def ci_environment(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """A runner-like environment for running steps here: PATH with the template's
    tools (uv) appended, no outer virtualenv, byte-compilation allowed."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "MAKEFLAGS", "MFLAGS"}
    }
    tools = Path(shutil.which("uv") or "uv").parent
    env["PATH"] = f"{env.get('PATH', '')}{os.pathsep}{tools}"
    env["CI"] = "true"
    env.update(overrides or {})
    return env


def execute(
    steps: list[Step],
    cwd: Path,
    overrides: dict[str, str] | None = None,
    timeout: int = 900,
) -> list[tuple[Step, float]]:
    """Run the steps with bash as GitHub does (-e, pipefail); stop at the first failure.

    `overrides` win over the workflow's own env (e.g. INSTALLER=uv where Poetry cannot
    reach the index). Expressions `${{ }}` inside a script are refused: the generated
    workflows pass values through `env:` (zizmor's template-injection rule).
    Returns each step with its duration in seconds.
    """
    done = []
    with tempfile.TemporaryDirectory() as scratch:
        github_files = {
            name: str(Path(scratch) / name.lower())
            for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")
        }
        for step in steps:
            if EXPRESSION.search(step.run):
                raise AssertionError(f"{step.job}/{step.name}: expression in a script")
            env = ci_environment({**step.env, **github_files, **(overrides or {})})
            env = {key: str(value) for key, value in env.items()}
            start = time.monotonic()
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step.run],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                encoding="utf-8",
                timeout=timeout,
            )
            if result.returncode != 0:
                output = (result.stdout + result.stderr)[-6000:]
                raise AssertionError(
                    f"step '{step.job}/{step.name}' failed "
                    f"({result.returncode}):\n{output}"
                )
            done.append((step, time.monotonic() - start))
    return done


def run_job(
    workflow: dict,
    job: str,
    cwd: Path,
    overrides: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Run one job's steps here, in order: its `run:` steps for real; of the GitHub-only
    actions, upload-artifact is checked (its paths must match files when the step says
    `if-no-files-found: error`) and the others (checkout, setup-python, cache) are
    skipped. Steps with an `if:` condition are not run. Returns (step, outcome) pairs.
    """
    outcomes = []
    env = {**workflow.get("env", {}), **workflow["jobs"][job].get("env", {})}
    for number, step in enumerate(workflow["jobs"][job]["steps"], start=1):
        label = step.get("name") or step.get("uses") or f"step {number}"
        if "if" in step:
            outcomes.append((label, "not run (conditional)"))
        elif "run" in step:
            spec = Step(job, label, step["run"], {**env, **step.get("env", {})})
            ((_, seconds),) = execute([spec], cwd, overrides)
            outcomes.append((label, f"passed in {seconds:.0f} s"))
        elif step["uses"].startswith("actions/upload-artifact@"):
            settings = step["with"]
            if settings.get("if-no-files-found") == "error":
                for pattern in str(settings["path"]).split():
                    assert list(cwd.glob(pattern.rstrip("/"))), f"{label}: no {pattern}"
            outcomes.append((label, "artifact files present"))
        else:
            outcomes.append((label, "skipped (GitHub-only action)"))
    return outcomes
