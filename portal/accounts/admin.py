from django.apps import apps
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from billing.admin import BillingAccountInline
from portal.accounts.models import User
from portal.support import timeline


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "storage_used", "date_joined"]
    search_fields = ["email", "name"]
    readonly_fields = ["storage_prefix", "storage_used_bytes", "jobs", "last_login", "date_joined", "account_timeline"]
    fieldsets = [
        (None, {"fields": ["email", "password", "name"]}),
        ("Preferences", {"fields": ["language", "time_zone", "email_when_finished"]}),
        ("Account timeline", {"fields": ["account_timeline"]}),
        ("Storage and jobs", {"fields": ["storage_prefix", "storage_used_bytes", "jobs"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    def get_deleted_objects(self, objs, request):
        """An account's billing ledger cannot be deleted on its own (its admin is read-only), but it goes with the
        account: deleting a user (their jobs, files and ledger) needs only the permission to delete users."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        ledger = {model._meta.verbose_name for model in apps.get_app_config("billing").get_models()}
        return deleted, counts, perms_needed - ledger, protected

    def get_inlines(self, request, obj):
        """Plan, limits, usage and Stripe ids (billing); support fixes a plan here. Not on the "add user" page."""
        return [BillingAccountInline] if obj else []

    @admin.display(description="jobs")
    def jobs(self, user):
        """Counts by status, each linking to the user's jobs in the support console."""
        if not user.pk:
            return "-"
        counts = user.jobs.values("status").annotate(count=Count("pk")).order_by("status")
        changelist = reverse("admin:jobs_job_changelist")
        everything = [(f"{changelist}?owner__id__exact={user.pk}", "all jobs", "")]
        by_status = [
            (f"{changelist}?owner__id__exact={user.pk}&status__exact={row['status']}", row["status"], row["count"])
            for row in counts
        ]
        return format_html_join(" · ", '<a href="{}">{} {}</a>', everything + by_status)

    @admin.display(description="storage", ordering="storage_used_bytes")
    def storage_used(self, user):
        return filesizeformat(user.storage_used_bytes)

    @admin.display(description="what happened, newest first")
    def account_timeline(self, user):
        """Sign-up, plan changes, billing and Stripe events, jobs, refunds and support actions, in one list."""
        if not user.pk:
            return "-"
        rows = timeline.for_user(user)
        return format_html(
            '<table class="account-timeline"><tbody>{}</tbody></table>',
            format_html_join(
                "",
                '<tr class="{}"><td>{}</td><td>{}</td><td>{}</td></tr>',
                ((row.kind, f"{row.at:%Y-%m-%d %H:%M}", row.what, row.detail) for row in rows),
            ),
        )
