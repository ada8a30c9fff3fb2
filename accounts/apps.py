from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Tenants and access"

    def ready(self) -> None:
        from accounts import second_factor  # noqa: F401  (connects its user_logged_in receiver)
