from django.core.management import call_command
from django.core.management.base import BaseCommand

import renderer
from portal.jobs import dispatch


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

    def handle(self, *args, tier, processes, threads, no_webhooks, no_upload_checks, **options):
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
