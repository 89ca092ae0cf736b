"""Recording a checkpoint that passed the quality gate: what the qualification pipeline's promote step asks for
(POST /api/v1/checkpoints/, or `manage.py promote_checkpoint`). Only a run in which every case passed is recorded;
recording the same weights again is a no-op, and weights already recorded under another version, or withdrawn,
are refused rather than silently changed."""

import re

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

import renderer
from portal.checkpoints.models import Checkpoint
from portal.errors import Refusal

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def promote(
    *,
    backend: str,
    version: str,
    digest: str,
    cases_passed: int,
    cases_total: int,
    duration_error_ms: float | None = None,
    offset_frames: float | None = None,
    sync_correlation: float | None = None,
    report_url: str = "",
    pipeline_run: str = "",
    by=None,
) -> tuple[Checkpoint, bool]:
    """The checkpoint, and whether it was recorded now (False: the same one was recorded before)."""
    if backend not in renderer.BACKEND_NAMES:
        raise Refusal(
            "unknown_backend",
            _("Unknown backend %(backend)s; choose one of %(names)s.")
            % {"backend": backend, "names": ", ".join(renderer.BACKEND_NAMES)},
            field="backend",
        )
    if not DIGEST.fullmatch(digest or ""):
        raise Refusal(
            "invalid_digest",
            _("The digest must be sha256: and 64 lowercase hex digits, as renderer.checkpoint_digest gives it."),
            field="digest",
        )
    if not version:
        raise Refusal("invalid_version", _("Name the backend version the gate ran."), field="version")
    if cases_total < 1 or cases_passed != cases_total:
        raise Refusal(
            "gate_failed",
            _(
                "Only a checkpoint that passed every case of the quality gate is recorded: "
                "%(passed)s of %(total)s passed."
            )
            % {"passed": cases_passed, "total": cases_total},
            field="figures",
        )
    fields = dict(
        version=version,
        cases_passed=cases_passed,
        cases_total=cases_total,
        duration_error_ms=duration_error_ms,
        offset_frames=offset_frames,
        sync_correlation=sync_correlation,
        report_url=report_url,
        pipeline_run=pipeline_run,
        promoted_by=by,
    )
    try:
        with transaction.atomic():
            return Checkpoint.objects.create(backend=backend, digest=digest, **fields), True
    except IntegrityError:
        existing = Checkpoint.objects.get(backend=backend, digest=digest)
    if existing.version != version:
        raise Refusal(
            "checkpoint_conflict",
            _("These weights were recorded as %(version)s; a checkpoint keeps its version.")
            % {"version": existing.version},
            status=409,
            field="version",
        )
    if not existing.serves:
        raise Refusal(
            "checkpoint_withdrawn",
            _("These weights were withdrawn; qualify new ones instead."),
            status=409,
            field="digest",
        )
    return existing, False
