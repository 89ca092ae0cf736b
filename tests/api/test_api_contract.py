"""The OpenAPI contract: schemathesis sends generated requests (valid and invalid) to every operation of the schema
on a live server and checks that no response breaks the schema and none is a 5xx. Bounded: a fixed seed and a few
examples per operation."""

import ipaddress
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from portal.api import keys
from portal.jobs import webhooks
from portal.jobs.models import WebhookDelivery, WebhookEndpoint
from tests.factories import make_user
from tests.jobs_helpers import finished_job, fixture_inputs, give_plan

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
EXAMPLES_PER_OPERATION = int(os.environ.get("API_CONTRACT_EXAMPLES", "12"))


def loopback_only(host, port, *args, **kwargs):
    """Webhook URLs the fuzzer makes up resolve only when they name an IP: no DNS query leaves the machine."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise socket.gaierror(socket.EAI_NONAME, "not resolved in tests") from None
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    return [(family, socket.SOCK_STREAM, 6, "", (str(address), port))]


@pytest.fixture
def integrator(transactional_db):
    """A Business user with some of everything, so lists and the usage have real rows to describe."""
    user = make_user("integrator@example.com")
    give_plan(user, "business")
    portrait, audio = fixture_inputs(user)
    job = finished_job(user, portrait=portrait, audio=audio)
    finished_job(user, status="failed", video=None, error_code="no_face", error_message="No face.")
    endpoint = WebhookEndpoint.objects.create(owner=user, url="https://127.0.0.1:9/hook", secret="whsec_x")
    WebhookDelivery.objects.create(owner=user, job=job, event="job.succeeded", url=endpoint.url, payload={})
    return user


@pytest.mark.slow
def test_no_response_breaks_the_schema_and_none_is_a_server_error(live_server, integrator, monkeypatch, tmp_path):
    monkeypatch.setattr(webhooks, "lookup", loopback_only)
    _, key = keys.create(integrator, "schemathesis")
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{live_server.url}/api/v1/schema/",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        "1",
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--no-color",
        "--phases",
        "examples,coverage,fuzzing",
        "--report",
        "ndjson",
        "--report-dir",
        str(tmp_path),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)  # its caches stay there
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "operations" in run.stdout.lower(), run.stdout[-2000:]
    events = [json.loads(line) for line in next(tmp_path.glob("*.ndjson")).read_text().splitlines()]
    assert len(events) > 50  # it really exercised the operations
