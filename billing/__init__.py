"""Plans, quotas and Stripe billing (the billing issue fills this in; until then everyone is on Free)."""
