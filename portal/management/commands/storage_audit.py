from datetime import timedelta

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import Reservation, UsagePeriod
from portal.jobs.models import Job, JobSegment
from portal.library.models import AudioClip, Portrait, UploadPart
from portal.models import StorageAuditRun

# How long the results of earlier runs are kept (/metrics shows only the latest).
KEEP_RUNS = timedelta(days=90)


def stored_files(directory: str = "users") -> list[str]:
    """Every file under `directory` of media storage (file system or S3)."""
    try:
        folders, files = default_storage.listdir(directory)
    except FileNotFoundError:
        return []
    names = [f"{directory}/{name}" for name in files]
    for folder in folders:
        names += stored_files(f"{directory}/{folder}")
    return names


def referenced_files() -> set[str]:
    """Every file name a row points at."""
    names = set()
    for model, fields in (
        (Portrait, ("file", "thumbnail")),
        (AudioClip, ("file",)),
        (Job, ("output", "poster")),
        (JobSegment, ("output",)),
    ):
        for values in model.objects.values_list(*fields):
            names.update(name for name in values if name)
    names.update(UploadPart.objects.values_list("name", flat=True))
    return names


def quota_ledger_mismatches() -> list[UsagePeriod]:
    """Usage periods whose counters disagree with their reservations. billing/quota.py moves a period's counters in
    the transaction that changes a reservation's state (and writes its ledger entry), so reserved_seconds is always
    the seconds of its reservations still held, and used_seconds the seconds charged to the charged ones."""
    held = Coalesce(Sum("reservations__seconds", filter=Q(reservations__state=Reservation.RESERVED)), 0)
    charged = Coalesce(Sum("reservations__charged_seconds", filter=Q(reservations__state=Reservation.CHARGED)), 0)
    periods = UsagePeriod.objects.order_by("pk").annotate(held=held, charged=charged)
    return list(periods.exclude(reserved_seconds=F("held"), used_seconds=F("charged")))


def finished_jobs_holding_quota() -> list[Job]:
    """Finished jobs whose render time is still held: finishing a job charges or refunds it in the same transaction."""
    return list(Job.objects.filter(status__in=Job.FINISHED, reservation__state=Reservation.RESERVED).order_by("pk"))


def record(files: int, referenced: int, **problems: int) -> StorageAuditRun:
    """Keep what this run found (the latest is on /metrics) and forget runs older than KEEP_RUNS."""
    run = StorageAuditRun.objects.create(files=files, referenced=referenced, problems=problems)
    StorageAuditRun.objects.filter(finished_at__lt=run.finished_at - KEEP_RUNS).delete()
    return run


class Command(BaseCommand):
    help = (
        "Compare media storage with the database: files no row points at (left behind) and rows whose file is "
        "missing; and the render-time ledger: usage periods whose counters disagree with their reservations, "
        "finished jobs still holding render time. Exits with status 1 when any list is not empty. Each run's "
        "counts are recorded for /metrics."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace-minutes",
            type=float,
            default=60,
            help="Ignore files younger than this: an upload or a render may be writing them now.",
        )
        parser.add_argument("--delete-orphans", action="store_true", help="Delete the files no row points at.")

    def handle(self, *args, grace_minutes, delete_orphans, **options):
        referenced = referenced_files()
        on_disk = stored_files()
        young_after = timezone.now() - timedelta(minutes=grace_minutes)
        orphans = sorted(
            name
            for name in set(on_disk) - referenced
            if grace_minutes <= 0 or default_storage.get_modified_time(name) < young_after
        )
        missing = sorted(referenced - set(on_disk))
        for name in orphans:
            self.stdout.write(f"no row:  {name}")
        for name in missing:
            self.stdout.write(f"no file: {name}")
        self.stdout.write(
            f"{len(on_disk)} files, {len(referenced)} referenced; {len(orphans)} with no row, "
            f"{len(missing)} rows with no file"
        )
        if delete_orphans and orphans:
            for name in orphans:
                default_storage.delete(name)
            self.stdout.write(f"deleted {len(orphans)} files with no row")
            orphans = []
        ledger = quota_ledger_mismatches()
        holding = finished_jobs_holding_quota()
        for period in ledger:
            self.stdout.write(
                f"ledger:  usage period {period.pk} (user {period.user_id}): {period.used_seconds} s "
                f"used, {period.charged} s charged; {period.reserved_seconds} s reserved, "
                f"{period.held} s held"
            )
        for job in holding:
            self.stdout.write(f"held:    job {job.pk} is {job.status} but still holds {job.quota_seconds} s")
        self.stdout.write(
            f"{len(ledger)} usage periods disagree with their reservations, {len(holding)} finished "
            f"jobs hold render time"
        )
        record(
            len(on_disk),
            len(referenced),
            file_without_row=len(orphans),
            row_without_file=len(missing),
            quota_ledger_mismatch=len(ledger),
            quota_held_by_finished_job=len(holding),
        )
        if orphans or missing or ledger or holding:
            raise CommandError("storage and database disagree", returncode=1)
