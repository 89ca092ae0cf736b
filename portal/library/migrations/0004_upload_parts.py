import django.db.models.deletion
from django.db import migrations, models


def parts_to_rows(apps, schema_editor):
    """Uploads half-way through a deploy keep their parts: each stored name (…/<offset, 15 digits>-<random>) becomes
    a row; a part's size is the distance to the next one (the last one's, to what was received)."""
    Upload = apps.get_model("library", "Upload")
    UploadPart = apps.get_model("library", "UploadPart")
    for upload in Upload.objects.exclude(part_names=[]).iterator():
        offsets = [int(name.rsplit("/", 1)[-1].split("-", 1)[0]) for name in upload.part_names]
        ends = [*offsets[1:], upload.received]
        UploadPart.objects.bulk_create(
            UploadPart(upload=upload, offset=offset, size=end - offset, name=name)
            for name, offset, end in zip(upload.part_names, offsets, ends)
        )


def rows_to_parts(apps, schema_editor):
    Upload = apps.get_model("library", "Upload")
    for upload in Upload.objects.filter(parts__isnull=False).distinct().iterator():
        upload.part_names = list(upload.parts.order_by("offset").values_list("name", flat=True))
        upload.save(update_fields=["part_names"])


class Migration(migrations.Migration):

    dependencies = [
        ('library', '0003_uploads_in_parts'),
    ]

    operations = [
        migrations.CreateModel(
            name='UploadPart',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('offset', models.BigIntegerField(help_text='Where in the file the part starts.')),
                ('size', models.BigIntegerField()),
                ('name', models.CharField(help_text='Its name in media storage.', max_length=255)),
                ('upload', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='parts', to='library.upload')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('upload', 'offset'), name='one_part_per_offset')],
            },
        ),
        migrations.RunPython(parts_to_rows, rows_to_parts),
        migrations.RemoveField(
            model_name='upload',
            name='part_names',
        ),
    ]
