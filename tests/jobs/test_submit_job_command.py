from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from portal.jobs.models import Job
from tests.factories import FIXTURES, running_worker


def submit(*extra):
    out = StringIO()
    call_command(
        "submit_job",
        "--user",
        "Teacher@Example.com",
        "--portrait",
        str(FIXTURES / "portrait.jpg"),
        "--audio",
        str(FIXTURES / "speech.wav"),
        *extra,
        stdout=out,
    )
    return out.getvalue()


@pytest.mark.slow
def test_submits_like_the_web_form_and_waits_for_a_download_url(teacher, settings):
    settings.SITE_URL = "https://studio.example.org"
    with running_worker():
        output = submit("--option", "resolution=256", "--option", "dynamic-scale=1.2", "--wait")
    job = Job.objects.get()
    assert f"job {job.id} queued on builtin-paid (10 s of quota)" in output
    assert len(job.trace_id) == 32 and f"support code {job.support_code}, trace {job.trace_id}" in output
    assert job.params["dynamic_scale"] == 1.2 and job.status == "succeeded"
    assert "succeeded: https://studio.example.org/jobs/download/" in output
    assert job.portrait.owner == teacher and job.audio.original_name == "speech.wav"


def test_refusals_have_their_code(teacher):
    with pytest.raises(CommandError, match="resolution_not_in_plan"):
        submit("--option", "resolution=1080")
    with pytest.raises(CommandError, match="unknown_parameter"):
        submit("--option", "volume=11")
    assert not Job.objects.exists()


def test_unknown_user(transactional_db):
    with pytest.raises(CommandError, match="no account with email"):
        submit()
