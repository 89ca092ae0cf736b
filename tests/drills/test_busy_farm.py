"""The busy-farm scenario (manage.py busy_farm) as a test: two worker processes, a 20-part lecture, ten short jobs
of the same tier, a 3-second heartbeat timeout and one worker killed with SIGKILL in the middle of a part."""

from io import StringIO

import pytest
from django.core.management import call_command

from portal.accounts.models import User
from tests.factories import stored_files

pytestmark = pytest.mark.drill


def test_a_busy_farm_loses_nothing_when_a_worker_is_killed(transactional_db):
    out = StringIO()
    call_command("busy_farm", parts=20, short_jobs=10, stdout=out)  # raises CommandError when a check fails
    report = out.getvalue()
    print(report)
    assert report.count("PASS ") == 5 and "FAIL" not in report
    assert "killed worker 1" in report
    assert not User.objects.exists() and stored_files() == []  # its accounts and files are gone
