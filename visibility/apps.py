from django.apps import AppConfig


class VisibilityConfig(AppConfig):
    name = "visibility"
    verbose_name = "Orders and shipments"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from core import lookups  # noqa: F401  (registers `__any`)
        from core.database import use_compiled_timestamp_loader

        connection_created.connect(use_compiled_timestamp_loader)
