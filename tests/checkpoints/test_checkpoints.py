"""Which weights may serve users (portal/checkpoints/serving.py): a checkpoint the gate passed and nobody withdrew.
New weights nobody qualified, weights changed under a qualified version, a version the code does not render and
withdrawn weights are refused with a reason; the repository's committed gate record vouches for builtin."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.utils import timezone

import renderer
from portal.checkpoints.models import Checkpoint
from portal.checkpoints.serving import CheckpointRefused, backend_version, checkpoint_for
from portal.connections import database_url

QUALIFIED, OTHER = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def qualified(backend="builtin", digest=QUALIFIED, **fields) -> Checkpoint:
    return Checkpoint.objects.create(
        backend=backend,
        version=fields.pop("version", backend_version(backend)),
        digest=digest,
        cases_passed=17,
        cases_total=17,
        **fields,
    )


def refusal(backend="builtin", digest=OTHER) -> str:
    with pytest.raises(CheckpointRefused) as refused:
        checkpoint_for(backend, digest)
    assert refused.value.retryable, "another worker, with qualified weights, may render the job"
    return refused.value.message


def test_qualified_weights_serve(db):
    checkpoint = qualified()
    assert checkpoint_for("builtin", QUALIFIED) == checkpoint


def test_weights_nobody_qualified_are_refused(db):
    assert "has not passed the quality gate; qualify them first" in refusal()


def test_weights_changed_under_a_qualified_version_are_refused(db):
    qualified()
    message = refusal(digest=OTHER)
    assert "not the builtin-" in message and "the checkpoint changed without being qualified" in message
    assert "111111111111" in message and "222222222222" in message


def test_weights_qualified_as_another_version_are_refused(db):
    qualified(version="builtin-0")
    assert "passed the quality gate as builtin-0, but this code renders it as" in refusal(digest=QUALIFIED)


def test_withdrawn_weights_serve_nobody(db):
    qualified(withdrawn_at=timezone.now())
    assert "was withdrawn on" in refusal(digest=QUALIFIED)


def test_the_repositorys_gate_record_vouches_for_the_builtin_weights_ci_qualified(db):
    """`make qualify` records builtin's version and digest in results.json: workers serve it with no pipeline."""
    record = renderer.qualification_for("builtin", backend_version("builtin"))
    checkpoint = checkpoint_for("builtin")
    assert checkpoint.digest == renderer.checkpoint_digest("builtin") == record["digest"]
    assert (checkpoint.source, checkpoint.cases_passed) == (Checkpoint.Source.REPOSITORY, record["cases"])
    assert checkpoint_for("builtin") == checkpoint, "recorded once"


@pytest.mark.slow
def test_a_worker_whose_weights_were_withdrawn_refuses_to_start(transactional_db):
    Checkpoint.objects.create(
        backend="builtin",
        version=backend_version("builtin"),
        digest=renderer.checkpoint_digest("builtin"),
        cases_passed=17,
        cases_total=17,
        withdrawn_at=timezone.now(),
    )
    worker = subprocess.run(
        [sys.executable, "manage.py", "render_worker", "--backends", "builtin"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": database_url()},
    )
    assert worker.returncode != 0
    assert "Refusing to render: builtin: checkpoint" in worker.stderr and "was withdrawn" in worker.stderr
