from io import StringIO

from django.core.management import call_command


def test_models_and_migrations_agree(db):
    output = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=output)
    assert "No changes detected" in output.getvalue()


def test_uploads_half_way_through_a_deploy_keep_their_parts(transactional_db):
    """0004 turns each upload's list of part names into rows of their own, in order and with their sizes."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from tests.factories import make_user

    owner = make_user("owner@example.com")
    before, after = [("library", "0003_uploads_in_parts")], [("library", "0004_upload_parts")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        names = [f"users/p/incoming/u/{offset:015d}-abcd1234" for offset in (0, 8_388_608, 16_777_216)]
        old.get_model("library", "Upload").objects.create(
            owner_id=owner.pk,
            kind="audio",
            original_name="lecture.wav",
            length=30_000_000,
            received=20_000_000,
            part_names=names,
        )
        executor = MigrationExecutor(connection)
        executor.migrate(after)

        from portal.library.models import Upload

        upload = Upload.objects.get()
        assert upload.part_names() == names
        assert list(upload.parts.order_by("offset").values_list("offset", "size")) == [
            (0, 8_388_608),
            (8_388_608, 8_388_608),
            (16_777_216, 3_222_784),
        ]
    finally:  # the rest of the run needs every later migration back (0004 is not the latest)
        latest = MigrationExecutor(connection)
        latest.migrate(latest.loader.graph.leaf_nodes())
