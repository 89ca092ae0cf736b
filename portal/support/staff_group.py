"""The "Support" staff group: what support may see and do, defined here so every environment has the same group.

Support can view accounts, uploads, billing and jobs, and run the job actions (retry, cancel, refund, renew a
download link). It cannot change plans or prices, edit or delete users. `migrate` resets the group to this list,
so a change made in admin does not silently drift from what the README promises.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

GROUP_NAME = "Support"
PERMISSIONS = {
    "accounts": ["view_user"],
    "library": ["view_portrait", "view_audioclip"],
    "jobs": [
        "view_job",
        "view_jobsegment",
        "view_jobstage",
        "view_webhookdelivery",
        "retry_job",
        "cancel_job",
        "refund_job",
        "renew_download_link",
    ],
    "billing": [
        "view_billingaccount",
        "view_billingevent",
        "view_stripeevent",
        "view_stripeprice",
        "view_usageperiod",
        "view_reservation",
    ],
    "admin": ["view_logentry"],
    "support": ["view_auditevent"],
}


def ensure_support_group(using="default", **kwargs) -> None:
    """post_migrate: create or reset the Support group (permissions appear app by app, so it runs after each)."""
    wanted = Q()
    for app_label, codenames in PERMISSIONS.items():
        wanted |= Q(content_type__app_label=app_label, codename__in=codenames)
    group, _ = Group.objects.using(using).get_or_create(name=GROUP_NAME)
    group.permissions.set(Permission.objects.using(using).filter(wanted))
