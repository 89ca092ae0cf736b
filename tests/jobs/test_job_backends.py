"""Backends: a job asks for one its plan allows and the operator enabled; each backend has its own queues; workers
take only the queues of the backends their machine runs; a backend no live worker offers is refused at once."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

import renderer
from billing.plans import PLANS
from portal.connections import database_url
from portal.errors import Refusal
from portal.jobs import services, worker_presence
from portal.jobs.forms import JobForm
from portal.jobs.models import Job
from tests.factories import make_user, running_worker
from tests.jobs_helpers import fixture_inputs, give_plan, reservation_state, wait_for


@pytest.fixture
def pro(transactional_db):
    user = make_user("pro@example.com")
    give_plan(user, "pro")
    return user


def refusal_code(user, backend) -> str:
    with pytest.raises(Refusal) as refused:
        services.submit(user, *fixture_inputs(user), {"resolution": 256}, backend=backend)
    return refused.value.code


def announce(backends: list[str]) -> None:
    """What a GPU worker with Sonic says when it boots (no such machine here)."""
    worker_presence.announce("gpu-1:4242:1", backends)


def test_a_backend_the_operator_did_not_enable_is_refused(pro):
    assert refusal_code(pro, "sonic") == "backend_not_enabled"
    assert refusal_code(pro, "dall-e") == "backend_not_enabled"
    assert not Job.objects.exists()


def test_a_backend_outside_the_plan_is_refused(transactional_db, settings):
    settings.RENDER_BACKENDS = ["builtin", "sonic"]
    teacher = make_user("teacher@example.com")
    give_plan(teacher, "teacher")
    announce(["sonic"])
    assert refusal_code(teacher, "sonic") == "backend_not_in_plan"


def test_a_backend_no_live_worker_offers_is_refused_before_anything_is_reserved(pro, settings):
    settings.RENDER_BACKENDS = ["builtin", "sonic"]
    with running_worker(threads=1):  # a CPU machine: it offers builtin only
        assert worker_presence.offered_backends() == {"builtin"}
        assert refusal_code(pro, "sonic") == "backend_unavailable"
    assert not Job.objects.exists()
    from billing.quota import usage_summary

    assert usage_summary(pro)["reserved_seconds"] == 0


def test_a_backend_whose_workers_start_on_demand_is_taken_with_none_running(pro, settings):
    """GPU workers scaled to zero (deploy/): the job waits in the queue that starts one."""
    settings.RENDER_BACKENDS = ["builtin", "sonic"]
    settings.RENDER_BACKENDS_STARTED_ON_DEMAND = ["sonic"]
    assert worker_presence.offered_backends() == set()
    job = services.submit(pro, *fixture_inputs(pro), {"resolution": 256}, backend="sonic")
    assert (job.status, job.queue_name) == ("queued", "sonic-paid")
    assert reservation_state(job) == "reserved"


@pytest.mark.slow
def test_a_sonic_job_waits_on_sonic_queues_that_cpu_workers_never_take(pro, settings):
    settings.RENDER_BACKENDS = ["builtin", "sonic"]
    announce(["sonic"])
    sonic_job = services.submit(pro, *fixture_inputs(pro), {"resolution": 256}, backend="sonic")
    builtin_job = services.submit(pro, *fixture_inputs(pro), {"resolution": 256})
    assert (sonic_job.queue_name, builtin_job.queue_name) == ("sonic-paid", "builtin-paid")
    cpu_machine = {"builtin-paid", "builtin-free", "webhooks"}  # what render_worker listens to here (tested below)
    with running_worker(threads=1, queues=cpu_machine):
        assert wait_for(builtin_job).status == "succeeded"
    sonic_job.refresh_from_db()
    assert sonic_job.status == "queued" and sonic_job.attempts == 0
    assert reservation_state(sonic_job) == "reserved"


def test_a_stopped_worker_takes_its_offer_back():
    with running_worker(threads=1):
        assert "builtin" in worker_presence.offered_backends()
    assert worker_presence.offered_backends() == set()


@pytest.mark.slow
def test_render_worker_listens_only_to_the_queues_of_backends_this_machine_runs(transactional_db):
    process = subprocess.Popen(
        [sys.executable, "manage.py", "render_worker", "--processes", "1", "--threads", "1"],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url()},
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.strip())
            if line.startswith("Queues:"):
                break
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Queues: builtin-paid builtin-free webhooks uploads" in lines, lines
    assert any(line.startswith("sonic") and "not here" in line for line in lines), lines


@pytest.mark.slow
def test_a_worker_asked_for_a_backend_its_machine_cannot_run_refuses_to_start():
    """A GPU worker whose Sonic weights are missing stops where its operator sees it, rather than idling."""
    result = subprocess.run(
        [sys.executable, "manage.py", "render_worker", "--backends", "sonic"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Asked to render sonic, which does not render on this machine" in result.stderr
    unknown = subprocess.run(
        [sys.executable, "manage.py", "render_worker", "--backends", "dall-e"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unknown.returncode != 0 and "name backends among builtin, sonic, or 'none'" in unknown.stderr


def test_worker_options_choose_its_queues():
    from portal.management.commands.render_worker import worker_queues

    assert worker_queues(["builtin"], webhooks=False, upload_checks=False) == ["builtin-paid", "builtin-free"]
    assert worker_queues(["sonic"], tier="paid", webhooks=False, upload_checks=False) == ["sonic-paid"]
    assert worker_queues([], webhooks=False) == ["uploads"]


def test_every_plans_maximum_resolution_is_offered_and_renderable():
    """One number per plan, the same in the plan table, the form and the renderer's limits (the shorter side)."""
    for plan in PLANS.values():
        assert plan.max_resolution in renderer.RESOLUTIONS
        assert renderer.validate_params({"resolution": plan.max_resolution}).resolution == plan.max_resolution
    assert max(plan.max_resolution for plan in PLANS.values()) == renderer.MAX_RESOLUTION == 1440
    assert (PLANS["pro"].max_resolution, PLANS["business"].max_resolution) == (1080, 1440)


@pytest.mark.parametrize("plan_code", ["free", "teacher", "pro", "business"])
def test_the_form_offers_the_plans_sizes_up_to_its_maximum(transactional_db, plan_code):
    user = make_user(f"{plan_code}@example.com")
    plan = PLANS[plan_code]
    form = JobForm(user, plan.resolutions)
    sizes = [size for size, _ in form.fields["resolution"].choices]
    assert sizes[-1] == plan.max_resolution and all(size in renderer.RESOLUTIONS for size in sizes)
