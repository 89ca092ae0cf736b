import math
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portal.checkpoints.promotion import promote
from portal.errors import Refusal


class Command(BaseCommand):
    help = (
        "Record a checkpoint that passed the quality gate, from the figures `python -m renderer qualify "
        "--results-dir DIR` wrote (the same as the qualification pipeline's promote step, for an operator with "
        "database access). Workers then serve those weights."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--results-dir",
            type=Path,
            required=True,
            help="The qualify run's --results-dir: backend, version, digest and figures.",
        )
        parser.add_argument("--report-url", default="", help="Where the run's HTML report was published.")
        parser.add_argument("--pipeline-run", default="", help="The run that qualified it (a PipelineRun's name).")

    def handle(self, *args, results_dir, report_url, pipeline_run, **options):
        def figure(name, kind=str):
            path = results_dir / name
            if not path.exists():
                raise CommandError(f"{path} is missing: is {results_dir} a qualify --results-dir?")
            value = kind(path.read_text().strip())
            return None if isinstance(value, float) and math.isnan(value) else value

        try:
            checkpoint, recorded = promote(
                backend=figure("backend"),
                version=figure("renderer-version"),
                digest=figure("checkpoint-digest"),
                cases_passed=figure("cases-passed", int),
                cases_total=figure("cases-total", int),
                duration_error_ms=figure("duration-error-ms", float),
                offset_frames=figure("offset-frames", float),
                sync_correlation=figure("sync-correlation", float),
                report_url=report_url,
                pipeline_run=pipeline_run,
            )
        except Refusal as refusal:
            raise CommandError(f"{refusal.code}: {refusal.message}") from None
        what = "recorded" if recorded else "was already recorded"
        self.stdout.write(
            f"{checkpoint.backend} {checkpoint.version} {checkpoint.digest} {what}: "
            f"{checkpoint.cases_passed}/{checkpoint.cases_total} cases passed"
        )
