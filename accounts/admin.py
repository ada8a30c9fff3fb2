from typing import Any

from django import forms
from django.contrib import admin

from accounts.models import (
    ApiToken,
    CustomerAccount,
    Membership,
    SourceSystem,
    StaffProfile,
    Tenant,
)
from accounts.selectors import member_of_tenant
from accounts.services import (
    customer_account_save,
    membership_change_refusal,
    membership_create,
    membership_update,
)
from accounts.services.tenants import deactivate_tenant, reactivate_tenant


class CustomerAccountInline(admin.TabularInline):
    model = CustomerAccount
    extra = 0
    fields = ["number", "name"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "is_active", "require_second_factor", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["slug", "name"]
    # Active or not changes only through the actions: the service audits it.
    readonly_fields = ["is_active"]
    inlines = [CustomerAccountInline]
    actions = ["deactivate", "reactivate"]

    @admin.action(description="Deactivate (sign members out, refuse tokens; keep data)")
    def deactivate(self, request, queryset):
        for tenant in queryset:
            deactivate_tenant(tenant=tenant, actor=request.user, reason="admin action")
        self.message_user(request, f"{queryset.count()} tenant(s) deactivated.")

    @admin.action(description="Reactivate")
    def reactivate(self, request, queryset):
        for tenant in queryset:
            reactivate_tenant(tenant=tenant, actor=request.user, reason="admin action")
        self.message_user(request, f"{queryset.count()} tenant(s) reactivated.")

    def save_formset(self, request, form, formset, change):
        if formset.model is not CustomerAccount:
            return super().save_formset(request, form, formset, change)
        # Accounts assigned here go through the service, which releases their held events.
        for account in formset.save(commit=False):
            customer_account_save(account=account)
        for account in formset.deleted_objects:
            account.delete()


# A plain ModelAdmin, not guardian's GuardedModelAdmin: per-account grants change only on
# the tenant's members page, through the services that audit them.
@admin.register(CustomerAccount)
class CustomerAccountAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["number", "name"]

    def save_model(self, request, obj, form, change):
        customer_account_save(account=obj)


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "tenant", "role", "all_accounts", "finance"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.instance.pk is not None:
            current = Membership.objects.select_related("tenant", "user").get(pk=self.instance.pk)
            member = member_of_tenant(current.tenant_id, current.id)
            refusal = membership_change_refusal(
                membership=current,
                role=cleaned.get("role", current.role),
                all_accounts=cleaned.get("all_accounts", current.all_accounts),
                account_numbers=member.accounts if member else [],
                active=current.user.is_active,
            )
            if refusal:
                raise forms.ValidationError(refusal)
        return cleaned


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Saves go through the services: grants stay in step and every change is audited."""

    form = MembershipAdminForm
    list_display = ["user", "tenant", "role", "all_accounts", "finance"]
    list_filter = ["tenant", "role"]

    def get_fields(self, request, obj=None):
        return (
            ["user", "tenant", "role", "finance"]
            if obj is None
            else ["user", "tenant", "role", "all_accounts", "finance"]
        )

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["user", "tenant"]

    def save_model(self, request, obj, form, change):
        if not change:
            membership_create(
                user=obj.user,
                tenant=obj.tenant,
                role=obj.role,
                finance=obj.finance,
                created_by=request.user,
                request=request,
            )
            return
        member = member_of_tenant(obj.tenant_id, obj.id)
        membership_update(
            membership=obj,
            role=obj.role,
            all_accounts=obj.all_accounts,
            account_numbers=member.accounts if member else [],
            finance=obj.finance,
            changed_by=request.user,
            request=request,
        )


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "all_tenants"]
    filter_horizontal = ["tenants"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "tenant",
        "prefix",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["tenant"]
    readonly_fields = ["prefix", "token_hash", "last_used_at", "created_at"]


@admin.register(SourceSystem)
class SourceSystemAdmin(admin.ModelAdmin):
    list_display = ["key", "role", "limited_to", "active", "created_at"]
    list_filter = ["role", "active"]
    fields = ["key", "role", "account_numbers", "active", "token_hash"]
    readonly_fields = ["token_hash"]

    @admin.display(description="Accounts")
    def limited_to(self, source: SourceSystem) -> str:
        return ", ".join(source.account_numbers) or "all"
