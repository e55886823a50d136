"""Helpers to bake the template and to predict what a bake must contain."""

import json
import subprocess
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
DEFAULTS = {
    key: (value[0] if isinstance(value, list) else value)
    for key, value in json.loads(
        (TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8")
    ).items()
    if not key.startswith("_")
}
COMPONENTS = (
    "use_mlflow",
    "use_dvc",
    "use_fastapi",
    "use_docker",
    "use_github_actions",
    "use_locust",
    "use_onnx",
)
# Components that only exist on top of another one.
NEEDS = {"use_docker": "use_fastapi", "use_locust": "use_fastapi"}


def consistent(answers: dict) -> dict:
    """Turn off the components whose prerequisite is off."""
    answers = dict(answers)
    for component, needed in NEEDS.items():
        if answers.get(needed) == "no":
            answers[component] = "no"
    return answers


def answers_for(**overrides: str) -> dict:
    """The default answers with overrides (derived names follow project_name)."""
    return consistent({**_public_defaults(), **overrides})


def _public_defaults() -> dict:
    """Defaults without the derived fields, so that cookiecutter derives them."""
    derived = {"project_slug", "package_name"}
    return {k: v for k, v in DEFAULTS.items() if k not in derived}


def all_off(**overrides: str) -> dict:
    """Every component switched off."""
    return answers_for(**{c: "no" for c in COMPONENTS}, **overrides)


def bake(output_dir: Path, answers: dict, template: Path = TEMPLATE_DIR) -> Path:
    """Render a template with cookiecutter, without prompts; return its directory.

    `default_config` keeps the user's ~/.cookiecutterrc out of the tests.
    """
    return Path(
        cookiecutter(
            str(template),
            no_input=True,
            extra_context=answers,
            output_dir=str(output_dir),
            default_config=True,
        )
    )


def project_files(project: Path) -> set[str]:
    """Every file of a baked project, as POSIX paths relative to it (no .git)."""
    return {
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


def expected_files(answers: dict) -> set[str]:
    """Exactly the files a bake with these answers must contain."""
    answers = consistent({**_public_defaults(), **answers})
    package = answers.get("package_name") or _derive_package(answers)
    src = f"src/{package}"
    files = {
        ".flake8",
        ".gitignore",
        ".pre-commit-config.yaml",
        "LICENSE",
        "Makefile",
        "README.md",
        "pyproject.toml",
        "conf/config.yaml",
        "conf/model/random_forest.yaml",
        "conf/train/default.yaml",
        f"{src}/__init__.py",
        f"{src}/__main__.py",
        f"{src}/cli.py",
        f"{src}/config.py",
        f"{src}/artifacts.py",
        f"{src}/contract.py",
        f"{src}/errors.py",
        f"{src}/task.py",
        f"{src}/tune.py",
        "conf/tune/logistic_regression.yaml",
        "conf/tune/ridge.yaml",
        "conf/tune/random_forest.yaml",
        f"{src}/data.py",
        f"{src}/evaluate.py",
        f"{src}/features.py",
        f"{src}/settings.py",
        f"{src}/predict.py",
        f"{src}/reference.py",
        f"{src}/train.py",
        "tests/__init__.py",
        "tests/conftest.py",
        "tests/test_cli.py",
        "tests/test_artifacts.py",
        "tests/test_bench_batch.py",
        "tests/test_config.py",
        "tests/test_contract.py",
        "tests/test_data.py",
        "tests/test_errors.py",
        "tests/test_evaluate.py",
        "tests/test_features.py",
        "tests/test_pipeline.py",
        "tests/test_predict.py",
        "tests/test_reference.py",
        "tests/test_task.py",
        "tests/test_train.py",
        "tests/test_tune.py",
        "benchmarks/batch.py",
    }
    # Every bake can switch task by configuration: both samples, every model.
    files |= {
        "conf/data/breast_cancer.yaml",
        "conf/data/diabetes.yaml",
        "conf/model/logistic_regression.yaml",
        "conf/model/ridge.yaml",
    }
    if answers["use_mlflow"] == "yes":
        files |= {f"{src}/tracking.py", "tests/test_tracking.py"}
    if answers["use_fastapi"] == "yes":
        files |= {
            f"{src}/serving/{name}"
            for name in (
                "__init__.py",
                "app.py",
                "client.py",
                "drift.py",
                "model.py",
                "predictionlog.py",
                "schemas.py",
                "settings.py",
            )
        }
        files |= {
            f"tests/serving/{name}"
            for name in (
                "__init__.py",
                "conftest.py",
                "conformance.py",
                "test_app.py",
                "test_client.py",
                "test_docs.py",
                "test_model.py",
                "test_other_contract.py",
                "test_predictionlog.py",
                "test_schemas.py",
                "test_settings.py",
            )
        }
        files |= {"benchmarks/serving.py", "tests/test_benchmarks.py"}
        # Issue 10, monitoring: the prediction log's reader and `make monitor`.
        files |= {
            f"{src}/predictionlog.py",
            f"{src}/monitor.py",
            "conf/monitor/default.yaml",
            "tests/test_predictionlog.py",
            "tests/test_monitor.py",
        }
        # Issue 10, operations: canary analysis, Prometheus rules, Grafana dashboard.
        files |= {f"{src}/canary.py", "tests/test_canary.py"}
        files |= {
            f"deploy/monitoring/{name}"
            for name in (
                "prometheus.yml",
                "alerts.yml",
                "alerts.test.yml",
                "grafana/provisioning/datasources/prometheus.yml",
                "grafana/provisioning/dashboards/dashboards.yml",
                "grafana/dashboards/service.json",
            )
        }
    if answers["use_locust"] == "yes":
        files |= {"loadtests/locustfile.py"}
    if answers["use_docker"] == "yes":
        files |= {"Dockerfile", ".dockerignore", "docker-compose.yml"}
    if answers["use_dvc"] == "yes":
        files |= {
            ".dvc/.gitignore",
            ".dvc/config",
            ".dvcignore",
            "dvc.yaml",
            "params.yaml",
            "data/.gitignore",
            "models/.gitignore",
            "reports/.gitignore",
            "tests/test_params.py",
        }
    if answers["use_onnx"] == "yes":
        files |= {
            f"{src}/export.py",
            "tests/test_export.py",
            "edge/README.md",
            "edge/predict.py",
            "edge/requirements.txt",
            "benchmarks/onnx_latency.py",
        }
    if answers["use_spark"] == "yes":
        files |= {f"{src}/spark.py", "tests/test_spark.py"}
    files |= _ci_cd_files(answers)
    return files


def _ci_cd_files(answers: dict) -> set[str]:
    """GitHub Actions and Dependabot files; Kubernetes manifests with Docker."""
    docker = answers["use_docker"] == "yes"
    files = set()
    if answers["use_github_actions"] == "yes":
        workflows = {"ci.yml", "retrain.yml"} | (
            {"cd.yml", "rollback.yml"} if docker else set()
        )
        files |= {f".github/workflows/{name}" for name in workflows}
        files |= {".github/dependabot.yml", ".github/zizmor.yml"}
        # retrain.yml compares metrics with it without DVC (`dvc metrics diff` with);
        # cd.yml names the image's model with the other.
        if answers["use_dvc"] == "no":
            files.add(".github/scripts/compare_metrics.py")
        if docker:
            files.add(".github/scripts/model_identity.py")
        if answers["use_fastapi"] == "yes":
            files |= {
                ".github/workflows/monitor.yml",
                ".github/scripts/fetch_prediction_log.sh",
            }
    if docker:
        files |= {
            f"deploy/k8s/{name}"
            for name in (
                "deploy.sh",
                "base/kustomization.yaml",
                "base/hpa.yaml",
                "base/pdb.yaml",
                "base/service.yaml",
                "base/workload/kustomization.yaml",
                "base/workload/deployment.yaml",
                "base/workload/ship-prediction-log.sh",
                "overlays/staging/kustomization.yaml",
                "overlays/production/kustomization.yaml",
                "overlays/production/canary/kustomization.yaml",
                "blue-green/kustomization.yaml",
                "blue-green/service.yaml",
                "blue-green/blue/kustomization.yaml",
                "blue-green/green/kustomization.yaml",
            )
        }
    return files


def _derive_package(answers: dict) -> str:
    """package_name as cookiecutter.json derives it from project_name."""
    slug = answers.get("project_slug") or (
        answers["project_name"].lower().strip().replace(" ", "-").replace("_", "-")
    )
    return slug.replace("-", "_").replace(".", "_")


def run(cmd: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, capturing its output as text."""
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, encoding="utf-8", **kwargs
    )
