from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role, Tenant
from accounts.services import user_create

ROLES = ["member", "tenant_admin", "staff", "platform_admin"]


class Command(BaseCommand):
    help = "Create a user with a role: member, tenant_admin, staff or platform_admin."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--role", choices=ROLES, default="member")
        parser.add_argument("--tenant", help="tenant slug (member, tenant_admin)")
        parser.add_argument("--accounts", default="", help="limit a member to these accounts")
        parser.add_argument("--finance", action="store_true", help="may see invoices")
        parser.add_argument(
            "--staff-tenants", default="", help="tenant slugs staff serve; empty means all"
        )

    def handle(
        self,
        *args,
        username,
        password,
        email,
        role,
        tenant,
        accounts,
        finance,
        staff_tenants,
        **options,
    ):
        found = None
        if role in ("member", "tenant_admin"):
            found = Tenant.objects.filter(slug=tenant or "").first()
            if found is None:
                raise CommandError(f"--tenant must name an existing tenant, not {tenant!r}")
        slugs = [slug for slug in staff_tenants.split(",") if slug]
        user_create(
            username=username,
            password=password,
            email=email,
            tenant=found,
            role=Role.TENANT_ADMIN if role == "tenant_admin" else Role.MEMBER,
            account_numbers=[a for a in accounts.split(",") if a],
            finance=finance,
            staff_tenants=Tenant.objects.filter(slug__in=slugs) if role == "staff" else None,
            staff_all_tenants=role == "staff" and not slugs,
            platform_admin=role == "platform_admin",
        )
        self.stdout.write(f"user {username} ({role}) ready")
