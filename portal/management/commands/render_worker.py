import logging
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

import renderer
from portal.jobs import dispatch

logger = logging.getLogger(__name__)
# A worker that stops on its own is started again after this long, doubling up to the most while it keeps stopping.
RESTART_FIRST_DELAY_SECONDS, RESTART_MOST_DELAY_SECONDS = 1.0, 30.0
# One that ran this long before it stopped counts as healthy: the next restart waits the first delay again.
RESTART_HEALTHY_AFTER_SECONDS = 60.0


class Command(BaseCommand):
    help = (
        "Run a Dramatiq worker on the queues of the render backends this machine can run (what `python -m renderer "
        "doctor` says), plus the webhook and upload-check queues: a Sonic job therefore only reaches a GPU machine "
        "that has Sonic."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tier", choices=["all", *dispatch.TIERS], default="all",
                            help="'paid' keeps this worker's capacity for paid plans.")
        parser.add_argument("--processes", type=int, default=1)
        parser.add_argument("--threads", type=int, default=2)
        parser.add_argument("--no-webhooks", action="store_true", help="Do not deliver webhooks on this worker.")
        parser.add_argument("--no-upload-checks", action="store_true",
                            help="Do not check arrived uploads (decode, measure, face search) on this worker.")
        parser.add_argument("--restart", action="store_true", help=(
            "Start the worker again whenever it stops without being told to (when one of its processes dies, Dramatiq "
            "stops them all): for running without a process manager that restarts it, as `make run` does."))

    def handle(self, *args, tier, processes, threads, no_webhooks, no_upload_checks, restart, **options):
        if restart:
            command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "render_worker", "--tier", tier,
                       "--processes", str(processes), "--threads", str(threads)]
            command += ["--no-webhooks"] * no_webhooks + ["--no-upload-checks"] * no_upload_checks
            raise SystemExit(keep_running(command))
        tiers = dispatch.TIERS if tier == "all" else (tier,)
        backends = []
        for name, (available, reason) in renderer.available_backends().items():
            self.stdout.write(f"  {name:<8} {'renders here' if available else 'not here: ' + reason}")
            if available:
                backends.append(name)
        queues = [dispatch.queue_for(backend, tier) for backend in backends for tier in tiers]
        if not no_webhooks:
            queues.append(dispatch.WEBHOOK_QUEUE)
        if not no_upload_checks:
            queues.append(dispatch.UPLOAD_CHECK_QUEUE)
        if not queues:
            raise SystemExit("No backend renders on this machine and webhooks are off: nothing to do.")
        self.stdout.write(f"Queues: {' '.join(queues)}")
        self.stdout.flush()
        call_command("rundramatiq", processes=processes, threads=threads, queues=queues)


def keep_running(command: list[str]) -> int:
    """Run `command` (a worker) until this process is told to stop; start it again each time it stops on its own.

    The worker runs in a process group of its own, and a stop signal reaches all of it through this process once, as
    it would if the worker were the process manager's own child."""
    stopping = False
    worker = None

    def stop_worker():
        with suppress(ProcessLookupError):  # it has stopped already
            os.killpg(worker.pid, signal.SIGTERM)

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        if worker is not None:
            stop_worker()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    delay, code = RESTART_FIRST_DELAY_SECONDS, 0
    while not stopping:
        started = time.monotonic()
        worker = subprocess.Popen(command, process_group=0)
        if stopping:  # told to stop while it was starting
            stop_worker()
        code = worker.wait()
        if stopping:
            break
        if time.monotonic() - started >= RESTART_HEALTHY_AFTER_SECONDS:
            delay = RESTART_FIRST_DELAY_SECONDS
        logger.error("the worker stopped on its own (exit status %s: a worker process died or could not start); "
                     "starting it again in %.0f s", code, delay)
        restart_at = time.monotonic() + delay
        while time.monotonic() < restart_at and not stopping:
            time.sleep(0.1)
        delay = min(delay * 2, RESTART_MOST_DELAY_SECONDS)
    return code
