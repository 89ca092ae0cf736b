#!/usr/bin/env python3
"""Check deploy/tekton offline: what Tekton's admission webhook or controller would refuse, found before a cluster.

    python deploy/tekton/check.py [DIR]      # prints each problem; exit status 1 if there is one

Every YAML file must parse; every object must have the API version this project writes (tekton.dev/v1 for Task,
Pipeline and PipelineRun, triggers.tekton.dev/v1beta1 for the Triggers objects) and match a schema written from
Tekton's v1 types (unknown fields refused at every level Tekton defines; the Kubernetes types inside, such as a
step's env, resources and securityContext or a pod template, are checked against Kubernetes' own schemas by
kubernetes-validate, when it is installed). Then the references: in a Task, every $(params.X), $(results.X.path) and
$(workspaces.X.path) is declared and every declared result is written; in the Pipeline, every $(params.X) is a
Pipeline param, every $(tasks.T.results.R) (a `when` input too) names a task whose Task declares R, the params and
workspaces given to a Task are ones it declares and cover what it requires, runAfter names tasks, the graph has no
cycle; a PipelineRun (by hand, or made by a TriggerTemplate) gives every required param and binds every workspace
that is not optional, mounts at most one PersistentVolumeClaim per TaskRun (Tekton's affinity assistant refuses
more) and supplies the volumes a Task's steps mount without declaring; a TriggerTemplate's $(tt.params.X) are its
params and its triggers' bindings give the ones without a default. Project rules last: credentials only as
workspaces bound to Secrets, the built image passed by digest, a GPU for every sonic run and none for builtin.

Tasks from the Tekton catalog (through a resolver) are checked against the interface declared in REMOTE_TASKS.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent
KUBERNETES_VERSION = "1.33.0"  # as tests/deploy/test_manifests.py

API_VERSIONS = {
    "Task": "tekton.dev/v1",
    "Pipeline": "tekton.dev/v1",
    "PipelineRun": "tekton.dev/v1",
    "EventListener": "triggers.tekton.dev/v1beta1",
    "TriggerBinding": "triggers.tekton.dev/v1beta1",
    "TriggerTemplate": "triggers.tekton.dev/v1beta1",
    # Kubernetes' own objects beside them, validated by kubernetes-validate.
    "ServiceAccount": "v1",
    "PersistentVolumeClaim": "v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
    "Kustomization": "kustomize.config.k8s.io/v1beta1",
}
KUBERNETES_KINDS = {"ServiceAccount", "PersistentVolumeClaim", "RoleBinding", "ClusterRoleBinding"}
CLUSTER_INTERCEPTORS = {"github", "gitlab", "bitbucket", "cel", "slack"}
VOLUME_SOURCES = ("persistentVolumeClaim", "volumeClaimTemplate", "emptyDir", "configMap", "secret", "projected", "csi")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass
class Interface:
    """What a Task offers a Pipeline: params (name -> has a default), results, workspaces (name -> optional)."""

    name: str
    params: dict[str, bool]
    results: set[str]
    workspaces: dict[str, bool]
    volumes_needed: set[str] = field(default_factory=set)  # mounted by a step, declared by no volume of the Task


def _catalog(name, required, optional, results, workspaces, optional_workspaces):
    return Interface(
        name,
        {**dict.fromkeys(required, False), **dict.fromkeys(optional, True)},
        set(results),
        {**dict.fromkeys(workspaces, False), **dict.fromkeys(optional_workspaces, True)},
    )


# The catalog Tasks the Pipeline may take through a resolver, keyed by (name, version), as their YAML declares them.
REMOTE_TASKS = {
    # github.com/tektoncd/catalog task/git-clone/0.9/git-clone.yaml
    ("git-clone", "0.9"): _catalog(
        "git-clone 0.9",
        ["url"],
        [
            "revision",
            "refspec",
            "submodules",
            "depth",
            "sslVerify",
            "crtFileName",
            "subdirectory",
            "sparseCheckoutDirectories",
            "deleteExisting",
            "httpProxy",
            "httpsProxy",
            "noProxy",
            "verbose",
            "gitInitImage",
            "userHome",
        ],
        ["commit", "url", "committer-date"],
        ["output"],
        ["ssh-directory", "basic-auth", "ssl-ca-directory"],
    ),
    # github.com/tektoncd/catalog task/buildah/0.9/buildah.yaml
    ("buildah", "0.9"): _catalog(
        "buildah 0.9",
        ["IMAGE"],
        [
            "BUILDER_IMAGE",
            "STORAGE_DRIVER",
            "DOCKERFILE",
            "CONTEXT",
            "TLSVERIFY",
            "FORMAT",
            "BUILD_EXTRA_ARGS",
            "PUSH_EXTRA_ARGS",
            "SKIP_PUSH",
            "BUILD_ARGS",
        ],
        ["IMAGE_DIGEST", "IMAGE_URL"],
        ["source"],
        ["sslcertdir", "dockerconfig"],
    ),
}

# ---- schemas, from Tekton's v1 types (pkg/apis/pipeline/v1) and Triggers' v1beta1 types

STR, BOOL, INT = {"type": "string"}, {"type": "boolean"}, {"type": "integer"}
ANY_OBJECT = {"type": "object"}
K8S = {"type": "object"}  # a Kubernetes type: kubernetes-validate checks it (strict) where this module builds a Pod
STRMAP = {"type": "object", "additionalProperties": STR}
VALUE = {"type": ["string", "array", "object"]}
TYPE = {"enum": ["string", "array", "object"]}


def obj(required=(), **properties):
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


def arr(items, **extra):
    return {"type": "array", "items": items, **extra}


PARAM_SPEC = obj(["name"], name=STR, type=TYPE, description=STR, properties=ANY_OBJECT, default=VALUE, enum=arr(STR))
PARAM = obj(["name", "value"], name=STR, value=VALUE)
RESULT_SPEC = obj(["name"], name=STR, type=TYPE, description=STR, properties=ANY_OBJECT, value=VALUE)
WORKSPACE_DECLARATION = obj(["name"], name=STR, description=STR, mountPath=STR, readOnly=BOOL, optional=BOOL)
WHEN = obj([], input=STR, operator={"enum": ["in", "notin"]}, values=arr(STR), cel=STR)
OUTPUT_CONFIG = obj([], path=STR)
CONTAINER_FIELDS = dict(
    image=STR,
    command=arr(STR),
    args=arr(STR),
    workingDir=STR,
    envFrom=arr(K8S),
    env=arr(K8S),
    computeResources=K8S,
    volumeMounts=arr(K8S),
    volumeDevices=arr(K8S),
    imagePullPolicy={"enum": ["Always", "Never", "IfNotPresent"]},
    securityContext=K8S,
)
STEP = obj(
    [],
    name=STR,
    **CONTAINER_FIELDS,
    script=STR,
    timeout=STR,
    workspaces=arr(obj(["name"], name=STR, mountPath=STR)),
    onError={"enum": ["continue", "stopAndFail"]},
    stdoutConfig=OUTPUT_CONFIG,
    stderrConfig=OUTPUT_CONFIG,
    ref=obj(["name"], name=STR, resolver=STR, params=arr(PARAM)),
    params=arr(PARAM),
    results=arr(RESULT_SPEC),
    when=arr(WHEN),
)
STEP_TEMPLATE = obj([], **CONTAINER_FIELDS)
SIDECAR = obj(
    ["name"],
    name=STR,
    **CONTAINER_FIELDS,
    ports=arr(K8S),
    livenessProbe=K8S,
    readinessProbe=K8S,
    startupProbe=K8S,
    lifecycle=K8S,
    terminationMessagePath=STR,
    terminationMessagePolicy=STR,
    stdin=BOOL,
    stdinOnce=BOOL,
    tty=BOOL,
    script=STR,
    workspaces=arr(obj(["name"], name=STR, mountPath=STR)),
    restartPolicy=STR,
)
TASK_SPEC_FIELDS = dict(
    params=arr(PARAM_SPEC),
    displayName=STR,
    description=STR,
    steps=arr(STEP, minItems=1),
    volumes=arr(K8S),
    stepTemplate=STEP_TEMPLATE,
    sidecars=arr(SIDECAR),
    workspaces=arr(WORKSPACE_DECLARATION),
    results=arr(RESULT_SPEC),
)
TASK_SPEC = obj(["steps"], **TASK_SPEC_FIELDS)
REF = obj([], name=STR, kind=STR, apiVersion=STR, resolver=STR, params=arr(PARAM))
EMBEDDED_TASK = obj(
    [],
    apiVersion=STR,
    kind=STR,
    spec=ANY_OBJECT,
    metadata=obj([], labels=STRMAP, annotations=STRMAP),
    **TASK_SPEC_FIELDS,
)
PIPELINE_TASK = obj(
    ["name"],
    name=STR,
    displayName=STR,
    description=STR,
    taskRef=REF,
    taskSpec=EMBEDDED_TASK,
    when=arr(WHEN),
    retries=INT,
    runAfter=arr(STR),
    params=arr(PARAM),
    matrix=obj([], params=arr(PARAM), include=arr(obj(["params"], name=STR, params=arr(PARAM)))),
    workspaces=arr(obj(["name"], name=STR, workspace=STR, subPath=STR)),
    timeout=STR,
    pipelineRef=REF,
    pipelineSpec=ANY_OBJECT,
    onError={"enum": ["continue", "stopAndFail"]},
)
PIPELINE_SPEC = obj(
    [],
    displayName=STR,
    description=STR,
    tasks=arr(PIPELINE_TASK, minItems=1),
    params=arr(PARAM_SPEC),
    workspaces=arr(obj(["name"], name=STR, description=STR, optional=BOOL)),
    results=arr(obj(["name", "value"], name=STR, type=TYPE, description=STR, value=VALUE)),
    **{"finally": arr(PIPELINE_TASK)},
)
POD_TEMPLATE = obj(
    [],
    nodeSelector=STRMAP,
    env=arr(K8S),
    tolerations=arr(K8S),
    affinity=K8S,
    securityContext=K8S,
    volumes=arr(K8S),
    runtimeClassName=STR,
    automountServiceAccountToken=BOOL,
    dnsPolicy=STR,
    dnsConfig=K8S,
    enableServiceLinks=BOOL,
    priorityClassName=STR,
    schedulerName=STR,
    imagePullSecrets=arr(K8S),
    hostAliases=arr(K8S),
    hostNetwork=BOOL,
    topologySpreadConstraints=arr(K8S),
)
WORKSPACE_BINDING = obj(["name"], name=STR, subPath=STR, **dict.fromkeys(VOLUME_SOURCES, K8S))
TASK_METADATA = obj([], labels=STRMAP, annotations=STRMAP)
PIPELINE_RUN_SPEC = obj(
    [],
    pipelineRef=REF,
    pipelineSpec=PIPELINE_SPEC,
    params=arr(PARAM),
    status={"enum": ["Cancelled", "CancelledRunFinally", "StoppedRunFinally", "PipelineRunPending"]},
    timeouts=obj([], pipeline=STR, tasks=STR, **{"finally": STR}),
    taskRunTemplate=obj([], podTemplate=POD_TEMPLATE, serviceAccountName=STR),
    workspaces=arr(WORKSPACE_BINDING),
    taskRunSpecs=arr(
        obj(
            ["pipelineTaskName"],
            pipelineTaskName=STR,
            serviceAccountName=STR,
            podTemplate=POD_TEMPLATE,
            stepSpecs=arr(obj(["name"], name=STR, computeResources=K8S)),
            sidecarSpecs=arr(obj(["name"], name=STR, computeResources=K8S)),
            metadata=TASK_METADATA,
            computeResources=K8S,
            timeout=STR,
        )
    ),
    managedBy=STR,
)
TRIGGER_TEMPLATE_SPEC = obj(
    ["resourcetemplates"],
    params=arr(obj(["name"], name=STR, description=STR, default=STR)),
    resourcetemplates=arr({"type": "object", "required": ["apiVersion", "kind"]}, minItems=1),
)
EVENT_LISTENER_SPEC = obj(
    [],
    serviceAccountName=STR,
    triggerGroups=arr(ANY_OBJECT),
    resources=ANY_OBJECT,
    namespaceSelector=ANY_OBJECT,
    labelSelector=ANY_OBJECT,
    cloudEventURI=STR,
    triggers=arr(
        obj(
            [],
            name=STR,
            triggerRef=STR,
            serviceAccountName=STR,
            bindings=arr(
                obj(
                    [],
                    ref=STR,
                    kind={"enum": ["TriggerBinding", "ClusterTriggerBinding"]},
                    apiversion=STR,
                    name=STR,
                    value=STR,
                )
            ),
            template=obj([], ref=STR, apiversion=STR, spec=TRIGGER_TEMPLATE_SPEC),
            interceptors=arr(
                obj(
                    [],
                    name=STR,
                    webhook=ANY_OBJECT,
                    params=arr(obj(["name", "value"], name=STR, value={})),
                    ref=obj(
                        ["name"],
                        name=STR,
                        apiVersion=STR,
                        kind={"enum": ["ClusterInterceptor", "NamespacedInterceptor"]},
                    ),
                )
            ),
        )
    ),
)
SPECS = {
    "Task": TASK_SPEC,
    "Pipeline": PIPELINE_SPEC,
    "PipelineRun": PIPELINE_RUN_SPEC,
    "EventListener": EVENT_LISTENER_SPEC,
    "TriggerBinding": obj([], params=arr(obj(["name", "value"], name=STR, value=STR))),
    "TriggerTemplate": TRIGGER_TEMPLATE_SPEC,
}
METADATA = obj([], name=STR, generateName=STR, namespace=STR, labels=STRMAP, annotations=STRMAP)


def schema(kind: str) -> dict:
    return obj(
        ["apiVersion", "kind", "metadata", "spec"], apiVersion=STR, kind=STR, metadata=METADATA, spec=SPECS[kind]
    )


# ---- variables

VARIABLE = re.compile(
    r"\$\((?P<expr>(?:params|results|workspaces|context|tasks|steps|step|tt|body|header|extensions"
    r"|finally|inputs|outputs|resources|credentials)\b[^()]*)\)"
)
PARAM_REF = re.compile(r"""^params(?:\.(?P<dotted>[\w.-]+?)|\[['"](?P<quoted>[^'"]+)['"]\])(?:\[\*\]|\[\d+\])?$""")
TASK_RESULT_REF = re.compile(r"^results\.(?P<name>[\w-]+)\.path$")
WORKSPACE_REF = re.compile(r"^workspaces\.(?P<name>[\w-]+)\.(?P<what>path|bound|claim|volume)$")
PIPELINE_RESULT_REF = re.compile(r"^tasks\.(?P<task>[\w-]+)\.results\.(?P<result>[\w-]+)(?:\[\*\]|\[\d+\]|\.[\w-]+)?$")
STATUS_REF = re.compile(r"^tasks\.(?:(?P<task>[\w-]+)\.(?:status|reason)|status)$")
TT_PARAM_REF = re.compile(r"^tt\.params\.(?P<name>[\w-]+)$")
TASK_CONTEXT = {
    "context.taskRun.name",
    "context.taskRun.namespace",
    "context.taskRun.uid",
    "context.taskRun.retry-count",
    "context.task.name",
    "context.task.retry-count",
}
PIPELINE_CONTEXT = {
    "context.pipelineRun.name",
    "context.pipelineRun.namespace",
    "context.pipelineRun.uid",
    "context.pipeline.name",
    "context.pipelineTask.retries",
}


def strings(node, path=""):
    """(path, text) for every string under node; descriptions are prose and may mention variables."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key != "description":
                yield from strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, f"{path}[{index}]")


def variables(node):
    for path, text in strings(node):
        for match in VARIABLE.finditer(text):
            yield path, match["expr"]


def param_name(expr: str) -> str | None:
    match = PARAM_REF.match(expr)
    if not match:
        return None
    return match["quoted"] or match["dotted"].split(".")[0]  # params.obj.key: the object param obj


def names(items) -> list[str]:
    return [item.get("name") for item in items or [] if isinstance(item, dict)]


def duplicates(values) -> list[str]:
    seen, repeated = set(), []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


@dataclass
class Document:
    path: Path
    index: int
    body: dict

    @property
    def kind(self) -> str:
        return self.body.get("kind", "?")

    @property
    def name(self) -> str:
        metadata = self.body.get("metadata") or {}
        return metadata.get("name") or metadata.get("generateName") or "?"


class Checker:
    def __init__(self, root: Path):
        self.root = root
        self.problems: list[str] = []
        self.documents: list[Document] = []
        self.tasks: dict[str, Interface] = {}
        self.invalid: set[tuple[str, str]] = set()  # (kind, name) refused above: references to them say nothing more
        self.unparsable = False

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def where(self, document: Document, inside: str = "") -> str:
        try:
            relative = document.path.relative_to(self.root)
        except ValueError:
            relative = document.path
        return f"{relative}: {document.kind}/{document.name}{' ' + inside if inside else ''}"

    # ---- loading

    def load(self) -> None:
        files = sorted(path for pattern in ("*.yaml", "*.yml") for path in self.root.rglob(pattern))
        if not files:
            self.add(str(self.root), "no YAML files")
        for path in files:
            try:
                bodies = list(yaml.safe_load_all(path.read_text()))
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
                problem = getattr(error, "problem", None) or error
                self.add(str(path.relative_to(self.root)), f"is not valid YAML{at}: {problem}")
                self.unparsable = True
                continue
            for index, body in enumerate(bodies):
                if body is None:
                    continue
                if not isinstance(body, dict):
                    self.add(str(path.relative_to(self.root)), f"document {index + 1} is not a mapping")
                    continue
                self.documents.append(Document(path, index, body))

    def of_kind(self, kind: str) -> list[Document]:
        return [document for document in self.documents if document.kind == kind]

    def by_name(self, kind: str) -> dict[str, Document]:
        return {document.name: document for document in self.of_kind(kind)}

    # ---- structure

    def check_structure(self, document: Document) -> bool:
        kind, version = document.kind, document.body.get("apiVersion")
        if kind not in API_VERSIONS:
            self.add(
                self.where(document),
                f"unexpected kind {kind!r} here (expected one of "
                f"{', '.join(sorted(API_VERSIONS))}; Secrets are never committed)",
            )
            return False
        if version != API_VERSIONS[kind]:
            self.add(
                self.where(document), f"apiVersion is {version!r}; this project writes {kind} as {API_VERSIONS[kind]!r}"
            )
            return False
        if kind in SPECS:
            return self.check_schema(document.body, kind, self.where(document))
        if kind in KUBERNETES_KINDS:
            self.check_kubernetes(document.body, self.where(document))
        return True

    def check_schema(self, body: dict, kind: str, where: str) -> bool:
        errors = sorted(
            jsonschema.Draft202012Validator(schema(kind)).iter_errors(body),
            key=lambda error: list(map(str, error.absolute_path)),
        )
        for error in errors:
            at = ".".join(str(part) for part in error.absolute_path) or "(top)"
            self.add(where, f"{at}: {error.message}")
        return not errors

    def check_kubernetes(self, body: dict, where: str) -> None:
        """Kubernetes' own schema for the object (strict: unknown fields too), when kubernetes-validate is here."""
        try:
            import kubernetes_validate
        except ImportError:
            return
        try:
            kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            at = ".".join(str(part) for part in error.path)
            self.add(where, f"{error.message} (at {at or 'top'})")

    @staticmethod
    def pod(containers: list[dict], **spec) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "check"},
            "spec": {"containers": containers, **spec},
        }

    def check_task_containers(self, spec: dict, where: str) -> None:
        def container(step: dict, index: int) -> dict:
            built = {"name": step.get("name") or f"step-{index}", "image": step.get("image") or "image"}
            for key in (
                "command",
                "args",
                "workingDir",
                "envFrom",
                "env",
                "volumeMounts",
                "volumeDevices",
                "imagePullPolicy",
                "securityContext",
            ):
                if key in step:
                    built[key] = step[key]
            if "computeResources" in step:
                built["resources"] = step["computeResources"]
            return built

        containers = [container(step, i) for i, step in enumerate(spec.get("steps") or [])]
        containers += [container(sidecar, i) for i, sidecar in enumerate(spec.get("sidecars") or [])]
        if spec.get("stepTemplate"):
            containers.append(container({**spec["stepTemplate"], "name": "step-template"}, 0))
        extra = {"volumes": spec["volumes"]} if spec.get("volumes") else {}
        self.check_kubernetes(self.pod(containers, **extra), f"{where} steps (as a Pod)")

    # ---- Tasks

    def interface(self, spec: dict, name: str) -> Interface:
        declared = set(names(spec.get("volumes")))
        mounted = {
            mount.get("name")
            for step in (spec.get("steps") or []) + (spec.get("sidecars") or [])
            for mount in step.get("volumeMounts") or []
        }
        return Interface(
            name,
            {p["name"]: "default" in p for p in spec.get("params") or []},
            set(names(spec.get("results"))),
            {w["name"]: bool(w.get("optional")) for w in spec.get("workspaces") or []},
            mounted - declared,
        )

    def check_task(self, spec: dict, where: str) -> None:
        for what in ("params", "results", "workspaces", "steps", "volumes", "sidecars"):
            for name in duplicates(names(spec.get(what))):
                self.add(where, f"{what[:-1]} {name!r} is declared twice")
        params = set(names(spec.get("params")))
        results = set(names(spec.get("results")))
        workspaces = set(names(spec.get("workspaces")))
        written = set()
        inside = {key: spec.get(key) for key in ("steps", "stepTemplate", "sidecars", "volumes")}
        for path, expr in variables(inside):
            name = param_name(expr)
            if expr.startswith("params"):
                if name is None or name not in params:
                    self.add(where, f"{path} uses $({expr}), but the Task declares no param {name or expr!r}")
            elif expr.startswith("results."):
                match = TASK_RESULT_REF.match(expr)
                if not match or match["name"] not in results:
                    self.add(
                        where,
                        f"{path} uses $({expr}), but the Task declares no such result"
                        f"{' (' + match['name'] + ')' if match else ''}",
                    )
                else:
                    written.add(match["name"])
            elif expr.startswith("workspaces."):
                match = WORKSPACE_REF.match(expr)
                if not match or match["name"] not in workspaces:
                    self.add(where, f"{path} uses $({expr}), but the Task declares no such workspace")
            elif expr.startswith("context."):
                if expr not in TASK_CONTEXT:
                    self.add(where, f"{path} uses $({expr}), which is no context variable of a Task")
            else:
                self.add(where, f"{path} uses $({expr}), which a Task cannot use")
        for name in sorted(results - written):
            self.add(
                where,
                f"declares result {name!r}, but no step writes $(results.{name}.path): a task that uses it would fail",
            )
        for index, step in enumerate(spec.get("steps") or []):
            for variable in step.get("env") or []:
                if (variable.get("valueFrom") or {}).get("secretKeyRef"):
                    self.add(
                        where,
                        f"steps[{index}].env {variable.get('name')!r} reads a Secret: credentials "
                        f"come in as workspaces bound to Secrets",
                    )
            if any(source.get("secretRef") for source in step.get("envFrom") or []):
                self.add(where, f"steps[{index}].envFrom reads a Secret: credentials come in as workspaces")
        self.check_task_containers(spec, where)

    # ---- Pipelines

    def resolve(self, task: dict, where: str) -> Interface | None:
        ref, inline = task.get("taskRef"), task.get("taskSpec")
        if bool(ref) == bool(inline):
            self.add(where, "needs exactly one of taskRef and taskSpec")
            return None
        if inline:
            spec = {key: value for key, value in inline.items() if key not in ("metadata", "apiVersion", "kind")}
            self.check_task(spec, f"{where} taskSpec")
            return self.interface(spec, f"{task.get('name')} (inline)")
        if ref.get("resolver"):
            params = {p.get("name"): p.get("value") for p in ref.get("params") or []}
            name, version = params.get("name"), params.get("version")
            found = re.match(r"^task/(?P<name>[^/]+)/(?P<version>[^/]+)/", str(params.get("pathInRepo", "")))
            if found:
                name, version = found["name"], found["version"]
            if ref["resolver"] == "git" and not (
                {"url", "revision", "pathInRepo"} <= params.keys()
                or {"repo", "org", "revision", "pathInRepo"} <= params.keys()
            ):
                self.add(where, "the git resolver needs url (or org and repo), revision and pathInRepo")
            interface = REMOTE_TASKS.get((name, version))
            if interface is None:
                self.add(
                    where,
                    f"takes {name} {version} through the {ref['resolver']} resolver, but check.py has "
                    f"no interface for it: add it to REMOTE_TASKS from its YAML",
                )
            return interface
        if ref.get("kind", "Task") != "Task":
            self.add(where, f"taskRef kind {ref.get('kind')!r}: only namespaced Tasks are used here")
            return None
        interface = self.tasks.get(ref.get("name"))
        if interface is None and ("Task", ref.get("name")) not in self.invalid:
            self.add(
                where,
                f"taskRef names Task {ref.get('name')!r}, which is not defined under deploy/tekton"
                f"{self.maybe_unparsable}",
            )
        return interface

    @property
    def maybe_unparsable(self) -> str:
        return " (or in a file that does not parse)" if self.unparsable else ""

    def check_pipeline(self, document: Document) -> None:
        spec = document.body["spec"]
        where = self.where(document)
        params = {p["name"]: p for p in spec.get("params") or []}
        workspaces = {w["name"]: w for w in spec.get("workspaces") or []}
        dag, final = spec.get("tasks") or [], spec.get("finally") or []
        for what, items in (
            ("param", spec.get("params")),
            ("workspace", spec.get("workspaces")),
            ("result", spec.get("results")),
            ("task", dag + final),
        ):
            for name in duplicates(names(items)):
                self.add(where, f"{what} {name!r} is declared twice")
        dag_names = set(names(dag))
        interfaces = {}
        for task in dag + final:
            name = task.get("name", "?")
            inside = f"{where} task {name!r}"
            if not NAME.match(name) or len(name) > 63:
                self.add(inside, "a pipeline task's name must be a DNS label (a-z, 0-9, -)")
            interfaces[name] = self.resolve(task, inside)
        for section, tasks in (("tasks", dag), ("finally", final)):
            for task in tasks:
                self.check_pipeline_task(task, interfaces, params, workspaces, dag_names, section, where)
        for result in spec.get("results") or []:
            for path, expr in variables(result.get("value")):
                self.check_pipeline_variable(
                    expr,
                    f"{where} result {result['name']!r}",
                    path,
                    interfaces,
                    params,
                    workspaces,
                    dag_names,
                    "results",
                    None,
                )
        self.check_cycles(dag, where)

    def check_pipeline_task(self, task, interfaces, params, workspaces, dag_names, section, where) -> None:
        name = task.get("name", "?")
        inside = f"{where} {'finally ' if section == 'finally' else ''}task {name!r}"
        interface = interfaces.get(name)
        for path, expr in variables(
            {
                key: task.get(key)
                for key in ("params", "when", "workspaces", "taskRef", "matrix", "timeout", "displayName")
            }
        ):
            self.check_pipeline_variable(expr, inside, path, interfaces, params, workspaces, dag_names, section, name)
        for index, when in enumerate(task.get("when") or []):
            if "cel" in when:
                continue
            if not all(key in when for key in ("input", "operator", "values")) or not when.get("values"):
                self.add(inside, f"when[{index}] needs input, operator (in, notin) and at least one value")
        for other in task.get("runAfter") or []:
            if section == "finally":
                self.add(inside, "a finally task cannot have runAfter")
            elif other == name:
                self.add(inside, "runAfter names the task itself")
            elif other not in dag_names:
                self.add(inside, f"runAfter names {other!r}, which is no task of the pipeline")
        passed = names(task.get("params"))
        for other in duplicates(passed):
            self.add(inside, f"param {other!r} is passed twice")
        bound = names(task.get("workspaces"))
        for other in duplicates(bound):
            self.add(inside, f"workspace {other!r} is bound twice")
        for binding in task.get("workspaces") or []:
            pipeline_workspace = binding.get("workspace", binding.get("name"))
            if pipeline_workspace not in workspaces:
                self.add(
                    inside,
                    f"workspace {binding.get('name')!r} is bound to {pipeline_workspace!r}, which "
                    f"the pipeline does not declare",
                )
            elif (
                interface
                and not interface.workspaces.get(binding.get("name"), True)
                and workspaces[pipeline_workspace].get("optional")
            ):
                self.add(
                    inside,
                    f"its Task requires workspace {binding.get('name')!r}, bound to the optional "
                    f"pipeline workspace {pipeline_workspace!r} (Tekton refuses it)",
                )
        if interface is None:
            return
        for other in passed:
            if other not in interface.params:
                self.add(inside, f"passes param {other!r}, which {interface.name} does not declare")
        for other, has_default in sorted(interface.params.items()):
            if not has_default and other not in passed:
                self.add(inside, f"does not pass param {other!r}, which {interface.name} requires")
        for other in bound:
            if other not in interface.workspaces:
                self.add(inside, f"binds workspace {other!r}, which {interface.name} does not declare")
        for other, optional in sorted(interface.workspaces.items()):
            if not optional and other not in bound:
                self.add(inside, f"does not bind workspace {other!r}, which {interface.name} requires")

    def check_pipeline_variable(
        self, expr, inside, path, interfaces, params, workspaces, dag_names, section, self_name
    ) -> None:
        at = f"{path}: $({expr})"
        if expr.startswith("params"):
            name = param_name(expr)
            if name not in params:
                self.add(inside, f"{at} names param {name or expr!r}, which the pipeline does not declare")
        elif (match := PIPELINE_RESULT_REF.match(expr)) is not None:
            other, result = match["task"], match["result"]
            if other not in dag_names:
                self.add(
                    inside,
                    f"{at} names task {other!r}, which is no task of the pipeline"
                    f"{' (finally tasks give no results to others)' if other in interfaces else ''}",
                )
            elif other == self_name:
                self.add(inside, f"{at}: a task cannot use its own results")
            elif interfaces.get(other) is not None and result not in interfaces[other].results:
                self.add(inside, f"{at}: task {other!r} ({interfaces[other].name}) produces no result {result!r}")
        elif STATUS_REF.match(expr):
            if section != "finally":
                self.add(inside, f"{at}: only finally tasks may read a task's status")
            elif (other := STATUS_REF.match(expr)["task"]) and other not in dag_names:
                self.add(inside, f"{at} names task {other!r}, which is no task of the pipeline")
        elif (match := WORKSPACE_REF.match(expr)) is not None and match["what"] == "bound":
            if match["name"] not in workspaces:
                self.add(inside, f"{at} names workspace {match['name']!r}, which the pipeline does not declare")
        elif expr.startswith("context."):
            if expr not in PIPELINE_CONTEXT:
                self.add(inside, f"{at} is no context variable of a Pipeline")
        else:
            self.add(inside, f"{at} is no variable a Pipeline can use")

    def check_cycles(self, dag: list[dict], where: str) -> None:
        depends = {}
        for task in dag:
            refs = {match["task"] for _, expr in variables(task) if (match := PIPELINE_RESULT_REF.match(expr))}
            depends[task.get("name")] = (set(task.get("runAfter") or []) | refs) & set(names(dag))
        state: dict[str, int] = {}

        def visit(name, trail):
            if state.get(name) == 1:
                self.add(where, f"tasks depend on each other in a cycle: {' -> '.join(trail + [name])}")
                return True
            if state.get(name) == 2:
                return False
            state[name] = 1
            if any(visit(other, trail + [name]) for other in sorted(depends.get(name, ()))):
                return True
            state[name] = 2
            return False

        for name in sorted(depends):
            if visit(name, []):
                break

    # ---- PipelineRuns (by hand, or made by a TriggerTemplate)

    def check_run(self, run: dict, where: str, given_by_trigger: bool = False) -> None:
        spec = run.get("spec") or {}
        pipeline_name = (spec.get("pipelineRef") or {}).get("name")
        pipeline = self.by_name("Pipeline").get(pipeline_name)
        if given_by_trigger and (run.get("metadata") or {}).get("name"):
            self.add(where, "a TriggerTemplate's PipelineRun needs generateName, not name (every push makes one)")
        self.check_run_kubernetes(spec, where)
        if pipeline is None:
            if ("Pipeline", pipeline_name) not in self.invalid:
                self.add(
                    where,
                    f"pipelineRef names {pipeline_name!r}, which is not defined under deploy/tekton"
                    f"{self.maybe_unparsable}",
                )
            return
        pipeline_spec = pipeline.body["spec"]
        declared = {p["name"]: p for p in pipeline_spec.get("params") or []}
        given = names(spec.get("params"))
        for name in duplicates(given):
            self.add(where, f"param {name!r} is given twice")
        for name in given:
            if name not in declared:
                self.add(where, f"gives param {name!r}, which pipeline {pipeline_name} does not declare")
        for name, param in declared.items():
            if "default" not in param and name not in given:
                self.add(where, f"does not give param {name!r}, which pipeline {pipeline_name} requires")
        declared_workspaces = {w["name"]: w for w in pipeline_spec.get("workspaces") or []}
        bindings = {binding.get("name"): binding for binding in spec.get("workspaces") or []}
        for name in duplicates(names(spec.get("workspaces"))):
            self.add(where, f"workspace {name!r} is bound twice")
        for name, binding in bindings.items():
            sources = [key for key in VOLUME_SOURCES if key in binding]
            if name not in declared_workspaces:
                self.add(where, f"binds workspace {name!r}, which pipeline {pipeline_name} does not declare")
            if len(sources) != 1:
                self.add(where, f"workspace {name!r} needs exactly one volume source, has {sources or 'none'}")
            if name.endswith("-credentials") and "secret" not in binding:
                self.add(where, f"workspace {name!r} holds credentials: bind it to a Kubernetes Secret")
        for name, workspace in declared_workspaces.items():
            if not workspace.get("optional") and name not in bindings:
                self.add(where, f"does not bind workspace {name!r}, which pipeline {pipeline_name} requires")
        all_tasks = (pipeline_spec.get("tasks") or []) + (pipeline_spec.get("finally") or [])
        task_names = set(names(all_tasks))
        run_specs = {}
        for run_spec in spec.get("taskRunSpecs") or []:
            if run_spec.get("pipelineTaskName") not in task_names:
                self.add(
                    where,
                    f"taskRunSpecs names {run_spec.get('pipelineTaskName')!r}, which is no task of "
                    f"pipeline {pipeline_name}",
                )
            run_specs[run_spec.get("pipelineTaskName")] = run_spec
        template = (spec.get("taskRunTemplate") or {}).get("podTemplate") or {}
        for task in all_tasks:
            claims = set()
            for binding in task.get("workspaces") or []:
                bound = bindings.get(binding.get("workspace", binding.get("name"))) or {}
                if "persistentVolumeClaim" in bound:
                    claims.add(f"PersistentVolumeClaim {bound['persistentVolumeClaim'].get('claimName')}")
                elif "volumeClaimTemplate" in bound:
                    claims.add(f"the volumeClaimTemplate of workspace {bound.get('name')}")
            if len(claims) > 1:
                self.add(
                    where,
                    f"task {task.get('name')!r} would mount {len(claims)} PersistentVolumeClaims "
                    f"({', '.join(sorted(claims))}): with Tekton's affinity assistant a TaskRun mounts "
                    f"one (use subPaths of one claim)",
                )
            interface = self.interface_of(task)
            if interface and interface.volumes_needed:
                own = ((run_specs.get(task.get("name")) or {}).get("podTemplate") or {}).get("volumes") or []
                supplied = set(names(own)) | set(names(template.get("volumes")))
                for volume in sorted(interface.volumes_needed - supplied):
                    self.add(
                        where,
                        f"task {task.get('name')!r} mounts volume {volume!r}, which neither its Task "
                        f"nor this run's pod template provides (taskRunSpecs[pipelineTaskName="
                        f"{task.get('name')}].podTemplate.volumes)",
                    )

    def interface_of(self, task: dict) -> Interface | None:
        ref = task.get("taskRef") or {}
        if task.get("taskSpec"):
            return self.interface(task["taskSpec"], task.get("name"))
        return None if ref.get("resolver") else self.tasks.get(ref.get("name"))

    def check_run_kubernetes(self, spec: dict, where: str) -> None:
        def pod_template(template: dict, resources: dict | None, label: str) -> None:
            fields = {key: value for key, value in (template or {}).items() if key != "env"}
            container = {"name": "check", "image": "image"}
            if template and template.get("env"):
                container["env"] = template["env"]
            if resources:
                container["resources"] = resources
            self.check_kubernetes(self.pod([container], **fields), f"{where} {label} (as a Pod)")

        template = spec.get("taskRunTemplate") or {}
        if template.get("podTemplate"):
            pod_template(template["podTemplate"], None, "taskRunTemplate.podTemplate")
        for run_spec in spec.get("taskRunSpecs") or []:
            if run_spec.get("podTemplate") or run_spec.get("computeResources"):
                pod_template(
                    run_spec.get("podTemplate"),
                    run_spec.get("computeResources"),
                    f"taskRunSpecs[{run_spec.get('pipelineTaskName')}]",
                )
        volumes = []
        for index, binding in enumerate(spec.get("workspaces") or []):
            for key in VOLUME_SOURCES:
                if key == "volumeClaimTemplate" and key in binding:
                    claim = {
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "metadata": {"name": "check"},
                        **{k: v for k, v in binding[key].items() if k != "metadata"},
                    }
                    self.check_kubernetes(claim, f"{where} workspace {binding.get('name')!r} volumeClaimTemplate")
                elif key in binding:
                    volumes.append({"name": f"workspace-{index}", key: binding[key]})
        if volumes:
            self.check_kubernetes(
                self.pod([{"name": "check", "image": "image"}], volumes=volumes), f"{where} workspaces (as Pod volumes)"
            )

    # ---- Triggers

    def check_triggers(self) -> None:
        bindings = self.by_name("TriggerBinding")
        templates = self.by_name("TriggerTemplate")
        accounts = {document.name for document in self.of_kind("ServiceAccount")}
        for document in bindings.values():
            where = self.where(document)
            for name in duplicates(names(document.body["spec"].get("params"))):
                self.add(where, f"param {name!r} is declared twice")
            for path, text in strings(document.body["spec"]):
                for match in re.finditer(r"\$\(([^()]*)\)", text):
                    if not re.match(r"^(body|header|extensions)\b", match[1]):
                        self.add(
                            where,
                            f"{path} uses $({match[1]}): a binding reads only $(body.*), "
                            f"$(header.*) and $(extensions.*)",
                        )
        for document in templates.values():
            where = self.where(document)
            spec = document.body["spec"]
            declared = set(names(spec.get("params")))
            for name in duplicates(names(spec.get("params"))):
                self.add(where, f"param {name!r} is declared twice")
            for path, expr in variables({"resourcetemplates": spec.get("resourcetemplates")}):
                if expr.startswith("tt."):
                    match = TT_PARAM_REF.match(expr)
                    if not match or match["name"] not in declared:
                        self.add(where, f"{path} uses $({expr}), but the TriggerTemplate declares no such param")
                elif expr.startswith("params"):
                    self.add(where, f"{path} uses $({expr}): a TriggerTemplate's params are $(tt.params.*)")
            for index, resource in enumerate(spec.get("resourcetemplates") or []):
                inside = f"{where} resourcetemplates[{index}]"
                kind = resource.get("kind")
                if kind != "PipelineRun" or resource.get("apiVersion") != API_VERSIONS["PipelineRun"]:
                    self.add(
                        inside,
                        f"makes {resource.get('apiVersion')} {kind}; this project's triggers make "
                        f"{API_VERSIONS['PipelineRun']} PipelineRuns",
                    )
                    continue
                if self.check_schema(resource, "PipelineRun", inside):
                    self.check_run(resource, inside, given_by_trigger=True)
        for document in self.of_kind("EventListener"):
            where = self.where(document)
            spec = document.body["spec"]
            account = spec.get("serviceAccountName")
            if not account:
                self.add(where, "needs a serviceAccountName allowed to create PipelineRuns")
            elif account not in accounts:
                self.add(where, f"runs as ServiceAccount {account!r}, which is not defined under deploy/tekton")
            verified = False
            for index, trigger in enumerate(spec.get("triggers") or []):
                inside = f"{where} triggers[{index}] ({trigger.get('name', '?')})"
                given = set()
                for binding in trigger.get("bindings") or []:
                    if binding.get("ref"):
                        if binding.get("kind", "TriggerBinding") == "TriggerBinding":
                            found = bindings.get(binding["ref"])
                            if found is None:
                                self.add(inside, f"binding {binding['ref']!r} is not defined under deploy/tekton")
                            else:
                                given |= set(names(found.body["spec"].get("params")))
                    elif binding.get("name") and "value" in binding:
                        given.add(binding["name"])
                    else:
                        self.add(inside, "a binding needs ref, or name and value")
                template_ref = (trigger.get("template") or {}).get("ref")
                template = templates.get(template_ref)
                if template is None:
                    self.add(inside, f"template {template_ref!r} is not defined under deploy/tekton")
                else:
                    for param in template.body["spec"].get("params") or []:
                        if "default" not in param and param["name"] not in given:
                            self.add(
                                inside,
                                f"no binding gives param {param['name']!r}, which template {template_ref} requires",
                            )
                for interceptor in trigger.get("interceptors") or []:
                    ref = interceptor.get("ref") or {}
                    params = {p.get("name"): p.get("value") for p in interceptor.get("params") or []}
                    if (
                        ref.get("kind", "ClusterInterceptor") == "ClusterInterceptor"
                        and ref.get("name") not in CLUSTER_INTERCEPTORS
                    ):
                        self.add(
                            inside,
                            f"interceptor {ref.get('name')!r} is none of Triggers' "
                            f"({', '.join(sorted(CLUSTER_INTERCEPTORS))})",
                        )
                    if ref.get("name") in ("github", "gitlab", "bitbucket"):
                        secret = params.get("secretRef") or {}
                        if secret.get("secretName") and secret.get("secretKey"):
                            verified = True
                        else:
                            self.add(
                                inside,
                                f"the {ref['name']} interceptor needs secretRef (secretName, "
                                f"secretKey): the webhook's secret is checked",
                            )
                    if ref.get("name") == "cel" and isinstance(params.get("filter"), str):
                        if not balanced(params["filter"]):
                            self.add(inside, "the cel filter's parentheses, brackets or quotes do not balance")
            if not verified:
                self.add(where, "no trigger checks the webhook's secret (github or gitlab interceptor, secretRef)")

    # ---- project rules

    def check_project(self) -> None:
        for document in self.of_kind("Pipeline"):
            for task in document.body["spec"].get("tasks") or []:
                for param in task.get("params") or []:
                    value = str(param.get("value", ""))
                    if (
                        param.get("name") == "image"
                        and "$(tasks." in value
                        and not re.fullmatch(
                            r"\$\(tasks\.([\w-]+)\.results\.IMAGE_URL\)@\$\(tasks\.\1\.results"
                            r"\.IMAGE_DIGEST\)",
                            value,
                        )
                    ):
                        self.add(
                            self.where(document, f"task {task.get('name')!r}"),
                            f"runs image {value!r}: the built image goes by its digest, "
                            f"$(tasks.build.results.IMAGE_URL)@$(tasks.build.results.IMAGE_DIGEST)",
                        )
        runs = [(self.where(document), document.body) for document in self.of_kind("PipelineRun")]
        for template in self.of_kind("TriggerTemplate"):
            for index, resource in enumerate(template.body["spec"].get("resourcetemplates") or []):
                if resource.get("kind") == "PipelineRun":
                    runs.append((self.where(template, f"resourcetemplates[{index}]"), resource))
        for where, run in runs:
            self.check_gpu(run, where)

    def check_gpu(self, run: dict, where: str) -> None:
        """sonic qualifies on one NVIDIA GPU on a GPU node with the weights' volume; builtin asks for no GPU."""
        spec = run.get("spec") or {}
        backend = {p.get("name"): p.get("value") for p in spec.get("params") or []}.get("backend", "builtin")
        qualify = next((s for s in spec.get("taskRunSpecs") or [] if s.get("pipelineTaskName") == "qualify"), {})
        limits = (qualify.get("computeResources") or {}).get("limits") or {}
        gpus = int(str(limits.get("nvidia.com/gpu", 0)) or 0)
        template = (spec.get("taskRunTemplate") or {}).get("podTemplate") or {}
        model = {v.get("name"): v for v in (qualify.get("podTemplate") or {}).get("volumes") or []}.get("sonic-model")
        if backend == "sonic":
            variant = {p.get("name"): p.get("value") for p in spec.get("params") or []}.get("variant")
            if variant != "gpu":
                self.add(
                    where,
                    f"qualifies sonic in the {variant or 'cpu'} image: give param variant gpu (CUDA "
                    f"torch, Sonic's packages) and the gpu wheelhouse as wheels-image",
                )
            if gpus < 1:
                self.add(
                    where,
                    "qualifies sonic without a GPU: taskRunSpecs for qualify needs computeResources "
                    "limits nvidia.com/gpu: 1",
                )
            if (
                not any(t.get("key") == "nvidia.com/gpu" for t in template.get("tolerations") or [])
                or (template.get("nodeSelector") or {}).get("nvidia.com/gpu.present") != "true"
            ):
                self.add(
                    where,
                    "qualifies sonic off the GPU nodes: its taskRunTemplate's pod template must select "
                    "nvidia.com/gpu.present=true and tolerate the nvidia.com/gpu taint (every task of the "
                    "run shares its node, through the work volume)",
                )
            if not model or "persistentVolumeClaim" not in model:
                self.add(
                    where,
                    "qualifies sonic without its weights: the qualify task's pod template needs the "
                    "volume sonic-model from the PersistentVolumeClaim holding them",
                )
        elif backend == "builtin" and gpus:
            self.add(where, "qualifies builtin on a GPU: builtin runs on CPU, leave nvidia.com/gpu out")

    # ---- all

    def run(self) -> list[str]:
        self.load()
        valid = []
        for document in self.documents:
            if self.check_structure(document):
                valid.append(document)
            else:
                self.invalid.add((document.kind, document.name))
        self.documents = valid
        for document in self.of_kind("Task"):
            self.tasks[document.name] = self.interface(document.body["spec"], f"Task {document.name}")
            self.check_task(document.body["spec"], self.where(document))
        for name in duplicates(f"{d.kind}/{d.name}" for d in self.documents if d.kind != "PipelineRun"):
            self.add(str(self.root), f"{name} is defined twice")
        for document in self.of_kind("Pipeline"):
            self.check_pipeline(document)
        for document in self.of_kind("PipelineRun"):
            self.check_run(document.body, self.where(document))
        self.check_triggers()
        self.check_project()
        self.check_scripts()
        return self.problems

    def check_scripts(self) -> None:
        """Each step script marked `# file: scripts/...` is that file, as deploy/tekton/sync_scripts.py copies it."""
        spec = importlib.util.spec_from_file_location("tekton_sync_scripts", HERE / "sync_scripts.py")
        sync = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sync)
        for path in sorted({document.path for document in self.of_kind("Task")}):
            text = path.read_text()
            try:
                expected, files = sync.embedded(text, self.root)
            except FileNotFoundError as error:
                self.add(str(path.relative_to(self.root)), f"names a script that does not exist: {error.filename}")
                continue
            if expected != text:
                self.add(
                    str(path.relative_to(self.root)),
                    f"its inline script differs from {', '.join(files)}: run python deploy/tekton/sync_scripts.py",
                )


def balanced(text: str) -> bool:
    stack, quote = [], None
    pairs = {")": "(", "]": "[", "}": "{"}
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            stack.append(char)
        elif char in pairs:
            if not stack or stack.pop() != pairs[char]:
                return False
    return not stack and quote is None


def check(root: Path = HERE) -> list[str]:
    """Every problem found under root (deploy/tekton by default), one line each."""
    return Checker(Path(root)).run()


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else HERE
    problems = check(root)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) in {root}" if problems else f"{root}: no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
