"""Faults injected into real processes (manage.py fault_drill): Redis stopped while work is queued and rendering and
started again empty; media storage full when videos are stored; two workers with no shared disk on S3 (moto), one
killed in the middle of a part; PostgreSQL refusing connections for a few seconds while a part renders. Every job
must end succeeded (or failed with its reservation refunded and a reason), nothing charged twice, no file left
without a row, the worker still running."""

import os
from io import StringIO

import pytest
from django.core.management import call_command

from portal.accounts.models import User
from tests.factories import stored_files

pytestmark = pytest.mark.drill


def drill(scenario: str) -> str:
    """The drill's report (printed for the log); call_command raises CommandError when a check fails."""
    out = StringIO()
    call_command("fault_drill", scenario, stdout=out)
    print(out.getvalue())
    return out.getvalue()


EVERY_DRILL = [
    "every job succeeded, or failed with its reservation refunded",
    "no job charged twice",
    "no file without a row, no row without its file (storage_audit)",
    "the worker kept running through the fault",
]


def verdicts(report: str) -> dict[str, str]:
    """Each check the drill made, by its words, with PASS or FAIL."""
    return {line[5:]: line[:4] for line in report.splitlines() if line[:5] in ("PASS ", "FAIL ")}


def assert_passed(report: str, *checks: str) -> None:
    """Exactly these checks were made (with EVERY_DRILL's), and each passed."""
    made = verdicts(report)
    expected = [*EVERY_DRILL, *checks]
    assert made == dict.fromkeys(expected, "PASS"), report


def test_a_redis_restart_loses_no_job(transactional_db):
    report = drill("redis-restart")
    assert_passed(report, "every job succeeded")
    assert not User.objects.exists() and stored_files() == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the drill mounts a 3 MB tmpfs as media storage, which needs root")
def test_a_full_media_disk_fails_jobs_cleanly_and_refunds_them(transactional_db):
    report = drill("disk-full")
    assert_passed(report, "every job failed with a reason its owner reads")


def test_a_lecture_split_across_two_machines_survives_losing_one(transactional_db):
    report = drill("two-machines")
    assert "machine 1 killed" in report
    [both] = [check for check in verdicts(report) if check.startswith("the lecture's parts were finished on both")]
    assert_passed(report, "every job succeeded", both)


def test_a_database_outage_while_a_part_renders_loses_no_job(transactional_db):
    report = drill("db-outage")
    assert "db refused connections" in report
    assert_passed(report, "every job succeeded", "every job's owner was emailed once how it ended")
    assert not User.objects.exists() and stored_files() == []
