from django.apps import AppConfig
from django.db.models.signals import post_migrate


class JobsConfig(AppConfig):
    name = "portal.jobs"
    label = "jobs"
    verbose_name = "Render jobs"

    def ready(self):
        from portal.jobs.support import ensure_support_group

        post_migrate.connect(ensure_support_group, dispatch_uid="portal.jobs.support_group")
