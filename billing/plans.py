"""The plan table: the one place that says what each plan allows. Everything else reads it through these functions.

`plan_for(user)` answers from the local database only (never Stripe), so it is safe on every request.
"""

from dataclasses import dataclass, replace

from django.conf import settings
from django.utils.translation import gettext, gettext_lazy, gettext_noop

import renderer

GB = 1024**3

FREE, TEACHER, PRO, BUSINESS = "free", "teacher", "pro", "business"


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    monthly_price_cents: int  # USD; 0 for Free (never sold through Stripe)
    monthly_render_seconds: int  # render seconds per billing period
    max_job_seconds: int  # longest single render job (audio length)
    max_resolution: int  # the video's shorter side, in pixels: one of renderer.RESOLUTIONS
    concurrent_jobs: int  # jobs queued or running at once
    storage_bytes: int  # portraits, audio and outputs together
    retention_days: int  # finished outputs are deleted this many days after they are made
    queue_tier: str  # "free" or "paid": which render queue jobs go to
    api_access: bool  # may use the REST API
    watermark: bool  # outputs carry a visible watermark (every output carries "AI-generated" metadata)
    backends: tuple[str, ...] = ("builtin",)  # render backends jobs may ask for (where the operator enabled them)
    # Requests per minute per API key (the portal's own pages count per user); 429 with Retry-After above it.
    api_requests_per_minute: int = 120
    summary: str = ""

    @property
    def display_name(self) -> str:
        """The name people read, in their language (`name` stays English: Stripe products, the audit log)."""
        return gettext(self.name)

    @property
    def resolutions(self) -> tuple[int, ...]:
        """The sizes this plan renders: the renderer's sizes up to the plan's maximum (the form and API offer these)."""
        return tuple(size for size in renderer.RESOLUTIONS if size <= self.max_resolution)

    @property
    def is_paid(self) -> bool:
        return self.monthly_price_cents > 0

    @property
    def lookup_key(self) -> str:
        """The Stripe Price lookup key of this plan's monthly price (sync_stripe_plans creates it)."""
        return f"sonic_{self.code}_monthly"

    @property
    def monthly_price(self) -> str:
        dollars, cents = divmod(self.monthly_price_cents, 100)
        return f"${dollars}" if cents == 0 else f"${dollars}.{cents:02d}"


PLANS: dict[str, Plan] = {
    plan.code: plan
    for plan in [
        Plan(
            code=FREE,
            name=gettext_noop("Free"),
            monthly_price_cents=0,
            monthly_render_seconds=5 * 60,
            max_job_seconds=60,
            max_resolution=512,
            concurrent_jobs=1,
            storage_bytes=2 * GB,
            retention_days=7,
            queue_tier="free",
            api_access=False,
            watermark=True,
            summary="Try it out: short clips with a watermark.",
        ),
        Plan(
            code=TEACHER,
            name=gettext_noop("Teacher"),
            monthly_price_cents=900,
            monthly_render_seconds=60 * 60,
            max_job_seconds=10 * 60,
            max_resolution=720,
            concurrent_jobs=2,
            storage_bytes=20 * GB,
            retention_days=30,
            queue_tier="paid",
            api_access=False,
            watermark=False,
            summary="An hour of lessons a month.",
        ),
        Plan(
            code=PRO,
            name=gettext_noop("Pro"),
            monthly_price_cents=2900,
            monthly_render_seconds=4 * 60 * 60,
            max_job_seconds=30 * 60,
            max_resolution=1080,
            concurrent_jobs=4,
            storage_bytes=100 * GB,
            retention_days=90,
            queue_tier="paid",
            api_access=True,
            watermark=False,
            backends=("builtin", "sonic"),
            api_requests_per_minute=300,
            summary="Full HD, the REST API and four jobs at once.",
        ),
        Plan(
            code=BUSINESS,
            name=gettext_noop("Business"),
            monthly_price_cents=9900,
            monthly_render_seconds=20 * 60 * 60,
            max_job_seconds=3 * 60 * 60,
            max_resolution=1440,
            concurrent_jobs=10,
            storage_bytes=500 * GB,
            retention_days=365,
            queue_tier="paid",
            api_access=True,
            watermark=False,
            backends=("builtin", "sonic"),
            api_requests_per_minute=1200,
            summary="Whole lectures, twenty hours a month, a year of retention.",
        ),
    ]
}

# Labels in the reader's language (the names are catalogued where the plans are defined).
PLAN_CHOICES = [(plan.code, gettext_lazy(plan.name)) for plan in PLANS.values()]


def get_plan(code: str) -> Plan:
    """The plan with this code; KeyError for an unknown code. Free's storage follows STORAGE_QUOTA_BYTES."""
    plan = PLANS[code]
    if code == FREE:
        plan = replace(plan, storage_bytes=settings.STORAGE_QUOTA_BYTES)
    return plan


def all_plans() -> list[Plan]:
    return [get_plan(code) for code in PLANS]


def paid_plans() -> list[Plan]:
    return [plan for plan in all_plans() if plan.is_paid]


def plan_for_lookup_key(lookup_key: str | None) -> Plan | None:
    for plan in paid_plans():
        if lookup_key and plan.lookup_key == lookup_key:
            return plan
    return None


def billing_enabled() -> bool:
    """Stripe billing is on only when a secret key is configured; otherwise everyone is on Free (or a staff plan)."""
    return bool(settings.STRIPE_SECRET_KEY)
