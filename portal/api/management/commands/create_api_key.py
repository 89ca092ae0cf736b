from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.models import plan_for
from portal.accounts.models import User
from portal.api import keys


class Command(BaseCommand):
    help = "Make an API key for a user and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", required=True, help="What the key is for.")
        parser.add_argument("--expires-days", type=int, help="Expire after this many days (default: never).")

    def handle(self, email, name, expires_days, **options):
        user = User.objects.filter(email=email.lower()).first()
        if user is None:
            raise CommandError(f"No user with the email {email}.")
        if expires_days is not None and expires_days <= 0:
            raise CommandError("--expires-days must be a positive number of days.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        api_key, key = keys.create(user, name, expires_at=expires_at)
        plan = plan_for(user)
        if not plan.api_access:
            self.stderr.write(
                f"Note: the {plan.name} plan has no API access; the key answers 403 api_not_in_plan "
                "until the user's plan includes the API."
            )
        self.stdout.write(key)
