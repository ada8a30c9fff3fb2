from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant
from accounts.services.tenants import deactivate_tenant, reactivate_tenant


class Command(BaseCommand):
    help = (
        "Deactivate a tenant (members signed out, partner tokens refused, events still "
        "accepted, nothing deleted) or reactivate it."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--deactivate", action="store_true")
        group.add_argument("--reactivate", action="store_true")
        parser.add_argument("--reason", default="")

    def handle(self, *args, slug, deactivate, reactivate, reason, **options):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant {slug!r}")
        change = deactivate_tenant if deactivate else reactivate_tenant
        change(tenant=tenant, actor="command:set_tenant_active", reason=reason)
        state = "active" if tenant.is_active else "deactivated"
        self.stdout.write(f"tenant {tenant.slug}: {state}")
