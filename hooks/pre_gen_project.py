"""Refuse invalid template answers before anything is written.

Standard library only. The rules live in `validate()`, a pure function: the block at the
bottom is the only place where cookiecutter renders answers into this file, and it does
so with `tojson`, so no answer is ever pasted raw into a string literal. Before rendering
the file is still valid Python (double braces read as a set of a set), so other engines (copier's
extension in `extensions/`) and the template's tests import `validate()` from here: one
set of rules for every engine.
"""

import keyword
import re
import sys

YES_NO = ("yes", "no")
CHOICES = {
    "python_version": ("3.11", "3.12", "3.13"),
    "license": ("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"),
    "task": ("classification", "regression"),
    "use_mlflow": YES_NO,
    "use_dvc": YES_NO,
    "use_fastapi": YES_NO,
    "use_docker": YES_NO,
    "use_github_actions": YES_NO,
    "use_locust": YES_NO,
    "use_onnx": YES_NO,
    "use_spark": YES_NO,
}
# Lowercase so it is also a valid directory, Docker image and DVC/MLflow name.
SLUG_RE = re.compile(r"^[a-z][a-z0-9]*([._-][a-z0-9]+)*$")
# Words YAML reads as booleans or null: the slug is written unquoted into YAML configs.
YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
# Kubernetes object names (at most 63 characters) add suffixes such as "-production".
SLUG_MAX = 50
PACKAGE_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
GITHUB_OWNER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
# Components that only make sense on top of another one.
REQUIRES = {
    "use_docker": "use_fastapi",
    "use_locust": "use_fastapi",
}
# Names that would shadow the project's own dependencies when imported.
TAKEN_PACKAGE_NAMES = {
    "dvc",
    "fastapi",
    "hydra",
    "locust",
    "mlflow",
    "numpy",
    "onnx",
    "onnxruntime",
    "pandas",
    "pandera",
    "pydantic",
    "pyspark",
    "sklearn",
    "tests",
    "uvicorn",
}


def validate(answers):
    """Return a list of messages, one per invalid answer (empty when all are valid)."""
    errors = []
    name = str(answers.get("project_name", "")).strip()
    if not name:
        errors.append("project_name: must not be empty.")
    slug = str(answers.get("project_slug", ""))
    if not SLUG_RE.match(slug):
        errors.append(
            f"project_slug: {slug!r} is not a valid distribution name. Use lowercase "
            "letters and digits separated by single '-', '_' or '.', starting with a "
            "letter (e.g. 'my-mlops-project')."
        )
    elif slug in YAML_WORDS:
        errors.append(
            f"project_slug: {slug!r} reads as a boolean or null in YAML; "
            "choose another name."
        )
    elif len(slug) > SLUG_MAX:
        errors.append(
            f"project_slug: {slug!r} is {len(slug)} characters long; use at most "
            f"{SLUG_MAX} (image, Kubernetes and MLflow names derive from it)."
        )
    package = str(answers.get("package_name", ""))
    if not PACKAGE_RE.match(package) or not package.isidentifier():
        errors.append(
            f"package_name: {package!r} is not a valid Python package name. Use "
            "lowercase letters, digits and '_', not starting with a digit "
            "(e.g. 'my_mlops_project')."
        )
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        errors.append(f"package_name: {package!r} is a Python keyword.")
    elif package in sys.stdlib_module_names:
        errors.append(
            f"package_name: {package!r} is a standard library module; importing "
            "it would shadow the standard library."
        )
    elif package in TAKEN_PACKAGE_NAMES:
        errors.append(
            f"package_name: {package!r} would shadow a dependency of the project."
        )
    email = str(answers.get("author_email", ""))
    if not EMAIL_RE.match(email):
        errors.append(f"author_email: {email!r} is not an email address.")
    owner = str(answers.get("github_owner", ""))
    if not GITHUB_OWNER_RE.match(owner):
        errors.append(
            f"github_owner: {owner!r} is not a GitHub user or organisation name "
            "(letters, digits and single hyphens, at most 39 characters)."
        )
    for key, allowed in CHOICES.items():
        value = answers.get(key)
        if value not in allowed:
            errors.append(
                f"{key}: {value!r} is not one of {', '.join(map(repr, allowed))}."
            )
    for key, needed in REQUIRES.items():
        if answers.get(key) == "yes" and answers.get(needed) == "no":
            errors.append(
                f"{key}=yes needs {needed}=yes: it works on the FastAPI service. "
                f"Answer {needed}=yes or {key}=no."
            )
    return errors


def main(answers):
    """Print every problem and exit non-zero so that nothing is generated."""
    errors = validate(answers)
    if errors:
        print("ERROR: invalid template answers:", file=sys.stderr)
        for error in errors:
            print(f"  - {error}", file=sys.stderr)
        print("Nothing was generated.", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(
        {
            "project_name": {{ cookiecutter.project_name | tojson }},
            "project_slug": {{ cookiecutter.project_slug | tojson }},
            "package_name": {{ cookiecutter.package_name | tojson }},
            "author_email": {{ cookiecutter.author_email | tojson }},
            "github_owner": {{ cookiecutter.github_owner | tojson }},
            "python_version": {{ cookiecutter.python_version | tojson }},
            "license": {{ cookiecutter.license | tojson }},
            "task": {{ cookiecutter.task | tojson }},
            "use_mlflow": {{ cookiecutter.use_mlflow | tojson }},
            "use_dvc": {{ cookiecutter.use_dvc | tojson }},
            "use_fastapi": {{ cookiecutter.use_fastapi | tojson }},
            "use_docker": {{ cookiecutter.use_docker | tojson }},
            "use_github_actions": {{ cookiecutter.use_github_actions | tojson }},
            "use_locust": {{ cookiecutter.use_locust | tojson }},
            "use_onnx": {{ cookiecutter.use_onnx | tojson }},
            "use_spark": {{ cookiecutter.use_spark | tojson }},
        }
    )
