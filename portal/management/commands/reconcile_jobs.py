import time

from django.core.management.base import BaseCommand

from portal.jobs import reconcile


class Command(BaseCommand):
    help = "Re-send jobs the queue lost and recover jobs whose worker died (once, or --every N seconds)."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: run once).")

    def handle(self, *args, every, **options):
        while True:
            outcome = reconcile.run()
            if any(outcome.values()):
                self.stdout.write(", ".join(f"{name}: {len(ids)}" for name, ids in outcome.items()))
            if not every:
                return
            time.sleep(every)
