"""Usage: the plan, its limits, seconds used and left this period, storage used."""

from billing import quota
from tests.jobs_helpers import fixture_inputs


def test_usage_counts_reserved_and_used_seconds_and_storage(api, marketer):
    portrait, audio = fixture_inputs(marketer)
    api.post("/api/v1/jobs/", {"portrait": str(portrait.id), "audio": str(audio.id)}, format="json")
    quota.charge(quota.reserve_seconds(marketer, 90, job_ref="earlier"))
    usage = api.get("/api/v1/usage/").json()
    marketer.refresh_from_db()
    assert usage["plan"]["code"] == "pro" and usage["plan"]["api_requests_per_minute"] == 300
    assert (
        usage["plan"]["max_resolution"] == 1080
        and usage["plan"]["resolutions"][-2:] == [720, 1080]
        and usage["plan"]["concurrent_jobs"] == 4
    )
    assert usage["allowance_seconds"] == 4 * 60 * 60
    assert usage["used_seconds"] == 90 and usage["reserved_seconds"] == 10
    assert usage["remaining_seconds"] == 4 * 60 * 60 - 100
    assert usage["active_jobs"] == 1
    assert usage["storage_used_bytes"] == marketer.storage_used_bytes > 0
    assert usage["period_start"] < usage["period_end"]
