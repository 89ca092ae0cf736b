import time

from django.core.management.base import BaseCommand

from portal.jobs import reconcile, retention


class Command(BaseCommand):
    help = (
        "Periodic job upkeep: re-send jobs the queue lost, recover jobs whose worker died, and delete videos past "
        "their plan's retention (telling their owners). Runs once, or every N seconds with --every."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: run once).")

    def handle(self, *args, every, **options):
        while True:
            outcome = reconcile.run()
            outcome["expired"] = retention.run()
            if any(outcome.values()):
                self.stdout.write(", ".join(f"{name}: {len(ids)}" for name, ids in outcome.items()))
            if not every:
                return
            time.sleep(every)
