import logging
import time

from django.core.management.base import BaseCommand
from django.db import connection

from portal.jobs import reconcile, retention
from portal.library import receiving

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Periodic job upkeep: re-send work the queue lost, recover work whose worker died, and delete videos past "
        "their plan's retention (telling their owners), resend or give up upload checks, forget abandoned "
        "uploads. Runs once, or every N seconds with --every."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: run once).")

    def handle(self, *args, every, **options):
        while True:
            try:
                self.run_once()
            except Exception:
                if not every:
                    raise
                # The database or Redis may be away for a moment: this pass is lost, the next one runs as usual.
                logger.exception("jobs_maintenance: this pass failed; the next one runs in %s s", every)
                connection.close()
            if not every:
                return
            time.sleep(every)

    def run_once(self) -> None:
        outcome = reconcile.run()
        outcome.update(retention.run())
        outcome.update(receiving.upkeep())
        if any(outcome.values()):
            self.stdout.write(", ".join(f"{name}: {len(ids)}" for name, ids in outcome.items()))
            self.stdout.flush()
