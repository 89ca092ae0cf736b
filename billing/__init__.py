"""Plans, render-second quotas and Stripe billing.

For other apps: billing.models.plan_for(user) -> Plan (limits, from the local database only) and billing.quota
(check_job, check_api_access, reserve_seconds, charge, refund, usage_summary, expires_at). Only
billing/stripe_api.py talks to Stripe.
"""
