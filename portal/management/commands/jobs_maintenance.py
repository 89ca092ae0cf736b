import logging
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from portal.connections import database_reachable
from portal.jobs import reconcile, retention
from portal.library import scripts
from portal.library.upload import receive

logger = logging.getLogger(__name__)


def _database_answers() -> bool:
    """Whether the database takes a new connection and answers on it now."""
    connection.close()
    try:
        return database_reachable()
    finally:
        connection.close()


class Command(BaseCommand):
    help = (
        "Periodic job upkeep: re-send work the queue lost, recover work whose worker died, and delete videos past "
        "their plan's retention (telling their owners), resend or give up upload checks, forget abandoned "
        "uploads. Runs once, or every N seconds with --every."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: run once).")

    def handle(self, *args, every, **options):
        # Heartbeats nobody could write are no sign of death: once the database was away, work is taken for dead
        # again only JOB_HEARTBEAT_TIMEOUT after it answers again (monotonic time in heartbeats_judged_from).
        self.database_away, self.heartbeats_judged_from = False, 0.0
        stopping = threading.Event()
        if every:  # told to stop (a deploy, Ctrl-C): the pass under way finishes, then the loop ends with status 0
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stopping.set())
            self.stdout.write(f"jobs_maintenance: a pass every {every:g} s")
            self.stdout.flush()
        while not stopping.is_set():
            try:
                self.run_once()
                self.database_away = False
            except Exception:
                if not every:
                    raise
                # The database or Redis may be away for a moment: this pass is lost, the next one runs as usual.
                logger.exception("jobs_maintenance: this pass failed; the next one runs in %s s", every)
                away = not _database_answers()
                if away and not self.database_away:
                    logger.warning(
                        "jobs_maintenance: the database is away; no work is taken for dead until it has "
                        "answered again for %s s",
                        settings.JOB_HEARTBEAT_TIMEOUT,
                    )
                self.database_away = away
            if not every:
                return
            stopping.wait(every)
        self.stdout.write("jobs_maintenance: stopped")

    def run_once(self) -> None:
        outcome = reconcile.run(judge_heartbeats=self._judge_heartbeats())
        outcome.update(retention.run())
        outcome.update(receive.upkeep())
        outcome.update(scripts.upkeep())
        if any(outcome.values()):
            self.stdout.write(", ".join(f"{name}: {len(ids)}" for name, ids in outcome.items()))
            self.stdout.flush()

    def _judge_heartbeats(self) -> bool:
        if self.database_away:  # the last pass could not reach it: the clock starts again with this one
            self.heartbeats_judged_from = time.monotonic() + settings.JOB_HEARTBEAT_TIMEOUT
        return time.monotonic() >= self.heartbeats_judged_from
