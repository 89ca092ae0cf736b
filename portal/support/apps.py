from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SupportConfig(AppConfig):
    name = "portal.support"
    label = "support"
    verbose_name = "Support"

    def ready(self):
        from portal.support.staff_group import ensure_support_group

        post_migrate.connect(ensure_support_group, dispatch_uid="portal.support.staff_group")
