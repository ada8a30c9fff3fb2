from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from accounts.models import (
    ApiToken,
    CustomerAccount,
    Membership,
    SourceSystem,
    StaffProfile,
    Tenant,
)
from accounts.services import customer_account_save


class CustomerAccountInline(admin.TabularInline):
    model = CustomerAccount
    extra = 0
    fields = ["number", "name"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [CustomerAccountInline]

    def save_formset(self, request, form, formset, change):
        if formset.model is not CustomerAccount:
            return super().save_formset(request, form, formset, change)
        # Accounts assigned here go through the service, which releases their held events.
        for account in formset.save(commit=False):
            customer_account_save(account=account)
        for account in formset.deleted_objects:
            account.delete()


@admin.register(CustomerAccount)
class CustomerAccountAdmin(GuardedModelAdmin):
    list_display = ["number", "name", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["number", "name"]

    def save_model(self, request, obj, form, change):
        customer_account_save(account=obj)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "all_accounts", "finance"]
    list_filter = ["tenant", "role"]


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "all_tenants"]
    filter_horizontal = ["tenants"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "prefix", "created_at", "expires_at", "revoked_at",
                    "last_used_at"]
    list_filter = ["tenant"]
    readonly_fields = ["prefix", "token_hash", "last_used_at", "created_at"]


@admin.register(SourceSystem)
class SourceSystemAdmin(admin.ModelAdmin):
    list_display = ["key", "active", "created_at"]
    readonly_fields = ["token_hash"]
