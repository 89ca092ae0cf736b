"""The multi-host drill (manage.py cluster_drill) as a test: PostgreSQL, Redis and S3 on a data host, web, two
workers and the scheduler on hosts of their own (network, mount and UTS namespaces on a private bridge, each with its
own empty disk); a lecture rendered on one worker, then on both with one torn down mid-part. Needs root and `ip netns`.

Besides its exit status, the test reads what the drill found (its --json) and the video it downloaded through the web
host, and checks that a leftover of a drill that was killed does not get in the next one's way."""

import json
import os
import subprocess
from io import StringIO
from pathlib import Path

import av
import pytest
from django.core.management import call_command

from portal import cluster_hosts

pytestmark = pytest.mark.drill


@pytest.fixture
def can_run_drill():
    reason = cluster_hosts.available()
    if reason:
        pytest.skip(f"the cluster drill cannot run here: {reason}")


@pytest.fixture
def leftover_of_a_killed_drill(tmp_path):
    """What a drill killed with SIGKILL leaves: a host's namespace with a process still in it, its temp folder."""
    ended = subprocess.Popen(["true"])
    ended.wait()  # a pid that no process has now: the killed drill's
    name = f"{cluster_hosts.PREFIX}{ended.pid}-worker1"
    subprocess.run(["ip", "netns", "add", name], check=True)
    orphan = subprocess.Popen(["ip", "netns", "exec", name, "sleep", "600"])
    folder = Path(cluster_hosts.tempfile.gettempdir()) / f"{cluster_hosts.PREFIX}{ended.pid}-leftover"
    folder.mkdir()
    (folder / "worker1-render_worker.log").write_text("killed\n")
    yield name, orphan, folder
    if orphan.poll() is None:
        orphan.kill()
    subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def test_a_lecture_survives_losing_a_worker_host_and_downloads_through_web(
    can_run_drill, leftover_of_a_killed_drill, tmp_path
):
    leftover, orphan, leftover_folder = leftover_of_a_killed_drill
    out, outcome, video = StringIO(), tmp_path / "drill.json", tmp_path / "lecture.mp4"
    try:
        call_command("cluster_drill", json=outcome, keep_video=video, stdout=out)
    finally:
        print(out.getvalue())
    report = out.getvalue()
    facts = json.loads(outcome.read_text())
    assert facts["passed"] and "FAIL" not in report and report.count("PASS ") == len(facts["checks"]) >= 17

    # The killed drill's leftovers were removed (its process too) before this one began.
    assert f"namespace {leftover}" in facts["leftovers_removed"] and str(leftover_folder) in facts["leftovers_removed"]
    assert orphan.wait(timeout=10) != 0 and not leftover_folder.exists()

    # Traffic could not leave the drill's namespaces.
    assert all(held for _, held in facts["containment"] + facts["containment_at_end"])

    # The lecture on one worker, then on two with worker1 lost: each succeeded once and was charged once.
    one, two, victim = facts["one_worker"], facts["two_workers"], facts["victim"]
    for job in (one, two):
        assert job["status"] == "succeeded" and job["charges"] == 1 and job["refunds"] == 0
        assert job["reservation"] == "charged" and job["attempts"] == 1 and job["join_attempts"] == 1
        assert job["parts"] >= 4 and len(job["segments"]) == job["parts"]
    assert {part["host"] for part in one["segments"]} == {"worker2"}
    done_on = {part["host"] for part in two["segments"] if part["status"] == "done"}
    assert done_on == {"worker1", "worker2"}  # both workers rendered parts of it
    lost = next(part for part in two["segments"] if part["index"] == victim["index"])
    assert victim["worker_host"].startswith("worker1:") and victim["processes_killed"] >= 1
    assert lost == {**lost, "status": "done", "host": "worker2", "attempts": 2}  # rendered again elsewhere
    assert all(part["attempts"] == 1 for part in two["segments"] if part is not lost)
    ready = [message for message in facts["mail"] if "is ready" in message["subject"]]
    assert sorted(message["job"] for message in ready) == sorted([one["id"], two["id"]])
    assert all(message["to"] == "lecturer@drill.example" for message in facts["mail"])

    # Downloaded from the client through web: a redirect to the S3 server on the data host, then the stored bytes.
    download = facts["download"]
    assert download["status"] == 302 and download["location"].startswith("http://data:5000/drill-media/users/")
    assert download["followed_status"] == 200 and download["content_type"] == "video/mp4"
    assert download["bytes"] == two["output_bytes"] == video.stat().st_size > 100_000
    with av.open(str(video)) as container:
        assert "mp4" in container.format.name
        assert abs(container.duration / 1_000_000 - two["audio_seconds"]) < 0.5
        assert container.streams.video and container.streams.audio
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        assert abs(frames - two["audio_seconds"] * float(stream.average_rate)) <= 2
    assert facts["audit"]["clean"]

    # What it printed: per host what it did, and the lecture's time on one worker and on two.
    assert "worker1    10.213." in report and "none: torn down" in report
    assert f"the lecture took {one['took']:.1f} s on one worker" in report
    assert f"torn down while rendering part {victim['index']}" in report

    # Nothing of it is left: namespaces, bind mounts, processes, the hosts' disks.
    prefix = f"{cluster_hosts.PREFIX}{os.getpid()}-"
    assert not [
        line
        for line in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.splitlines()
        if line.startswith(prefix)
    ]
    assert not (cluster_hosts.RUN_ROOT / f"{cluster_hosts.PREFIX}{os.getpid()}").exists()
    assert not list(Path(cluster_hosts.tempfile.gettempdir()).glob(f"{prefix}*"))
