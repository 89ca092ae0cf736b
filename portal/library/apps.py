from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "portal.library"
    label = "library"
    verbose_name = "Media library"

    def ready(self):
        from portal.library import signals  # noqa: F401
