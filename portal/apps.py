from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Sonic Portal"

    def ready(self):
        from portal import tracing

        tracing.setup()
