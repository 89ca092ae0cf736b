"""deploy/observability/, checked offline: the Prometheus rules pass `promtool check rules` and their unit tests
(`promtool test rules`, which make every alert fire and not fire), a broken copy fails both; every metric the rules
and the Grafana dashboard read is one the portal's /metrics or Dramatiq's middleware really exports; the collector
config's pipelines are complete and its tail sampling keeps errors, slow renders (by a span the renderer really
emits) and a ratio of the rest."""

import json
import re
import shutil
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

import renderer
from portal import metrics
from portal.jobs.models import Job, WebhookDelivery
from portal.models import StorageAuditRun
from renderer import errors as render_errors
from tests.factories import FIXTURES, make_user
from tests.jobs_helpers import finished_job

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "deploy" / "observability"
RULES = BUNDLE / "prometheus-rules.yaml"
RULE_TESTS = BUNDLE / "prometheus-rules.test.yaml"
DASHBOARD = BUNDLE / "grafana-dashboard.json"
COLLECTOR = BUNDLE / "otel-collector.yaml"
TOKEN = "observability-test-token"
# Series Prometheus makes itself for every target it scrapes.
PROMETHEUS_SERIES = {"up"}


def promtool(*args: str, cwd: Path = BUNDLE) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is not installed (Debian's `prometheus` package has it)")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def rule_groups() -> list[dict]:
    return yaml.safe_load(RULES.read_text())["groups"]


def rules() -> list[dict]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def alerts() -> list[dict]:
    return [rule for rule in rules() if "alert" in rule]


# --- promtool ---------------------------------------------------------------------------------------------------------


def test_promtool_checks_the_rules():
    checked = promtool("check", "rules", RULES.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout


@pytest.mark.slow
def test_promtool_unit_tests_of_the_rules_pass():
    tested = promtool("test", "rules", RULE_TESTS.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_a_broken_rule_file_fails_the_check(tmp_path):
    (tmp_path / RULES.name).write_text(
        RULES.read_text().replace(
            'max by (queue) (portal_queue_oldest_waiting_seconds{queue=~".+-paid"}) > 600',
            'max by (queue) (portal_queue_oldest_waiting_seconds{queue=~".+-paid"} > 600',
            1,
        )
    )
    checked = promtool("check", "rules", RULES.name, cwd=tmp_path)
    assert checked.returncode != 0
    assert '"PortalQueueWaitingTooLong": could not parse expression' in checked.stdout + checked.stderr


@pytest.mark.slow
def test_an_alert_that_changed_its_meaning_fails_the_unit_tests(tmp_path):
    # Paid work may now wait 100 minutes before anyone hears of it: the unit tests notice.
    changed = RULES.read_text().replace('{queue=~".+-paid"}) > 600', '{queue=~".+-paid"}) > 6000', 1)
    assert changed != RULES.read_text()
    (tmp_path / RULES.name).write_text(changed)
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    assert promtool("check", "rules", RULES.name, cwd=tmp_path).returncode == 0  # still a valid file
    tested = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert tested.returncode != 0
    assert "PortalQueueWaitingTooLong" in tested.stdout + tested.stderr


def test_every_alert_is_tested_firing_and_quiet():
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired, quiet = set(), set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {alert["alert"] for alert in alerts()}
    assert names - fired == set(), "alerts no unit test makes fire"
    assert names - quiet == set(), "alerts no unit test shows quiet"


def test_every_alert_tells_on_call_how_bad_it_is_and_what_to_do():
    names = {alert["alert"] for alert in alerts()}
    assert {
        "PortalQueueWaitingTooLong",
        "PortalRendersFailing",
        "PortalRenderHeartbeatsLost",
        "PortalWebhookDeliveriesFailing",
        "PortalQuotaLedgerMismatch",
        "PortalWorkerDown",
    } <= names
    for alert in alerts():
        assert re.fullmatch(r"\d+[smh]", alert.get("for", "")), alert["alert"]
        assert alert["labels"]["severity"] in {"critical", "warning"}, alert["alert"]
        annotations = alert["annotations"]
        assert annotations["summary"] and len(annotations["description"]) > 80, alert["alert"]
        assert annotations["runbook_url"] == "docs/deploy.md#alerts", alert["alert"]


def test_the_failures_blamed_on_inputs_are_codes_the_renderer_has():
    (failing,) = [alert for alert in alerts() if alert["alert"] == "PortalRendersFailing"]
    (excluded,) = set(re.findall(r'error_code!~"([^"]+)"', failing["expr"]))
    codes = {
        cls.code
        for cls in vars(render_errors).values()
        if isinstance(cls, type) and issubclass(cls, render_errors.RenderError)
    }
    blamed_on_inputs = set(excluded.split("|"))
    assert blamed_on_inputs <= codes
    # Never the farm's own failures: those are what the alert is for.
    assert not blamed_on_inputs & {"render_failed", "out_of_memory", "backend_unavailable", "concat_incompatible"}


# --- metric names --------------------------------------------------------------------------------------------------

PROMQL_WORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not its functions, labels, strings or durations)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings: label values, label_replace's arguments
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # label lists
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges, Grafana's $__rate_interval
    expr = re.sub(r"\boffset\s+\S+", "", expr)
    names = set()
    for match in re.finditer(r"(?<![\w:.$])[A-Za-z_:][\w:]*", expr):
        if match.group() in PROMQL_WORDS or expr[match.end() :].lstrip().startswith("("):
            continue  # a keyword, or a function or aggregation
        names.add(match.group())
    return names


def test_metric_names_are_read_from_promql():
    expr = (
        'sum by (queue) (rate(portal_jobs{status=~"failed|x"}[5m] offset 30m)) / on (queue) '
        'label_replace(dramatiq_messages_total, "queue", "$1", "queue_name", "(.+)") > bool 0.5 '
        'and time() - max(portal:x:y) > 26 * 3600 or absent(up{job="a"})'
    )
    assert metric_names(expr) == {"portal_jobs", "dramatiq_messages_total", "portal:x:y", "up"}


def exported_by_the_portal(client, settings) -> set[str]:
    """Every sample name a scrape of /metrics shows, with rows in the database so that each family has some."""
    user = make_user("metrics@example.com")
    finished_job(user, status=Job.Status.FAILED, error_code="worker_lost", video=None)
    finished_job(user, status=Job.Status.QUEUED, video=None, enqueued_at=timezone.now())
    finished_job(
        user,
        status=Job.Status.RUNNING,
        video=None,
        worker_host="gpu-1:7",
        attempt_token=uuid.uuid4(),
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    WebhookDelivery.objects.create(owner=user, event="job.failed", url="https://example.com/", payload={}, attempts=1)
    StorageAuditRun.objects.create(files=0, referenced=0, problems={})
    metrics.observe_render(backend="builtin", queue="builtin-paid", render_seconds=2.0, audio_seconds=4.0)
    client.get("/healthz")
    settings.METRICS_TOKEN = TOKEN
    body = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    names = set()
    for family in text_string_to_metric_families(body):
        if family.type == "gauge":
            names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


DRAMATIQ_METRICS = """
import json, sys
from dramatiq.middleware.prometheus import Prometheus
from prometheus_client.metrics import MetricWrapperBase

middleware = Prometheus()
middleware.after_process_boot(broker=None)  # where the worker process declares them
names = set()
for metric in vars(middleware).values():
    if isinstance(metric, MetricWrapperBase):
        metric.labels(*["x"] * len(metric._labelnames))
        names.update(sample.name for family in metric.collect() for sample in family.samples)
json.dump(sorted(names), sys.stdout)
"""


def exported_by_dramatiq(tmp_path) -> set[str]:
    """The sample names Dramatiq's Prometheus middleware declares, as a worker process does (in a process of its
    own: the middleware switches prometheus_client to multiprocess mode)."""
    result = subprocess.run(
        [sys.executable, "-c", DRAMATIQ_METRICS],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "dramatiq_prom_db": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(re.fullmatch(r"label_values\((\w+), \w+\)", variable["query"]["query"]).group(1))
    return queries


def test_every_metric_the_rules_and_the_dashboard_read_is_exported(client, db, settings, tmp_path):
    portal, dramatiq = exported_by_the_portal(client, settings), exported_by_dramatiq(tmp_path)
    assert {
        "portal_http_requests_total",
        "portal_render_rtf_bucket",
        "portal_queue_oldest_waiting_seconds",
        "portal_renders_heartbeat_lost",
        "portal_storage_audit_problems",
    } <= portal
    assert {
        "dramatiq_messages_total",
        "dramatiq_messages_inprogress",
        "dramatiq_message_duration_milliseconds_bucket",
    } <= dramatiq
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    known = portal | dramatiq | recorded | PROMETHEUS_SERIES

    read = {}
    for rule in rules():
        for name in metric_names(rule["expr"]):
            read.setdefault(name, f"rule {rule.get('alert') or rule.get('record')}")
    for query in dashboard_queries():
        for name in metric_names(query):
            read.setdefault(name, "the dashboard")
    unknown = {name: where for name, where in read.items() if name not in known}
    assert unknown == {}
    assert {
        "portal_webhook_accounts_failing",
        "portal_metrics_source_up",
        "dramatiq_messages_inprogress",
        "portal_storage_audit_last_run_timestamp_seconds",
    } <= set(read)

    # And a typo would be caught.
    assert metric_names('max(portal_queue_oldest_wait_seconds{queue="a"})') - known == {
        "portal_queue_oldest_wait_seconds"
    }


# --- Grafana ---------------------------------------------------------------------------------------------------------


def test_the_dashboard_is_one_grafana_loads():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 36 and dashboard["uid"] and dashboard["title"]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    occupied = set()
    for panel in panels:
        grid = panel["gridPos"]
        cells = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert grid["x"] + grid["w"] <= 24 and not cells & occupied, panel["title"]
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and all(target["expr"] and target["refId"] for target in panel["targets"])
    titles = " | ".join(panel["title"] for panel in panels)
    for shown in (
        "Requests per second by view",
        "Latency by view",
        "Server errors by view",
        "Messages waiting",
        "Messages delayed",
        "Messages dead",
        "Oldest waiting",
        "Renders running per host",
        "Render seconds by backend",
        "Real-time factor by backend",
        "Failed jobs by error code",
        "Webhook deliveries",
        "Storage audit",
    ):
        assert shown in titles


# --- the OpenTelemetry Collector ------------------------------------------------------------------------------------


def collector() -> dict:
    return yaml.safe_load(COLLECTOR.read_text())


def policies_of(policies: list[dict]):
    """Every policy, those inside and/composite policies included."""
    for policy in policies:
        yield policy
        inner = policy.get("and", {}).get("and_sub_policy", []) + policy.get("composite", {}).get(
            "composite_sub_policy", []
        )
        yield from policies_of(inner)


def test_every_pipeline_uses_components_that_are_defined():
    config = collector()
    service = config["service"]
    assert set(service.get("extensions", [])) <= set(config.get("extensions", {}))
    assert set(service["pipelines"]) == {"traces"}
    for name, pipeline in service["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            assert pipeline[kind], f"{name} has no {kind}"
            assert set(pipeline[kind]) <= set(config[kind]), f"{name}: undefined {kind}"
        assert pipeline["processors"][0] == "memory_limiter" and pipeline["processors"][-1] == "batch"
    defined = {kind: set(config[kind]) for kind in ("receivers", "processors", "exporters")}
    used = {kind: {c for p in service["pipelines"].values() for c in p[kind]} for kind in defined}
    assert defined == used, "components defined but in no pipeline"
    assert set(config["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    assert config["exporters"]["otlp/tempo"]["endpoint"] == "${env:TEMPO_OTLP_ENDPOINT}"


def test_tail_sampling_keeps_errors_slow_renders_and_a_ratio_of_the_rest():
    sampling = collector()["processors"]["tail_sampling"]
    top = sampling["policies"]
    every = list(policies_of(top))
    (errors,) = [p for p in top if p["type"] == "status_code"]
    assert errors["status_code"]["status_codes"] == ["ERROR"]
    (ratio,) = [p for p in top if p["type"] == "probabilistic"]
    assert 0 < ratio["probabilistic"]["sampling_percentage"] < 100
    (latency,) = [p for p in every if p["type"] == "latency"]
    (condition,) = [p for p in every if p["type"] == "ottl_condition"]
    (span_condition,) = condition["ottl_condition"]["span"]
    threshold_ns = int(re.search(r"end_time_unix_nano - start_time_unix_nano > (\d+)", span_condition).group(1))
    assert threshold_ns == latency["latency"]["threshold_ms"] * 1_000_000
    # A slow render is judged only if it ended before its trace's decision.
    decision_wait = re.fullmatch(r"(\d+)m", sampling["decision_wait"]).group(1)
    assert int(decision_wait) * 60 > latency["latency"]["threshold_ms"] / 1000


def test_the_slow_render_policy_names_a_span_the_renderer_emits(finished_spans, tmp_path):
    config = collector()["processors"]["tail_sampling"]["policies"]
    (condition,) = [p for p in policies_of(config) if p["type"] == "ottl_condition"]
    named = set(re.findall(r'\bname == "([^"]+)"', " ".join(condition["ottl_condition"]["span"])))
    assert named

    renderer.render(
        FIXTURES / "portrait.jpg", FIXTURES / "speech.wav", tmp_path / "clip.mp4", {"resolution": 256}, end=1.0
    )
    emitted = {span.name for span in finished_spans()}
    assert named <= emitted, f"{named} not among {sorted(emitted)}"
    (render,) = [span for span in finished_spans() if span.name in named]
    stages = [span for span in finished_spans() if span.parent and span.parent.span_id == render.context.span_id]
    assert stages, "the render span is the one around the stages"
