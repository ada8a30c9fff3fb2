from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Tenant
from accounts.services import api_token_create


class Command(BaseCommand):
    help = "Issue a partner API token for a tenant; prints it as the last line (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--name", default="partner")
        parser.add_argument("--scopes", default="", help="shipments,documents,invoices")
        parser.add_argument("--accounts", default="", help="limit to these account numbers")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, tenant, name, scopes, accounts, expires_in_days, **options):
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None:
            raise CommandError(f"no tenant {tenant!r}")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            token, secret = api_token_create(
                tenant=found,
                name=name,
                scopes=[s for s in scopes.split(",") if s],
                account_numbers=[a for a in accounts.split(",") if a],
                expires_at=expires_at,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"token {token.prefix}… for {found.slug}; shown once:")
        self.stdout.write(secret)
