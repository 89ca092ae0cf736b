"""The Tekton pipeline that qualifies a renderer checkpoint (deploy/tekton), checked offline: every file parses and
matches Tekton's v1 structure, every reference resolves the way Tekton's admission webhook and controller would
demand (deploy/tekton/check.py), a broken copy fails with a message naming the break, and every step script of the
project's own Tasks runs here, as its Task runs it, against local stand-ins: the quality gate on the builtin backend,
publish against moto's S3 server, promote against an HTTP server on 127.0.0.1, build against a stand-in buildah.
The catalog's git-clone is not run (its interface is declared in check.py's REMOTE_TASKS)."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
TEKTON = ROOT / "deploy" / "tekton"
RUN_UID = "0b6f6a9e-6c55-4bd2-9d43-2f7f3c1f0a11"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"tekton_{name}", TEKTON / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


check = _module("check")
sync_scripts = _module("sync_scripts")


def documents(root: Path = TEKTON) -> list[tuple[Path, dict]]:
    return [
        (path, body) for path in sorted(root.rglob("*.yaml")) for body in yaml.safe_load_all(path.read_text()) if body
    ]


def task(name: str) -> dict:
    return yaml.safe_load((TEKTON / "tasks" / f"{name}.yaml").read_text())


def pipeline() -> dict:
    return yaml.safe_load((TEKTON / "pipeline.yaml").read_text())


# ---- the files


def test_every_file_parses_with_the_api_version_the_issue_asks_for():
    kinds = {}
    for path, body in documents():
        if body["kind"] == "Kustomization":
            continue
        kinds.setdefault(body["kind"], []).append(body["metadata"].get("name") or body["metadata"]["generateName"])
        if body["kind"] in ("Task", "Pipeline", "PipelineRun"):
            assert body["apiVersion"] == "tekton.dev/v1", path
        if body["kind"] in ("EventListener", "TriggerBinding", "TriggerTemplate"):
            assert body["apiVersion"] == "triggers.tekton.dev/v1beta1", path
    assert sorted(kinds["Task"]) == [
        "sonic-portal-build",
        "sonic-portal-cleanup",
        "sonic-portal-gate-failed",
        "sonic-portal-promote",
        "sonic-portal-publish",
        "sonic-portal-qualify",
    ]
    assert kinds["Pipeline"] == ["sonic-portal-qualify"]
    assert sorted(kinds["PipelineRun"]) == ["qualify-builtin-", "qualify-sonic-"]
    assert len(kinds["EventListener"]) == len(kinds["TriggerBinding"]) == len(kinds["TriggerTemplate"]) == 1
    assert "Secret" not in kinds, "credentials are never committed: the PipelineRuns bind Secrets made by hand"


def test_the_pipeline_has_no_problem_tekton_would_refuse():
    problems = check.check()
    assert problems == [], "\n".join(problems)


def test_the_command_line_check_exits_non_zero_and_names_the_problem(tmp_path):
    clean = subprocess.run([sys.executable, str(TEKTON / "check.py")], capture_output=True, text=True)
    assert clean.returncode == 0 and "no problems" in clean.stdout, clean.stdout + clean.stderr
    broken = copy_with(tmp_path, "pipeline.yaml", "value: $(params.backend)", "value: $(params.backnd)")
    refused = subprocess.run([sys.executable, str(TEKTON / "check.py"), str(broken)], capture_output=True, text=True)
    assert refused.returncode == 1
    assert (
        "pipeline.yaml: Pipeline/sonic-portal-qualify task 'qualify': params[1].value: $(params.backnd) names "
        "param 'backnd', which the pipeline does not declare" in refused.stdout
    ), refused.stdout


def test_each_inline_script_is_its_file():
    assert sync_scripts.stale() == [], "run python deploy/tekton/sync_scripts.py"
    marked = 0
    for path in sorted((TEKTON / "tasks").glob("*.yaml")):
        text = path.read_text()
        for step, marker in zip(
            yaml.safe_load(text)["spec"]["steps"], re.findall(r"# file: (scripts/\S+)", text), strict=True
        ):
            assert step["script"] == (TEKTON / marker).read_text(), path
            marked += 1
    assert marked == 6, "every step of the project's Tasks runs a file that a test below runs"


def test_kustomization_applies_everything_but_the_examples():
    listed = set(yaml.safe_load((TEKTON / "kustomization.yaml").read_text())["resources"])
    present = {
        str(path.relative_to(TEKTON))
        for path in TEKTON.rglob("*.yaml")
        if path.name != "kustomization.yaml" and "examples" not in path.parts
    }
    assert listed == present
    if shutil.which("kubectl"):
        built = subprocess.run(["kubectl", "kustomize", str(TEKTON)], capture_output=True, text=True)
        assert built.returncode == 0, built.stderr
        rendered = [doc for doc in yaml.safe_load_all(built.stdout) if doc["kind"] != "ClusterRoleBinding"]
        assert {doc["metadata"].get("namespace") for doc in rendered} == {"sonic-portal"}


def test_promotion_waits_for_the_gate_and_its_figures():
    tasks = {t["name"]: t for t in pipeline()["spec"]["tasks"]}
    assert list(tasks) == ["fetch-source", "build", "qualify", "publish", "promote", "gate-failed"]
    assert tasks["fetch-source"]["taskRef"]["resolver"] == "git"
    assert tasks["promote"]["when"] == [
        {"input": "$(tasks.qualify.results.passed)", "operator": "in", "values": ["true"]}
    ]
    assert tasks["gate-failed"]["when"][0]["operator"] == "notin"
    figures = {p["name"]: p["value"] for p in tasks["promote"]["params"]}
    for name in ("duration-error-ms", "offset-frames", "sync-correlation", "cases-passed", "cases-total"):
        assert figures[name] == f"$(tasks.qualify.results.{name})"
    assert figures["report-url"] == "$(tasks.publish.results.report-url)"
    assert {p["name"]: p["value"] for p in tasks["qualify"]["params"]}[
        "image"
    ] == "$(tasks.build.results.IMAGE_URL)@$(tasks.build.results.IMAGE_DIGEST)"


def test_sonic_runs_on_a_gpu_and_builtin_on_cpu():
    runs = {body["metadata"]["generateName"]: body for _, body in documents() if body["kind"] == "PipelineRun"}
    template = yaml.safe_load_all((TEKTON / "triggers" / "trigger.yaml").read_text())
    runs["trigger"] = next(doc for doc in template if doc["kind"] == "TriggerTemplate")["spec"]["resourcetemplates"][0]
    for name, run in runs.items():
        backend = {p["name"]: p["value"] for p in run["spec"]["params"]}["backend"]
        qualify = next(s for s in run["spec"]["taskRunSpecs"] if s["pipelineTaskName"] == "qualify")
        gpus = qualify.get("computeResources", {}).get("limits", {}).get("nvidia.com/gpu", 0)
        assert (backend, gpus) in (("sonic", 1), ("builtin", 0)), name
    assert {p["name"]: p["value"] for p in runs["trigger"]["spec"]["params"]}["backend"] == "sonic"


# ---- broken copies fail, naming what broke


def copy_with(tmp_path: Path, file: str, old: str, new: str) -> Path:
    root = tmp_path / "tekton"
    shutil.copytree(TEKTON, root)
    text = (root / file).read_text()
    assert old in text, f"{old!r} is not in {file}"
    (root / file).write_text(text.replace(old, new, 1))
    return root


BREAKS = {
    "undeclared param": (
        "pipeline.yaml",
        "value: $(params.backend)",
        "value: $(params.backnd)",
        "$(params.backnd) names param 'backnd', which the pipeline does not declare",
    ),
    "when input no task produces": (
        "pipeline.yaml",
        "- input: $(tasks.qualify.results.passed)\n          operator: in",
        "- input: $(tasks.qualify.results.pass)\n          operator: in",
        "task 'promote': when[0].input: $(tasks.qualify.results.pass): task 'qualify' (Task sonic-portal-qualify) "
        "produces no result 'pass'",
    ),
    "when input from a task that does not exist": (
        "pipeline.yaml",
        "- input: $(tasks.qualify.results.passed)\n          operator: notin",
        "- input: $(tasks.qualfy.results.passed)\n          operator: notin",
        "task 'gate-failed': when[0].input: $(tasks.qualfy.results.passed) names task 'qualfy', which is no task",
    ),
    "misspelled task in runAfter": (
        "pipeline.yaml",
        "runAfter:\n        - qualify",
        "runAfter:\n        - qualfy",
        "task 'publish': runAfter names 'qualfy', which is no task of the pipeline",
    ),
    "task workspace not bound": (
        "pipeline.yaml",
        "        - name: s3-credentials\n          workspace: s3-credentials\n",
        "",
        "task 'publish': does not bind workspace 's3-credentials', which Task sonic-portal-publish requires",
    ),
    "pipeline workspace missing": (
        "pipeline.yaml",
        "    - name: portal-credentials\n      description:",
        "    - name: portal-creds\n      description:",
        "workspace 'portal-credentials' is bound to 'portal-credentials', which the pipeline does not declare",
    ),
    "param the Task does not declare": (
        "pipeline.yaml",
        "        - name: report-base-url\n          value: $(params.report-base-url)",
        "        - name: report-url\n          value: $(params.report-base-url)",
        "task 'publish': passes param 'report-url', which Task sonic-portal-publish does not declare",
    ),
    "required Task param not passed": (
        "pipeline.yaml",
        "        - name: bucket\n          value: $(params.report-bucket)\n",
        "",
        "task 'publish': does not pass param 'bucket', which Task sonic-portal-publish requires",
    ),
    "result the Task does not write": (
        "tasks/publish.yaml",
        "value: $(results.report-url.path)",
        "value: /tmp/report-url",
        "declares result 'report-url', but no step writes $(results.report-url.path)",
    ),
    "undeclared workspace in a step": (
        "tasks/publish.yaml",
        "value: $(workspaces.s3-credentials.path)",
        "value: $(workspaces.s3.path)",
        "uses $(workspaces.s3.path), but the Task declares no such workspace",
    ),
    "unknown field": (
        "tasks/qualify.yaml",
        "      workingDir: /app\n",
        "      workingDir: /app\n      resources: {}\n",
        "spec.steps.0: Additional properties are not allowed ('resources' was unexpected)",
    ),
    "v1beta1": (
        "pipeline.yaml",
        "apiVersion: tekton.dev/v1",
        "apiVersion: tekton.dev/v1beta1",
        "apiVersion is 'tekton.dev/v1beta1'; this project writes Pipeline as 'tekton.dev/v1'",
    ),
    "run without a required param": (
        "examples/pipelinerun-builtin.yaml",
        "    - name: portal-url\n      value: https://portal.example.com\n",
        "",
        "PipelineRun/qualify-builtin-: does not give param 'portal-url', which pipeline sonic-portal-qualify requires",
    ),
    "run without a workspace": (
        "examples/pipelinerun-builtin.yaml",
        "    - name: s3-credentials\n      secret:\n        secretName: sonic-portal-qualify-s3\n",
        "",
        "does not bind workspace 's3-credentials', which pipeline sonic-portal-qualify requires",
    ),
    "credentials not from a Secret": (
        "examples/pipelinerun-builtin.yaml",
        "      secret:\n        secretName: sonic-portal-qualify-promoter",
        "      emptyDir: {}",
        "workspace 'portal-credentials' holds credentials: bind it to a Kubernetes Secret",
    ),
    "sonic without a GPU": (
        "triggers/trigger.yaml",
        "                nvidia.com/gpu: 1\n",
        "",
        "TriggerTemplate/sonic-portal-qualify-sonic resourcetemplates[0]: qualifies sonic without a GPU",
    ),
    "sonic in the cpu image": (
        "examples/pipelinerun-sonic.yaml",
        "    - name: variant\n      value: gpu\n",
        "",
        "PipelineRun/qualify-sonic-: qualifies sonic in the cpu image: give param variant gpu",
    ),
    "sonic weights missing": (
        "examples/pipelinerun-sonic.yaml",
        "          - name: sonic-model\n",
        "          - name: sonic-models\n",
        "task 'qualify' mounts volume 'sonic-model', which neither its Task nor this run's pod template provides",
    ),
    "two PVCs in one TaskRun": (
        "examples/pipelinerun-builtin.yaml",
        "      secret:\n        secretName: sonic-portal-registry\n"
        "        items:\n          - key: .dockerconfigjson\n            path: config.json",
        "      persistentVolumeClaim:\n        claimName: registry-cache",
        "task 'build' would mount 2 PersistentVolumeClaims",
    ),
    "undeclared trigger template param": (
        "triggers/trigger.yaml",
        "value: $(tt.params.revision)",
        "value: $(tt.params.commit)",
        "uses $(tt.params.commit), but the TriggerTemplate declares no such param",
    ),
    "binding misses a template param": (
        "triggers/trigger.yaml",
        "    - name: repo-url\n      value: $(body.repository.clone_url)\n",
        "",
        "no binding gives param 'repo-url', which template sonic-portal-qualify-sonic requires",
    ),
    "webhook secret not checked": (
        "triggers/trigger.yaml",
        "                secretName: sonic-portal-github-webhook\n",
        "",
        "the github interceptor needs secretRef (secretName, secretKey)",
    ),
    "script out of sync": (
        "scripts/promote.py",
        "TIMEOUT_SECONDS = 30",
        "TIMEOUT_SECONDS = 31",
        "tasks/promote.yaml: its inline script differs from scripts/promote.py: run python "
        "deploy/tekton/sync_scripts.py",
    ),
    "cycle": (
        "pipeline.yaml",
        "    - name: build\n      taskRef:",
        "    - name: build\n      runAfter: [publish]\n      taskRef:",
        "tasks depend on each other in a cycle",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", BREAKS)
def test_a_broken_copy_fails_naming_the_problem(tmp_path, kind):
    file, old, new, expected = BREAKS[kind]
    problems = check.check(copy_with(tmp_path, file, old, new))
    assert any(expected in problem for problem in problems), "\n".join(problems) or "no problem found"


def test_unparsable_yaml_fails_with_the_file_name(tmp_path):
    root = copy_with(tmp_path, "tasks/promote.yaml", "  params:\n", "  params: [\n")
    problems = check.check(root)
    assert any(problem.startswith("tasks/promote.yaml: is not valid YAML (line ") for problem in problems), problems


# ---- the step scripts, run as their Tasks run them


def substitute(text: str, values: dict[str, str]) -> str:
    """Tekton's variable substitution: $(params.x), $(results.x.path), ... from values; none may be left."""
    for key, value in values.items():
        text = text.replace(f"$({key})", value)
    left = [match[0] for match in check.VARIABLE.finditer(text)]
    assert not left, f"not substituted: {left}"
    return text


def run_step(task_name: str, tmp_path: Path, params: dict, workspaces: dict, extra_env=None, timeout=120):
    """Run the Task's (only) step: its script and env, with the Task's variables resolved to files in tmp_path."""
    spec = task(task_name)["spec"]
    values = {}
    for param in spec.get("params", []):
        assert param["name"] in params or "default" in param, f"required param {param['name']} not given"
        values[f"params.{param['name']}"] = params.get(param["name"], param.get("default"))
    for name in workspaces:
        values[f"workspaces.{name}.path"] = str(workspaces[name])
    results = tmp_path / "tekton-results"
    results.mkdir(exist_ok=True)
    for result in spec.get("results", []):
        values[f"results.{result['name']}.path"] = str(results / result["name"])
    step = spec["steps"][0]
    script = tmp_path / f"{task_name}-step"
    script.write_text(substitute(step["script"], values))
    interpreter = {"#!/usr/bin/env python3": [sys.executable], "#!/bin/sh": ["sh"], "#!/usr/bin/env bash": ["bash"]}[
        step["script"].splitlines()[0]
    ]
    env = {
        **os.environ,
        **{item["name"]: substitute(item["value"], values) for item in step.get("env", [])},
        **(extra_env or {}),
    }
    done = subprocess.run(
        [*interpreter, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    written = {path.name: path.read_text() for path in results.iterdir()}
    return done, written


@pytest.mark.slow
def test_qualify_step_runs_the_gate_on_builtin_and_writes_its_results(tmp_path):
    reports = tmp_path / "reports"
    done, results = run_step(
        "qualify",
        tmp_path,
        {
            "image": "unused",
            "backend": "builtin",
            "resolution": "256",
            "cases": "fast_speech,very_short",
            "revision": "abc123",
            "pipeline-run": "qualify-builtin-x",
        },
        {"reports": reports},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    declared = [result["name"] for result in task("qualify")["spec"]["results"]]
    assert sorted(results) == sorted(declared), "every result the Task declares is written"
    assert results["passed"] == "true" and results["backend"] == "builtin"
    assert results["cases-passed"] == results["cases-total"] == "2"
    assert abs(float(results["offset-frames"])) <= 1 and float(results["sync-correlation"]) >= 0.6
    float(results["duration-error-ms"])
    assert results["renderer-version"] and results["checkpoint-digest"]
    summary = json.loads((reports / "report" / "results.json").read_text())
    assert summary["passed"] is True and summary["figures"]["cases_total"] == 2
    assert summary["revision"] == "abc123" and summary["pipeline_run"] == "qualify-builtin-x"
    for name in ("report.html", "report.json", "contact_sheet.png", "videos/fast_speech.mp4", "plots/very_short.png"):
        assert (reports / "report" / name).is_file(), name


def test_qualify_step_refuses_sonic_without_its_weights(tmp_path):
    empty = tmp_path / "models"
    empty.mkdir()
    done, results = run_step(
        "qualify",
        tmp_path,
        {"image": "unused", "backend": "sonic"},
        {"reports": tmp_path / "reports"},
        extra_env={"MODEL_DIR": str(empty)},
    )
    assert done.returncode == 2 and results == {}
    assert f"the Sonic checkout is not at {empty}/Sonic" in done.stderr and "sonic-model" in done.stderr


@pytest.fixture
def s3():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    client.create_bucket(Bucket="qualify-reports")
    yield endpoint, client
    server.stop()


def report_files(directory: Path) -> dict[str, str]:
    """A report as qualify leaves it, with the content type each file must be served with."""
    files = {
        "report.html": "text/html; charset=utf-8",
        "results.json": "application/json",
        "report.json": "application/json",
        "contact_sheet.png": "image/png",
        "plots/normal_speech.png": "image/png",
        "videos/normal_speech.mp4": "video/mp4",
        "videos/normal_speech.poster.jpg": "image/jpeg",
        "inputs/normal_speech.wav": "audio/wav",
    }
    for name in files:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(b"<html>report</html>" if name == "report.html" else name.encode())
    return files


def credentials(directory: Path, endpoint: str) -> Path:
    directory.mkdir()
    for name, value in (
        ("access-key-id", "test"),
        ("secret-access-key", "test"),
        ("endpoint-url", endpoint),
        ("region", "us-east-1"),
    ):
        (directory / name).write_text(value + "\n")
    return directory


@pytest.mark.slow
def test_publish_step_uploads_every_file_with_its_content_type(tmp_path, s3):
    endpoint, client = s3
    reports = tmp_path / "reports"
    files = report_files(reports / "report")
    done, results = run_step(
        "publish",
        tmp_path,
        {"image": "unused", "bucket": "qualify-reports", "prefix": f"qualify/{RUN_UID}"},
        {"reports": reports, "s3-credentials": credentials(tmp_path / "s3", endpoint)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name, content_type in files.items():
        head = client.head_object(Bucket="qualify-reports", Key=f"qualify/{RUN_UID}/{name}")
        assert head["ContentType"] == content_type, name
    listed = client.list_objects_v2(Bucket="qualify-reports")["Contents"]
    assert len(listed) == len(files)
    assert results == {"report-url": f"{endpoint}/qualify-reports/qualify/{RUN_UID}/report.html"}
    page = client.get_object(Bucket="qualify-reports", Key=f"qualify/{RUN_UID}/report.html")
    assert page["Body"].read() == b"<html>report</html>"


def test_publish_step_names_the_public_url_and_refuses_an_empty_report(tmp_path, s3):
    endpoint, _ = s3
    reports = tmp_path / "reports"
    report_files(reports / "report")
    secret = credentials(tmp_path / "s3", endpoint)
    params = {
        "image": "unused",
        "bucket": "qualify-reports",
        "prefix": f"qualify/{RUN_UID}",
        "report-base-url": "https://reports.example.com/",
    }
    done, results = run_step("publish", tmp_path, params, {"reports": reports, "s3-credentials": secret})
    assert done.returncode == 0, done.stderr
    assert results["report-url"] == f"https://reports.example.com/qualify/{RUN_UID}/report.html"
    (reports / "report" / "report.html").unlink()
    done, _ = run_step("publish", tmp_path, params, {"reports": reports, "s3-credentials": secret})
    assert done.returncode == 2 and "has no report.html: nothing to publish" in done.stderr


class Portal(ThreadingHTTPServer):
    """The portal's checkpoint registry, as far as the promote step sees it: records requests, answers as told."""

    def __init__(self, status: int, answer: dict, location: str = ""):
        self.status, self.answer, self.location, self.requests = status, answer, location, []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler):  # noqa: N805
                length = int(handler.headers["Content-Length"])
                self.requests.append((handler.path, dict(handler.headers), json.loads(handler.rfile.read(length))))
                body = json.dumps(self.answer).encode()
                handler.send_response(self.status)
                if self.location:
                    handler.send_header("Location", self.location)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args):  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


PROMOTION = {
    "image": "unused",
    "backend": "sonic",
    "version": "sonic-cvpr2025",
    "digest": "sha256:" + "ab" * 32,
    "duration-error-ms": "12.5",
    "offset-frames": "1",
    "sync-correlation": "0.71",
    "cases-passed": "17",
    "cases-total": "17",
    "report-url": f"https://reports.example.com/qualify/{RUN_UID}/report.html",
    "pipeline-run": "qualify-sonic-push-x7k2p",
}


def promote(tmp_path: Path, portal_url: str, key: str = "staff-key-123"):
    secret = tmp_path / "portal"
    secret.mkdir(exist_ok=True)
    (secret / "api-key").write_text(key + "\n")
    return run_step("promote", tmp_path, {**PROMOTION, "portal-url": portal_url}, {"portal-credentials": secret})


@pytest.mark.parametrize(("status", "outcome"), [(201, "created"), (200, "already-recorded")])
def test_promote_step_records_the_checkpoint(tmp_path, status, outcome):
    portal = Portal(status, {"id": 4})
    try:
        done, results = promote(tmp_path, portal.url + "/")
    finally:
        portal.shutdown()
    assert done.returncode == 0, done.stdout + done.stderr
    assert results == {"outcome": outcome}
    [(path, headers, body)] = portal.requests
    assert path == "/api/v1/checkpoints/"
    assert headers["Authorization"] == "Bearer staff-key-123" and headers["Content-Type"] == "application/json"
    assert body == {
        "backend": "sonic",
        "version": "sonic-cvpr2025",
        "digest": "sha256:" + "ab" * 32,
        "figures": {
            "duration_error_ms": 12.5,
            "offset_frames": 1.0,
            "sync_correlation": 0.71,
            "cases_passed": 17,
            "cases_total": 17,
        },
        "report_url": PROMOTION["report-url"],
        "pipeline_run": "qualify-sonic-push-x7k2p",
    }


def test_promote_step_fails_with_the_portals_message(tmp_path):
    portal = Portal(
        400, {"error": {"code": "checkpoint_conflict", "message": "sonic-cvpr2025 was promoted with other weights"}}
    )
    try:
        done, results = promote(tmp_path, portal.url)
    finally:
        portal.shutdown()
    assert done.returncode == 1 and results == {}
    assert "HTTP 400 checkpoint_conflict: sonic-cvpr2025 was promoted with other weights" in done.stderr


def test_promote_step_follows_no_redirect_and_sends_the_key_only_over_tls(tmp_path):
    portal = Portal(302, {}, location="http://127.0.0.1:9/elsewhere")
    try:
        done, _ = promote(tmp_path, portal.url)
    finally:
        portal.shutdown()
    assert done.returncode == 1 and "redirected to http://127.0.0.1:9/elsewhere" in done.stderr
    assert len(portal.requests) == 1
    done, _ = promote(tmp_path, "http://portal.example.com")
    assert done.returncode == 2 and "is not https: the API key is only sent over TLS" in done.stderr


@pytest.mark.django_db(transaction=True)
def test_promote_step_against_the_portal_itself(tmp_path, live_server):
    """The same script, against the real POST /api/v1/checkpoints/ of a live portal on 127.0.0.1."""
    from django.contrib.auth.models import Permission

    from portal.api import keys
    from portal.checkpoints.models import Checkpoint
    from tests.factories import make_user

    account = make_user("qualify-pipeline@example.com")
    account.is_staff = True
    account.save()
    account.user_permissions.add(Permission.objects.get(codename="add_checkpoint"))
    _, key = keys.create(account, "tekton promote")
    done, results = promote(tmp_path, live_server.url, key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert results == {"outcome": "created"}
    checkpoint = Checkpoint.objects.get()
    assert (checkpoint.backend, checkpoint.version, checkpoint.cases_passed, checkpoint.pipeline_run) == (
        "sonic",
        "sonic-cvpr2025",
        17,
        "qualify-sonic-push-x7k2p",
    )
    assert checkpoint.promoted_by == account and checkpoint.report_url == PROMOTION["report-url"]
    done, results = promote(tmp_path, live_server.url, key)
    assert done.returncode == 0 and results == {"outcome": "already-recorded"}
    done, _ = promote(tmp_path, live_server.url, "not-a-key")
    assert done.returncode == 1 and "HTTP 401 invalid_api_key: The API key is not valid." in done.stderr, done.stderr


def test_gate_failed_step_fails_the_run_with_the_figures(tmp_path):
    done, _ = run_step(
        "gate-failed",
        tmp_path,
        {
            "image": "unused",
            "backend": "sonic",
            "version": "sonic-x",
            "cases-passed": "15",
            "cases-total": "17",
            "report-url": "https://reports.example.com/r.html",
        },
        {},
    )
    assert done.returncode == 1
    assert "quality gate FAILED for sonic sonic-x: 15/17 cases passed; not promoted." in done.stderr
    assert "report: https://reports.example.com/r.html" in done.stderr


def test_cleanup_step_removes_its_run_only(tmp_path):
    runs = tmp_path / "runs"
    (runs / RUN_UID / "source").mkdir(parents=True)
    (runs / RUN_UID / "source" / "README.md").write_text("x")
    (runs / "another-run").mkdir()
    done, _ = run_step("cleanup", tmp_path, {"run-uid": RUN_UID}, {"runs": runs})
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in runs.iterdir()) == ["another-run"]
    done, _ = run_step("cleanup", tmp_path, {"run-uid": ".."}, {"runs": runs})
    assert done.returncode == 2 and runs.is_dir()


BUILDAH = """#!/bin/sh
# Stands in for buildah: records its arguments, and as `push --digestfile F` writes a digest to F.
printf '%s\\n' "$*" >> "$BUILDAH_LOG"
while [ $# -gt 0 ]; do
  if [ "$1" = --digestfile ]; then printf 'sha256:%064d\\n' 7 > "$2"; fi
  shift
done
"""


def test_build_step_builds_the_containerfile_and_pushes_by_digest(tmp_path):
    bin_dir, source, registry = tmp_path / "bin", tmp_path / "source", tmp_path / "registry"
    for directory in (bin_dir, source, registry):
        directory.mkdir()
    (bin_dir / "buildah").write_text(BUILDAH)
    (bin_dir / "buildah").chmod(0o755)
    (registry / "config.json").write_text('{"auths": {}}')
    image = "registry.example.com/sonic-portal:5e5aef8"
    done, results = run_step(
        "build",
        tmp_path,
        {
            "IMAGE": image,
            "BASE_IMAGE": "registry.example.com/sonic-portal-base@sha256:" + "1" * 64,
            "WHEELS_IMAGE": "registry.example.com/sonic-portal-wheels@sha256:" + "2" * 64,
            "REVISION": "5e5aef8",
            "SOURCE_URL": "https://github.com/example/sonic-portal.git",
        },
        {"source": source, "cache": tmp_path / "cache", "dockerconfig": registry},
        extra_env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "BUILDAH_LOG": str(tmp_path / "buildah.log")},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert results == {"IMAGE_DIGEST": "sha256:" + "0" * 63 + "7", "IMAGE_URL": image}
    bud, push = (tmp_path / "buildah.log").read_text().splitlines()
    authfile = f"--authfile {registry}/config.json"
    assert bud.startswith("--storage-driver overlay bud ") and bud.endswith(f"-t {image} .")
    for argument in (
        "-f deploy/image/Containerfile",
        "--layers",
        authfile,
        "--build-context wheels=container-image://registry.example.com/sonic-portal-wheels@sha256:",
        "--build-arg BASE_IMAGE=registry.example.com/sonic-portal-base@sha256:",
        "--build-arg VARIANT=cpu",
        "--build-arg REVISION=5e5aef8",
    ):
        assert argument in bud, argument
    assert push.startswith("--storage-driver overlay push ") and authfile in push
    assert push.endswith(f"{image} docker://{image}")
