"""One template, three engines: identical projects, working updates, same validation.

cookiecutter, copier and cruft render the same project for the same answers; copier and
cruft bring later template releases into a project; copier refuses the answers the
pre-generation hook refuses, with its messages.
"""

import datetime
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import cruft
import jinja2
import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.prompt import prompt_for_config
from copier import run_copy

from bakery import DEFAULTS, TEMPLATE_DIR, all_off, answers_for, bake, run
from test_hooks import BAD_ANSWERS, load_rules

BIN = Path(sys.executable).parent
SPEC = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
# What only one engine writes: its record of the answers, and the repository.
ENGINE_FILES = {".copier-answers.yml", ".cruft.json"}
COMPONENTS = [key for key in DEFAULTS if key.startswith("use_")]
FLIP = {"yes": "no", "no": "yes"}
CASES = {
    "default": answers_for(),
    "all-off": all_off(),
    # Each component switched away from its default.
    **{
        f"{c.removeprefix('use_')}-{FLIP[DEFAULTS[c]]}": answers_for(
            **{c: FLIP[DEFAULTS[c]]}
        )
        for c in COMPONENTS
    },
    **{f"task-{t}": answers_for(task=t) for t in SPEC["task"][1:]},
    **{f"license-{lic}": answers_for(license=lic) for lic in SPEC["license"][1:]},
}
# The pre-generation hook's rules: component -> component it builds on.
REQUIRES = load_rules().REQUIRES
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Test",
    "GIT_AUTHOR_EMAIL": "template-test@example.com",
    "GIT_COMMITTER_NAME": "Template Test",
    "GIT_COMMITTER_EMAIL": "template-test@example.com",
}


def git(*args, cwd):
    """Run git with a fixed identity; fail the test with its output on error."""
    result = run(["git", *args], cwd=cwd, env={**os.environ, **GIT_IDENTITY})
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


def tool(name, *args, cwd):
    """Run one of the engines' command lines from the test environment."""
    return run([str(BIN / name), *args], cwd=cwd, env={**os.environ, **GIT_IDENTITY})


def template_files():
    """The template's files in the working tree (tracked or new, not ignored)."""
    listed = run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=TEMPLATE_DIR,
    )
    if listed.returncode == 0:
        names = [name for name in listed.stdout.split("\0") if name]
        return [name for name in names if (TEMPLATE_DIR / name).is_file()]
    skip = {".git", ".venv", "build", "__pycache__", ".pytest_cache"}
    return [
        path.relative_to(TEMPLATE_DIR).as_posix()
        for path in TEMPLATE_DIR.rglob("*")
        if path.is_file() and not skip & set(path.relative_to(TEMPLATE_DIR).parts)
    ]


@pytest.fixture(scope="session", autouse=True)
def no_user_settings(tmp_path_factory):
    """Ignore the developer's copier settings (cookiecutter's: default_config=True)."""
    settings = tmp_path_factory.mktemp("copier-settings") / "settings.yml"
    settings.write_text("{}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COPIER_SETTINGS_PATH", str(settings))
        yield


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    """A git repository of the current template, released as v1.0.0.

    copier and cruft only take templates from git; all three engines render this same
    snapshot, so uncommitted work in the checkout is tested too.
    """
    repo = tmp_path_factory.mktemp("template") / "template"
    for name in template_files():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(TEMPLATE_DIR / name, repo / name)
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "--message", "Template release 1.0.0", cwd=repo)
    git("tag", "v1.0.0", cwd=repo)
    return repo


@pytest.fixture
def template(release, tmp_path):
    """A clone of the released template that a test may change and tag."""
    clone = tmp_path / "template"
    git("clone", "--quiet", str(release), str(clone), cwd=tmp_path)
    return clone


def with_cookiecutter(source, out, answers):
    """cookiecutter --no-input; returns the project directory."""
    return bake(out, answers, template=source)


def with_copier(source, destination, answers, vcs_ref="v1.0.0"):
    """copier copy --trust --defaults with the answers as --data."""
    run_copy(
        str(source),
        str(destination),
        data=answers,
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref=vcs_ref,
    )
    return destination


def with_cruft(source, out, answers):
    """cruft create --no-input; returns the project directory."""
    return Path(
        cruft.create(
            str(source),
            output_dir=out,
            extra_context=dict(answers),
            no_input=True,
            default_config=True,
        )
    )


def tree(root):
    """relative path -> (kind, executable bit, bytes) for everything outside .git."""
    entries = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] == ".git" or relative.as_posix() in ENGINE_FILES:
            continue
        if path.is_dir():
            entries[relative.as_posix()] = ("directory", None, b"")
        else:
            executable = bool(path.stat().st_mode & 0o111)
            entries[relative.as_posix()] = ("file", executable, path.read_bytes())
    return entries


def assert_same_tree(expected, actual, labels):
    """Fail with the first path that differs between the two projects."""
    left, right = tree(expected), tree(actual)
    for name in sorted(left.keys() | right.keys()):
        if name not in right:
            pytest.fail(f"{name}: only in the {labels[0]} project")
        if name not in left:
            pytest.fail(f"{name}: only in the {labels[1]} project")
        if left[name][:2] != right[name][:2]:
            pytest.fail(f"{name}: type or executable bit differs: {labels}")
        if left[name][2] != right[name][2]:
            pytest.fail(f"{name}: content differs between {labels[0]} and {labels[1]}")


def committed_files(project):
    """The files git tracks in the project."""
    return set(git("ls-files", cwd=project).split())


@pytest.mark.parametrize("case", sorted(CASES))
def test_three_engines_render_identical_projects(case, release, tmp_path):
    answers = CASES[case]
    baked = with_cookiecutter(release, tmp_path / "cookiecutter", answers)
    copied = with_copier(release, tmp_path / "copier", answers)
    crufted = with_cruft(release, tmp_path / "cruft", answers)
    assert_same_tree(baked, copied, ("cookiecutter", "copier"))
    assert_same_tree(baked, crufted, ("cookiecutter", "cruft"))
    # Each engine ran the post-generation step: one commit with every generated file.
    files = {name for name, entry in tree(baked).items() if entry[0] == "file"}
    assert committed_files(baked) == files
    assert committed_files(copied) == files | {".copier-answers.yml"}
    assert committed_files(crufted) == files


def test_copier_records_its_answers_and_the_release(release, tmp_path):
    project = with_copier(release, tmp_path / "p", answers_for(use_mlflow="no"))
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text("utf-8"))
    assert recorded["_commit"] == "v1.0.0"
    assert recorded["use_mlflow"] == "no"
    public = {key for key in SPEC if not key.startswith("_")}
    assert public <= recorded.keys()
    assert recorded["package_name"] == "my_mlops_project"


def test_cruft_records_template_commit_and_answers(release, tmp_path):
    project = with_cruft(release, tmp_path, answers_for(task="regression"))
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] == git("rev-parse", "HEAD", cwd=release).strip()
    assert state["context"]["cookiecutter"]["task"] == "regression"


def test_copier_renders_the_current_year(release, tmp_path):
    # The other engines agree with it: test_three_engines_render_identical_projects.
    project = with_copier(release, tmp_path / "p", answers_for())
    year = str(datetime.datetime.now(datetime.timezone.utc).year)
    assert f"Copyright (c) {year} " in (project / "LICENSE").read_text("utf-8")


def load_extension():
    """Import extensions/cookiecutter_compat.py as copier-template-extensions does."""
    path = TEMPLATE_DIR / "extensions" / "cookiecutter_compat.py"
    spec = importlib.util.spec_from_file_location("cookiecutter_compat", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_now_tag_renders_like_cookiecutters():
    ours = jinja2.Environment(extensions=[load_extension().NowExtension])
    theirs = jinja2.Environment(extensions=["cookiecutter.extensions.TimeExtension"])
    for source in (
        "{% now 'utc', '%Y' %}",
        "{% now 'utc' %}",
        "{% now 'Europe/Paris', '%Y-%m-%d %Z' %}",
        "{% now 'local', '%Y' %}",
    ):
        assert ours.from_string(source).render() == theirs.from_string(source).render()


def test_now_tag_refuses_the_shifted_form():
    ours = jinja2.Environment(extensions=[load_extension().NowExtension])
    with pytest.raises(jinja2.TemplateSyntaxError, match="not supported"):
        ours.from_string("{% now 'utc' + 'days=1', '%Y' %}")


def test_cookiecutter_does_not_ask_for_private_variables(monkeypatch):
    asked = []

    def record(name, default, *args, **kwargs):
        asked.append(name)
        return default[0] if isinstance(default, list) else default

    monkeypatch.setattr("cookiecutter.prompt.read_user_variable", record)
    monkeypatch.setattr("cookiecutter.prompt.read_user_choice", record)
    context = prompt_for_config({"cookiecutter": json.loads(json.dumps(SPEC))})
    assert asked == [key for key in SPEC if not key.startswith("_")]
    assert context["__answers"] == ""


def test_copier_questions_match_cookiecutter_json():
    questions = yaml.safe_load((TEMPLATE_DIR / "copier.yml").read_text("utf-8"))
    questions = {k: v for k, v in questions.items() if not k.startswith("_")}
    public = {k: v for k, v in SPEC.items() if not k.startswith("_")}
    assert list(questions) == list(public)
    for name, value in public.items():
        question = questions[name]
        assert question["help"] == SPEC["__prompts__"][name]
        assert question["validator"] == (
            "{{ cookiecutter | answer_errors('" + name + "') }}"
        )
        if isinstance(value, list):
            assert question["choices"] == value
            value = value[0]
        if name in REQUIRES:
            # Asked only when the component it builds on is on; 'no' otherwise.
            condition = f"cookiecutter.{REQUIRES[name]} == 'yes'"
            assert question["when"] == "{{ " + condition + " }}"
            assert question["default"] == (
                "{{ '" + value + "' if " + condition + " else 'no' }}"
            )
        else:
            assert "when" not in question
            assert question["default"] == value


@pytest.mark.parametrize("base", sorted(set(REQUIRES.values())))
def test_copier_does_not_ask_what_cannot_be_yes(base, release, tmp_path):
    project = with_copier(release, tmp_path / "p", {base: "no"})
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text("utf-8"))
    baked = with_cookiecutter(release, tmp_path / "cc", answers_for(**{base: "no"}))
    assert_same_tree(baked, project, ("cookiecutter", "copier"))
    for component, needed in REQUIRES.items():
        if needed == base:
            assert component not in recorded  # not asked, so not recorded


def test_copier_yml_is_in_sync_with_cookiecutter_json():
    result = run([sys.executable, "scripts/sync_copier.py", "--check"], TEMPLATE_DIR)
    assert result.returncode == 0, result.stderr


def test_sync_check_fails_when_cookiecutter_json_changes(tmp_path):
    for name in (
        "cookiecutter.json",
        "copier.yml",
        "scripts/sync_copier.py",
        "hooks/pre_gen_project.py",
    ):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy2(TEMPLATE_DIR / name, tmp_path / name)
    changed = {**SPEC, "author_name": "Someone Else"}
    (tmp_path / "cookiecutter.json").write_text(json.dumps(changed), encoding="utf-8")
    check = [sys.executable, "scripts/sync_copier.py", "--check"]
    result = run(check, tmp_path)
    assert result.returncode == 1
    assert "out of date" in result.stderr
    assert run([sys.executable, "scripts/sync_copier.py"], tmp_path).returncode == 0
    assert run(check, tmp_path).returncode == 0
    assert '"Someone Else"' in (tmp_path / "copier.yml").read_text("utf-8")


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
def test_copier_refuses_bad_answers_before_writing(case, release, tmp_path):
    overrides, message = BAD_ANSWERS[case]
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match="Validation error") as refused:
        with_copier(release, destination, {**answers_for(), **overrides})
    assert message in str(refused.value)
    assert not destination.exists()


def test_cruft_runs_the_pre_generation_hook(release, tmp_path, capfd):
    overrides, message = BAD_ANSWERS["locust-without-fastapi"]
    with pytest.raises(FailedHookException):
        with_cruft(release, tmp_path, {**answers_for(), **overrides})
    assert message in capfd.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_copier_command_line_reports_the_hook_message(release, tmp_path):
    result = tool(
        "copier",
        "copy",
        "--trust",
        "--defaults",
        "--data=use_fastapi=no",
        "--data=use_locust=yes",
        str(release),
        "project",
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "use_locust=yes needs use_fastapi=yes" in result.stderr
    assert not (tmp_path / "project").exists()


def change_template(template, project_name):
    """A template release: one new file, one changed line, one removed file."""
    root = template / "{{cookiecutter.project_slug}}"
    (root / "CONTRIBUTING.md").write_text(
        "# Contributing to {{ cookiecutter.project_name }}\n", encoding="utf-8"
    )
    readme = (root / "README.md").read_text(encoding="utf-8").splitlines(keepends=True)
    first_line = readme[0].rstrip("\n") + " (template 1.1.0)\n"
    (root / "README.md").write_text(first_line + "".join(readme[1:]), "utf-8")
    (root / ".flake8").unlink()
    git("add", "--all", cwd=template)
    git("commit", "--quiet", "--message", "Template release 1.1.0", cwd=template)
    git("tag", "v1.1.0", cwd=template)
    return {
        "CONTRIBUTING.md": f"# Contributing to {project_name}\n",
        "first README line": " (template 1.1.0)\n",
        "removed": ".flake8",
    }


def user_edit(project):
    """The user's own work, committed: a line in a generated file and a new file."""
    with (project / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\nNotes kept by the project team.\n")
    (project / "NOTES.md").write_text("Our own file.\n", encoding="utf-8")
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", "Our changes", cwd=project)


def assert_no_conflicts(project):
    """No conflict markers and no .rej files anywhere in the project."""
    for path in project.rglob("*"):
        if ".git" in path.relative_to(project).parts or not path.is_file():
            continue
        assert path.suffix != ".rej", f"rejected hunk left: {path.name}"
        text = path.read_text(encoding="utf-8", errors="replace")
        for marker in ("<<<<<<<", ">>>>>>>"):
            assert marker not in text, f"conflict marker in {path}"


def copier_update_keeping_edits(project, expected):
    """copier update to the new release; the template change arrived, the user's edit
    survived and the removed file is gone. Returns the updated README."""
    updated = tool("copier", "update", "--trust", "--defaults", cwd=project)
    assert updated.returncode == 0, updated.stderr
    contributing = (project / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert contributing == expected["CONTRIBUTING.md"]
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.endswith("\nNotes kept by the project team.\n")
    assert not (project / expected["removed"]).exists()
    return readme


def test_copier_update_applies_a_release_and_keeps_user_edits(template, tmp_path):
    project = tmp_path / "project"
    copied = tool(
        "copier", "copy", "--trust", "--defaults", "--vcs-ref=v1.0.0",
        str(template), str(project), cwd=tmp_path,
    )  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    user_edit(project)
    expected = change_template(template, DEFAULTS["project_name"])

    readme = copier_update_keeping_edits(project, expected)
    assert readme.splitlines(keepends=True)[0].endswith(expected["first README line"])
    assert (project / "NOTES.md").read_text(encoding="utf-8") == "Our own file.\n"
    assert not (project / expected["removed"]).exists()
    assert_no_conflicts(project)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text("utf-8"))
    assert answers["_commit"] == "v1.1.0"


def add_optional_directory(template):
    """A directory whose only file belongs to MLflow, released as v1.0.1."""
    name = "{% if cookiecutter.use_mlflow == 'yes' %}notes.md{% endif %}"
    path = template / "{{cookiecutter.project_slug}}" / "extras" / "mlflow" / name
    path.parent.mkdir(parents=True)
    path.write_text("Tracking notes for {{ cookiecutter.project_name }}.\n", "utf-8")
    git("add", "--all", cwd=template)
    git("commit", "--quiet", "--message", "Optional directory", cwd=template)
    git("tag", "v1.0.1", cwd=template)


def test_every_engine_prunes_the_directories_of_a_switched_off_component(
    template, tmp_path
):
    add_optional_directory(template)
    answers = answers_for(use_mlflow="no")
    baked = with_cookiecutter(template, tmp_path / "cookiecutter", answers)
    copied = with_copier(template, tmp_path / "copier", answers, vcs_ref="v1.0.1")
    crufted = with_cruft(template, tmp_path / "cruft", answers)
    assert not (copied / "extras").exists()
    assert_same_tree(baked, copied, ("cookiecutter", "copier"))
    assert_same_tree(baked, crufted, ("cookiecutter", "cruft"))
    on = with_copier(template, tmp_path / "on", answers_for(), vcs_ref="v1.0.1")
    assert (on / "extras" / "mlflow" / "notes.md").is_file()


def test_copier_update_switches_a_component_off_and_on(template, tmp_path):
    add_optional_directory(template)
    project = tmp_path / "project"
    with_copier(template, project, answers_for(), vcs_ref="v1.0.1")
    package = project / "src" / "my_mlops_project"
    assert (package / "tracking.py").is_file()
    fresh = {
        "no": with_copier(
            template, tmp_path / "fresh", answers_for(use_mlflow="no"), "v1.0.1"
        ),
        "yes": shutil.copytree(project, tmp_path / "as-created", symlinks=True),
    }

    for value in ("no", "yes"):
        updated = tool(
            "copier", "update", "--trust", "--defaults", "--skip-answered",
            f"--data=use_mlflow={value}", cwd=project,
        )  # fmt: skip
        assert updated.returncode == 0, updated.stderr
        assert (package / "tracking.py").exists() == (value == "yes")
        assert (project / "tests" / "test_tracking.py").exists() == (value == "yes")
        assert (project / "extras").exists() == (value == "yes")
        # The project is now what a fresh copy with these answers would be.
        assert_same_tree(fresh[value], project, ("fresh copier", "updated"))
        assert_no_conflicts(project)
        git("add", "--all", cwd=project)
        git("commit", "--quiet", "--message", f"use_mlflow={value}", cwd=project)


def test_cruft_check_and_update_follow_the_template(template, tmp_path):
    created = tool(
        "cruft", "create", "--no-input", "--default-config",
        "--output-dir", str(tmp_path), str(template), cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    project = tmp_path / "my-mlops-project"
    git("add", ".cruft.json", cwd=project)
    git("commit", "--quiet", "--message", "Record the template", cwd=project)
    check = tool("cruft", "check", cwd=project)
    assert check.returncode == 0, check.stdout
    assert "up to date" in check.stdout

    user_edit(project)
    expected = change_template(template, DEFAULTS["project_name"])
    check = tool("cruft", "check", cwd=project)
    assert check.returncode == 1
    assert "out of date" in check.stdout

    updated = tool("cruft", "update", "--skip-apply-ask", cwd=project)

    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "Failed to apply" not in updated.stdout + updated.stderr
    contributing = (project / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert contributing == expected["CONTRIBUTING.md"]
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.splitlines(keepends=True)[0].endswith(expected["first README line"])
    assert readme.endswith("\nNotes kept by the project team.\n")
    assert not (project / expected["removed"]).exists()
    assert_no_conflicts(project)
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] == git("rev-parse", "HEAD", cwd=template).strip()
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", "Template 1.1.0", cwd=project)
    assert tool("cruft", "check", cwd=project).returncode == 0

    # Changing an answer: the component's files go away.
    switched = tool(
        "cruft", "update", "--skip-apply-ask",
        "--variables-to-update", '{"use_mlflow": "no"}', cwd=project,
    )  # fmt: skip
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert not (project / "src" / "my_mlops_project" / "tracking.py").exists()
    assert not (project / "tests" / "test_tracking.py").exists()
    assert "mlflow" not in (project / "pyproject.toml").read_text(encoding="utf-8")
    assert_no_conflicts(project)


def test_a_cookiecutter_project_can_adopt_copier_updates(template, tmp_path):
    answers = answers_for(task="regression")
    project = with_cookiecutter(template, tmp_path / "baked", answers)
    user_edit(project)
    # docs/updating.md: render the same answers at the same release with copier
    # elsewhere, and give the project its answers file.
    scratch = with_copier(template, tmp_path / "scratch", answers, vcs_ref="v1.0.0")
    shutil.copy2(scratch / ".copier-answers.yml", project / ".copier-answers.yml")
    git("add", ".copier-answers.yml", cwd=project)
    git("commit", "--quiet", "--message", "Track the template with copier", cwd=project)
    expected = change_template(template, DEFAULTS["project_name"])

    copier_update_keeping_edits(project, expected)
    assert (project / "conf" / "data" / "diabetes.yaml").is_file()
    assert_no_conflicts(project)
