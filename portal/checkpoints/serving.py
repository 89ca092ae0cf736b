"""Whether this machine's weights for a backend may serve users, and as which checkpoint.

A worker computes the digest of a backend's weights once per process (renderer.checkpoint_digest: hashing Sonic's
gigabytes takes a while) and looks it up at every render, so a withdrawal stops the next render. The weights serve
only as a checkpoint that was promoted (the qualification pipeline, `manage.py promote_checkpoint`) or that the
repository's committed gate record vouches for (`renderer qualify --record` wrote the same version and digest into
renderer/qualify/records/results.json: CI qualifies builtin that way), and that nobody withdrew. Anything else, new
weights nobody qualified or weights changed under a version that was, is refused with a reason that says what to do.
"""

import logging
import threading

from django.db import IntegrityError

import renderer
from portal.checkpoints.models import Checkpoint

logger = logging.getLogger(__name__)
HOW_TO_QUALIFY = 'qualify them first (docs/deploy.md, "Qualifying a checkpoint")'
_digests: dict[str, str] = {}
_digesting = threading.Lock()


class CheckpointRefused(renderer.RenderError):
    """These weights may not serve users. Not the job's fault: a worker with qualified weights can render it."""

    code = "checkpoint_not_qualified"


def backend_version(backend: str) -> str:
    from renderer.engine import BACKENDS

    return BACKENDS[backend].VERSION


def digest_here(backend: str) -> str:
    """The digest of this machine's weights for `backend`, computed once per process."""
    with _digesting:
        if backend not in _digests:
            _digests[backend] = renderer.checkpoint_digest(backend)
        return _digests[backend]


def checkpoint_for(backend: str, digest: str | None = None) -> Checkpoint:
    """The checkpoint these weights serve as; CheckpointRefused when they may not serve."""
    version = backend_version(backend)
    digest = digest or digest_here(backend)
    short = digest.removeprefix("sha256:")[:12]
    found = Checkpoint.objects.filter(backend=backend, digest=digest).first() or _vouched_by_repository(
        backend, version, digest
    )
    if found is None:
        qualified = Checkpoint.objects.filter(backend=backend, version=version, withdrawn_at=None).first()
        if qualified is not None:
            raise CheckpointRefused(
                f"{backend}: these weights ({short}) are not the {version} weights that passed the quality gate "
                f"({qualified.short_digest}): the checkpoint changed without being qualified; {HOW_TO_QUALIFY}."
            )
        raise CheckpointRefused(
            f"{backend}: checkpoint {short} ({version}) has not passed the quality gate; {HOW_TO_QUALIFY}."
        )
    if found.version != version:
        raise CheckpointRefused(
            f"{backend}: checkpoint {short} passed the quality gate as {found.version}, but this "
            f"code renders it as {version}; {HOW_TO_QUALIFY}."
        )
    if not found.serves:
        raise CheckpointRefused(
            f"{backend}: checkpoint {short} ({version}) was withdrawn on "
            f"{found.withdrawn_at:%Y-%m-%d %H:%M} UTC; roll back to a qualified one or qualify "
            f"a new one."
        )
    return found


def _vouched_by_repository(backend: str, version: str, digest: str) -> Checkpoint | None:
    """The committed gate record of this version, when it passed with these very weights, as a checkpoint."""
    record = renderer.qualification_for(backend, version)
    if not record or record.get("result") != "passed" or record.get("digest") != digest:
        return None
    figures = record.get("figures", {})
    try:
        checkpoint, _ = Checkpoint.objects.get_or_create(
            backend=backend,
            digest=digest,
            defaults=dict(
                version=version,
                source=Checkpoint.Source.REPOSITORY,
                cases_passed=record["cases"],
                cases_total=record["cases"],
                duration_error_ms=figures.get("duration_error_ms"),
                offset_frames=figures.get("offset_frames"),
                sync_correlation=figures.get("sync_correlation"),
            ),
        )
    except IntegrityError:  # another worker recorded it at the same moment
        checkpoint = Checkpoint.objects.get(backend=backend, digest=digest)
    return checkpoint
