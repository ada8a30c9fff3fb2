from django.apps import AppConfig


class IntegrationConfig(AppConfig):
    name = "integration"
    verbose_name = "Event intake"

    def ready(self) -> None:
        from accounts.signals import accounts_assigned
        from integration.receivers import release_events_held_for_accounts

        accounts_assigned.connect(
            release_events_held_for_accounts, dispatch_uid="integration.release_held_accounts"
        )
