import argparse
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
from portal import queue
from portal.checkpoints.serving import CheckpointRefused, checkpoint_for

logger = logging.getLogger(__name__)
# A worker that stops on its own is started again after this long, doubling up to the most while it keeps stopping.
RESTART_FIRST_DELAY_SECONDS, RESTART_MOST_DELAY_SECONDS = 1.0, 30.0
# One that ran this long before it stopped counts as healthy: the next restart waits the first delay again.
RESTART_HEALTHY_AFTER_SECONDS = 60.0
# After WORKER_SHUTDOWN_SECONDS, renders still running hand their work back (portal/jobs/shutdown.py); Dramatiq waits
# this much longer for them to do so before it exits regardless.
HAND_BACK_SECONDS = 10


class Command(BaseCommand):
    help = (
        "Run a Dramatiq worker on the queues of the render backends this machine can run (what `python -m renderer "
        "doctor` says), plus the webhook and upload-check queues: a Sonic job therefore only reaches a GPU machine "
        "that has Sonic."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--tier",
            choices=["all", *queue.TIERS],
            default="all",
            help="'paid' keeps this worker's capacity for paid plans.",
        )
        parser.add_argument(
            "--backends",
            type=_backend_list,
            default=None,
            help=(
                "Render only these backends (comma-separated, or 'none' for a worker that only checks uploads or sends "
                "webhooks); each must render on this machine. Default: every backend that renders here."
            ),
        )
        parser.add_argument("--processes", type=int, default=1)
        parser.add_argument("--threads", type=int, default=2)
        parser.add_argument("--no-webhooks", action="store_true", help="Do not deliver webhooks on this worker.")
        parser.add_argument(
            "--no-upload-checks",
            action="store_true",
            help="Do not check arrived uploads (decode, measure, face search) on this worker.",
        )
        parser.add_argument(
            "--restart",
            action="store_true",
            help=(
                "Start the worker again whenever it stops without being told to (when one of its processes dies, "
                "Dramatiq stops them all): for running without a process manager that restarts it, as `make run` does."
            ),
        )

    def handle(self, *args, tier, backends, processes, threads, no_webhooks, no_upload_checks, restart, **options):
        if restart:
            command = [
                sys.executable,
                str(settings.BASE_DIR / "manage.py"),
                "render_worker",
                "--tier",
                tier,
                "--processes",
                str(processes),
                "--threads",
                str(threads),
            ]
            command += ["--backends", ",".join(backends) or "none"] if backends is not None else []
            command += ["--no-webhooks"] * no_webhooks + ["--no-upload-checks"] * no_upload_checks
            raise SystemExit(keep_running(command))
        here = []
        for name, (available, reason) in renderer.available_backends().items():
            self.stdout.write(f"  {name:<8} {'renders here' if available else 'not here: ' + reason}")
            if available:
                here.append(name)
        missing = [name for name in backends or () if name not in here]
        if missing:  # a GPU worker without its weights must fail where the operator sees it, not idle
            raise SystemExit(f"Asked to render {', '.join(missing)}, which does not render on this machine (above).")
        serving = self._qualified(here if backends is None else backends, asked=backends is not None)
        queues = worker_queues(serving, tier=tier, webhooks=not no_webhooks, upload_checks=not no_upload_checks)
        if not queues:
            raise SystemExit("No backend renders on this machine and webhooks are off: nothing to do.")
        self.stdout.write(f"Queues: {' '.join(queues)}")
        self.stdout.flush()
        call_command(
            "rundramatiq",
            processes=processes,
            threads=threads,
            queues=queues,
            worker_shutdown_timeout=int((settings.WORKER_SHUTDOWN_SECONDS + HAND_BACK_SECONDS) * 1000),
        )

    def _qualified(self, backends: list[str], *, asked: bool) -> list[str]:
        """The backends whose weights here passed the quality gate; a backend asked for by name must have passed."""
        serving = []
        for name in backends:
            try:
                checkpoint = checkpoint_for(name)
            except CheckpointRefused as refused:
                if asked:
                    raise SystemExit(f"Refusing to render: {refused.message}") from None
                self.stderr.write(f"  {name:<8} not served: {refused.message}")
                continue
            self.stdout.write(
                f"  {name:<8} serves checkpoint {checkpoint.short_digest} ({checkpoint.version}, "
                f"{checkpoint.cases_passed}/{checkpoint.cases_total} cases passed)"
            )
            serving.append(name)
        return serving


def worker_queues(backends, *, tier: str = "all", webhooks: bool = True, upload_checks: bool = True) -> list[str]:
    """The queues a worker with these options takes from."""
    tiers = queue.TIERS if tier == "all" else (tier,)
    queues = [queue.render_queue(backend, tier) for backend in backends for tier in tiers]
    return queues + [queue.WEBHOOK_QUEUE] * webhooks + [queue.UPLOAD_CHECK_QUEUE] * upload_checks


def _backend_list(value: str) -> list[str]:
    names = [] if value.strip() == "none" else [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in renderer.BACKEND_NAMES]
    if unknown or not names and value.strip() != "none":
        raise argparse.ArgumentTypeError(
            f"{value!r}: name backends among {', '.join(renderer.BACKEND_NAMES)}, or 'none'"
        )
    return names


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
        logger.error(
            "the worker stopped on its own (exit status %s: a worker process died or could not start); "
            "starting it again in %.0f s",
            code,
            delay,
        )
        restart_at = time.monotonic() + delay
        while time.monotonic() < restart_at and not stopping:
            time.sleep(0.1)
        delay = min(delay * 2, RESTART_MOST_DELAY_SECONDS)
    return code
