"""What an outside probe did to `make run`: SIGKILL to the worker's child process. Dramatiq then stops the whole
worker, and the process manager used to stop web and scheduler with it. Now `runportal` starts the worker again:
the web keeps answering, the scheduler keeps running, and the new worker takes work."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
from django.conf import settings

from portal.connections import database_url
from portal.library.models import Upload
from portal.library.upload import receive
from portal.local_ports import free_port
from tests.media import audio_bytes, upload

pytestmark = pytest.mark.drill


def dramatiq_processes(root: psutil.Process) -> tuple[list[psutil.Process], list[psutil.Process]]:
    """The Dramatiq main processes under `root`, and their worker processes."""

    def is_dramatiq(process):
        try:
            return any("dramatiq" in part for part in process.cmdline())
        except psutil.Error:
            return False

    found = [process for process in root.children(recursive=True) if is_dramatiq(process)]
    mains = [process for process in found if not is_dramatiq(process.parent())]
    return mains, [process for main in mains for process in main.children() if is_dramatiq(process)]


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def eventually(condition, what: str, seconds: float, portal: subprocess.Popen, log):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert portal.poll() is None, f"runportal stopped: {log.read_text()[-3000:]}"
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {seconds} s; runportal's output: {log.read_text()[-3000:]}")


def test_a_killed_worker_process_is_started_again_and_web_and_scheduler_keep_running(owner, transactional_db, tmp_path):
    namespace = settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"]
    port, log = free_port(), tmp_path / "runportal.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "SONIC_TEST_NAMESPACE": namespace,
        "SONIC_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    with log.open("w") as output:
        portal = subprocess.Popen(
            [sys.executable, "manage.py", "runportal", "--addr", f"127.0.0.1:{port}"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    tree = psutil.Process(portal.pid)
    try:
        eventually(lambda: healthy(port), "the portal answers", 120, portal, log)
        (first_main,), workers = eventually(
            lambda: dramatiq_processes(tree)[1] and dramatiq_processes(tree), "a worker runs", 120, portal, log
        )
        scheduler = next(
            process for process in tree.children(recursive=True) if "jobs_maintenance" in " ".join(process.cmdline())
        )

        os.kill(workers[0].pid, signal.SIGKILL)

        def restarted():
            assert healthy(port), "the web answers all along"
            mains, workers = dramatiq_processes(tree)
            return bool(workers) and all(main.pid != first_main.pid for main in mains)

        eventually(restarted, "a new worker", 90, portal, log)
        assert scheduler.is_running() and scheduler.status() != psutil.STATUS_ZOMBIE
        assert "starting it again" in log.read_text()

        arrived = receive.receive_whole(owner, "audio", upload("talk.wav", audio_bytes(".wav", seconds=1.0)))
        eventually(
            lambda: Upload.objects.get(pk=arrived.pk).status == Upload.Status.READY,
            "the new worker checks an upload",
            60,
            portal,
            log,
        )
    finally:
        everything = [tree, *tree.children(recursive=True)]
        os.killpg(portal.pid, signal.SIGINT)  # Ctrl-C, as a terminal sends it
        portal.wait(timeout=60)
        gone, alive = psutil.wait_procs(everything, timeout=30)
        assert alive == [], f"still running after Ctrl-C: {[process.cmdline() for process in alive]}"
