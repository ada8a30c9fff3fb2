from django.core.management.base import BaseCommand, CommandError

from accounts.services import tenant_create_or_update


class Command(BaseCommand):
    help = "Create a tenant (or update it) and assign ERP customer accounts to it."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--accounts", default="", help="Comma-separated account numbers")

    def handle(self, *args, slug, name, accounts, **options):
        try:
            tenant = tenant_create_or_update(
                slug=slug, name=name, account_numbers=accounts.split(",")
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        numbers = ", ".join(tenant.accounts.order_by("number").values_list("number", flat=True))
        self.stdout.write(f"tenant {tenant.slug} ({tenant.name}): accounts {numbers or 'none'}")
