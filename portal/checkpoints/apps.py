from django.apps import AppConfig


class CheckpointsConfig(AppConfig):
    name = "portal.checkpoints"
    label = "checkpoints"
    verbose_name = "Renderer checkpoints"
