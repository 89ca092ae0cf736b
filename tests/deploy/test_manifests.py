"""The Kubernetes manifests (deploy/): every overlay renders with `kubectl kustomize`, every object is valid for the
named Kubernetes version (and KEDA's objects for KEDA's CRDs), a broken copy fails the same check, and what the
manifests run agrees with the code: the Procfile's commands, a worker and a ScaledObject for every queue the code
declares, the README's body-size limits, grace periods long enough for a stopping worker to hand back its part."""

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from portal import queue
from portal.management.commands.render_worker import HAND_BACK_SECONDS, Command, worker_queues

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KEDA_VALIDATOR = DEPLOY / "schemas" / "keda" / "validate.mjs"
# The Kubernetes release the manifests are written for (docs/deploy.md says so too).
KUBERNETES_VERSION = "1.33.0"
OVERLAYS = ["base", "overlays/small", "overlays/production"]
WORKLOADS = {"Deployment", "Job", "CronJob"}

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) is not installed")


def render(overlay: str, root: Path = DEPLOY) -> list[dict]:
    built = subprocess.run(["kubectl", "kustomize", str(root / overlay)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return [document for document in yaml.safe_load_all(built.stdout) if document]


def problems(objects: list[dict]) -> list[str]:
    """What is wrong with these objects: Kubernetes' schemas (strict: unknown fields too) and KEDA's."""
    found = []
    for thing in objects:
        if thing["apiVersion"].startswith("keda.sh/"):
            continue
        try:
            kubernetes_validate.validate(thing, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            found.append(f"{thing['kind']}/{thing['metadata']['name']}: {error.message} at {list(error.path)}")
    assert shutil.which("node"), "Node.js runs KEDA's schema check (deploy/schemas/keda)"
    assert (KEDA_VALIDATOR.parent / "node_modules").exists(), "`make test` installs it: npm ci in deploy/schemas/keda"
    checked = subprocess.run(["node", str(KEDA_VALIDATOR)], input=json.dumps(objects), capture_output=True, text=True)
    keda = [line for line in checked.stdout.splitlines() if line.startswith("invalid")]
    assert checked.returncode == (1 if keda else 0), checked.stdout + checked.stderr
    found += keda
    return found


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))


def workloads(objects):
    """The portal's own Deployments and Jobs (not the observability bundle's collector)."""
    return [
        thing
        for thing in objects
        if thing["kind"] in WORKLOADS and thing["metadata"]["labels"].get("app.kubernetes.io/name") == "sonic-portal"
    ]


def pod(workload: dict) -> dict:
    spec = workload["spec"]["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else workload["spec"]
    return spec["template"]


def container(workload: dict) -> dict:
    (only,) = pod(workload)["spec"]["containers"]
    return only


def consumed_queues(workload: dict) -> list[str]:
    """The queues `render_worker` takes from with the options in this workload's command (none for other commands)."""
    line = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", container(workload)["command"][-1])  # ${X:-default}: the default
    words = shlex.split(line.split("exec ", 1)[-1])
    if words[:3] != ["python", "manage.py", "render_worker"]:
        return []
    options = Command().create_parser("manage.py", "render_worker").parse_args(words[3:])
    assert options.backends is not None, "a cluster's workers name their backends rather than guess from the machine"
    return worker_queues(
        options.backends,
        tier=options.tier,
        webhooks=not options.no_webhooks,
        upload_checks=not options.no_upload_checks,
    )


def config(objects) -> dict[str, str]:
    return next(
        thing for thing in objects if thing["kind"] == "ConfigMap" and thing["metadata"]["name"] == "portal-config"
    )["data"]


@pytest.mark.slow
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_for_kubernetes_and_keda(overlay):
    objects = render(overlay)
    assert problems(objects) == []
    assert not [thing for thing in objects if thing["kind"] == "Secret"], "secrets are the operator's, never here"


def test_a_broken_manifest_fails_the_check(tmp_path):
    broken = tmp_path / "deploy"
    shutil.copytree(DEPLOY, broken, ignore=shutil.ignore_patterns("node_modules"))
    worker = broken / "base" / "cpu-worker.yaml"
    text = worker.read_text()
    worker.write_text(
        text.replace("terminationGracePeriodSeconds:", "terminationGracePeriod:", 1).replace(
            "  minReplicaCount: 1", '  minReplicaCount: "one"', 1
        )
    )
    found = problems(render("overlays/production", broken))
    assert any(line.startswith("Deployment/cpu-worker") and "terminationGracePeriod" in line for line in found), found
    assert any(line.startswith("invalid ScaledObject/cpu-worker") and "minReplicaCount" in line for line in found), (
        found
    )


def test_a_broken_kustomization_fails_to_render(tmp_path):
    broken = tmp_path / "deploy"
    shutil.copytree(DEPLOY, broken, ignore=shutil.ignore_patterns("node_modules"))
    (broken / "base" / "web.yaml").write_text("kind: Deployment\nmetadata: [\n")
    built = subprocess.run(["kubectl", "kustomize", str(broken / "overlays" / "small")], capture_output=True, text=True)
    assert built.returncode != 0 and "web.yaml" in built.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_a_procfile_line_of_the_image(overlay):
    processes = procfile()
    for workload in workloads(render(overlay)):
        process = workload["metadata"]["labels"]["app.kubernetes.io/component"]
        assert process in processes, f"{workload['metadata']['name']}: no Procfile process {process!r}"
        assert container(workload)["command"] == ["sh", "-c", processes[process]], workload["metadata"]["name"]
        image = container(workload)["image"]
        assert image.startswith("localhost/sonic-portal:")
        assert image.endswith("-gpu") == (process == "gpu-worker"), "CUDA torch where Sonic renders, and only there"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_queue_in_use_has_workers_scaled_on_its_redis_lists(overlay):
    objects = render(overlay)
    settings = config(objects)
    namespace = settings["DRAMATIQ_NAMESPACE"]
    backends = settings["RENDER_BACKENDS"].split(",")
    in_use = {name for backend in backends for name in worker_queues([backend], webhooks=False, upload_checks=False)}
    in_use |= {queue.WEBHOOK_QUEUE, queue.UPLOAD_CHECK_QUEUE}
    assert in_use <= set(queue.queue_names())

    consumers = {thing["metadata"]["name"]: consumed_queues(thing) for thing in workloads(objects)}
    scaled = {thing["spec"]["scaleTargetRef"]["name"]: thing for thing in objects if thing["kind"] == "ScaledObject"}
    for queue_name in in_use:
        assert any(queue_name in queues for queues in consumers.values()), f"no worker takes {queue_name}"
    for name, queues in consumers.items():
        if not queues:
            continue
        assert name in scaled, f"{name} has no ScaledObject"
        lists = {
            trigger["metadata"]["listName"]
            for trigger in scaled[name]["spec"]["triggers"]
            if trigger["type"] == "redis"
        }
        expected = {f"{namespace}:{queue}{suffix}" for queue in queues for suffix in ("", ".DQ")}
        assert lists == expected, name  # the waiting messages and the delayed ones (retries), of exactly its queues


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_backends_whose_workers_scale_to_zero_are_taken_with_none_running(overlay):
    """Else a Sonic job would be refused for want of a worker, and no worker would start for want of a job."""
    objects = render(overlay)
    on_demand = set(filter(None, config(objects).get("RENDER_BACKENDS_STARTED_ON_DEMAND", "").split(",")))
    enabled = set(config(objects)["RENDER_BACKENDS"].split(","))
    deployments = {thing["metadata"]["name"]: thing for thing in workloads(objects)}
    for scaled in (thing for thing in objects if thing["kind"] == "ScaledObject"):
        if scaled["spec"].get("minReplicaCount", 0) == 0:
            queues = consumed_queues(deployments[scaled["spec"]["scaleTargetRef"]["name"]])
            rendered = {queue.rsplit("-", 1)[0] for queue in queues}
            assert rendered & enabled <= on_demand, scaled["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_stopping_worker_has_time_to_hand_back_its_part(overlay):
    for workload in workloads(render(overlay)):
        if not consumed_queues(workload):
            continue
        env = {item["name"]: item["value"] for item in container(workload)["env"]}
        needed = float(env["WORKER_SHUTDOWN_SECONDS"]) + HAND_BACK_SECONDS + 10
        assert pod(workload)["spec"]["terminationGracePeriodSeconds"] >= needed


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_as_nobody_in_particular_on_a_read_only_root(overlay):
    for workload in workloads(render(overlay)):
        spec = pod(workload)["spec"]
        security = container(workload)["securityContext"]
        assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["runAsUser"] != 0
        assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
        assert security["capabilities"]["drop"] == ["ALL"]
        assert spec["automountServiceAccountToken"] is False
        mounts = {mount["mountPath"] for mount in container(workload)["volumeMounts"]}
        assert {"/app/var", "/tmp"} <= mounts, "the only places the processes write"
        assert {"configMapRef": {"name": "portal-config"}} in container(workload)["envFrom"]
        assert {"secretRef": {"name": "sonic-portal-secrets"}} in container(workload)["envFrom"]


def test_workers_take_no_inbound_traffic_but_the_metrics_scrape():
    objects = render("overlays/production")
    policies = [thing for thing in objects if thing["kind"] == "NetworkPolicy"]
    for workload in workloads(objects):
        labels = pod(workload)["metadata"]["labels"]
        applying = [
            policy for policy in policies if policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        assert any("ingress" not in policy["spec"] for policy in applying), "a deny-all applies to every pod"
        allowed = {
            port["port"] for policy in applying for rule in policy["spec"].get("ingress", []) for port in rule["ports"]
        }
        served = {port["name"] for port in container(workload).get("ports", [])}
        reachable = allowed & served
        assert reachable == ({"http"} if labels["app.kubernetes.io/component"] == "web" else served & {"metrics"})
        assert served <= {"http", "metrics"}


def test_the_ingress_limits_bodies_as_the_readme_tells_nginx_to():
    readme = (ROOT / "README.md").read_text()
    nginx = readme.split("```nginx", 1)[1].split("```", 1)[0]
    expected = {("/", "Prefix"): re.search(r"^client_max_body_size (\S+);", nginx, re.M)[1]}
    for exact, path, size in re.findall(r"^location (=)?\s*(\S+)\s*\{\s*client_max_body_size (\S+);", nginx, re.M):
        expected[(path, "Exact" if exact else "Prefix")] = size
    found = {}
    for ingress in (thing for thing in render("overlays/production") if thing["kind"] == "Ingress"):
        size = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
        for rule in ingress["spec"]["rules"]:
            assert rule["host"] == "studio.example.com"
            for path in rule["http"]["paths"]:
                found[(path["path"], path["pathType"])] = size
    assert found == expected


def test_the_images_default_command_is_the_procfiles_web_line():
    containerfile = (DEPLOY / "image" / "Containerfile").read_text()
    (command,) = re.findall(r"^CMD (\[.*\])$", containerfile, re.M)
    assert json.loads(command) == ["sh", "-c", procfile()["web"]]
    assert not re.search(r"^HEALTHCHECK", containerfile, re.M), "Kubernetes probes it"
    assert re.search(r"^USER 10001", containerfile, re.M), "not root"
