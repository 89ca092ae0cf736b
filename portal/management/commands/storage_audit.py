from datetime import timedelta

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.jobs.models import Job, JobSegment
from portal.library.models import AudioClip, Portrait, UploadPart


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
    for model, fields in ((Portrait, ("file", "thumbnail")), (AudioClip, ("file",)), (Job, ("output", "poster")),
                          (JobSegment, ("output",))):
        for values in model.objects.values_list(*fields):
            names.update(name for name in values if name)
    names.update(UploadPart.objects.values_list("name", flat=True))
    return names


class Command(BaseCommand):
    help = (
        "Compare media storage with the database: files no row points at (left behind) and rows whose file is "
        "missing. Exits with status 1 when either list is not empty."
    )

    def add_arguments(self, parser):
        parser.add_argument("--grace-minutes", type=float, default=60,
                            help="Ignore files younger than this: an upload or a render may be writing them now.")
        parser.add_argument("--delete-orphans", action="store_true", help="Delete the files no row points at.")

    def handle(self, *args, grace_minutes, delete_orphans, **options):
        referenced = referenced_files()
        on_disk = stored_files()
        young_after = timezone.now() - timedelta(minutes=grace_minutes)
        orphans = sorted(name for name in set(on_disk) - referenced
                         if grace_minutes <= 0 or default_storage.get_modified_time(name) < young_after)
        missing = sorted(referenced - set(on_disk))
        for name in orphans:
            self.stdout.write(f"no row:  {name}")
        for name in missing:
            self.stdout.write(f"no file: {name}")
        self.stdout.write(f"{len(on_disk)} files, {len(referenced)} referenced; {len(orphans)} with no row, "
                          f"{len(missing)} rows with no file")
        if delete_orphans and orphans:
            for name in orphans:
                default_storage.delete(name)
            self.stdout.write(f"deleted {len(orphans)} files with no row")
            orphans = []
        if orphans or missing:
            raise CommandError("storage and database disagree", returncode=1)
