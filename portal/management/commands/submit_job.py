import time
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from portal import storage
from portal.accounts.models import User
from portal.errors import Refusal
from portal.jobs import services
from portal.jobs.models import Job
from portal.library.upload import store


def _option(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator:
        raise ValueError(f"options are NAME=VALUE, got {text!r}")
    return name.replace("-", "_"), value


class Command(BaseCommand):
    help = (
        "Submit a render job for a user exactly as the web form does (same validation, quota and queue). "
        "Example: submit_job --user a@b.org --portrait face.jpg --audio talk.mp3 --option resolution=512 --wait"
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="The account's email address.")
        parser.add_argument("--portrait", required=True, type=Path, help="An image file (added to their library).")
        parser.add_argument("--audio", required=True, type=Path, help="An audio file (added to their library).")
        parser.add_argument(
            "--option",
            action="append",
            default=[],
            type=_option,
            metavar="NAME=VALUE",
            help="A render option, e.g. resolution=512, dynamic_scale=1.2; repeatable.",
        )
        parser.add_argument("--backend", default=services.DEFAULT_BACKEND, help="builtin (default) or sonic.")
        parser.add_argument("--wait", action="store_true", help="Follow progress and print the download URL.")

    def handle(self, *args, user, portrait, audio, option, backend, wait, **options):
        account = User.objects.filter(email__iexact=user).first()
        if account is None:
            raise CommandError(f"no account with email {user}")
        try:
            with portrait.open("rb") as image, audio.open("rb") as sound:
                picture = store.add_portrait(account, File(image, name=portrait.name))
                clip = store.add_audio(account, File(sound, name=audio.name))
            job = services.submit(account, picture, clip, dict(option), backend=backend)
        except Refusal as refusal:
            raise CommandError(f"{refusal.code}: {refusal.message}") from None
        except OSError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"job {job.id} queued on {job.queue_name} ({job.quota_seconds} s of quota); "
            f"support code {job.support_code}, trace {job.trace_id}"
        )
        if not wait:
            return
        last = None
        while not job.is_finished:
            time.sleep(1)
            job.refresh_from_db()
            state = (job.status, job.stage, round(job.progress * 100))
            if state != last:
                self.stdout.write(f"{job.status} {job.stage} {state[2]}%")
                last = state
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"job {job.id} {job.status}: {job.error_code} {job.error_message}")
        self.stdout.write(f"succeeded: {storage.download_link(job, job.output.name)}")
