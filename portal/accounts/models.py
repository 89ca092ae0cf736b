import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        # Lower-cased whole, as allauth stores addresses, so admin-made and signed-up accounts match.
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """An account; people sign in with their email address."""

    username = None
    first_name = None
    last_name = None
    name = models.CharField("display name", max_length=150, blank=True)
    email = models.EmailField("email address", unique=True)
    # The user's folder in media storage: random so storage keys reveal nothing about the account.
    storage_prefix = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    storage_used_bytes = models.BigIntegerField(
        default=0, help_text="Bytes of portraits, thumbnails and audio stored for this user."
    )
    # Empty: follow the browser (its Accept-Language and the language switcher; the time zone its JavaScript reports).
    # Saved, they win on every device and are what emails sent outside a request use.
    language = models.CharField(
        _("language"),
        max_length=16,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("Empty: the browser's language."),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        help_text=_("An IANA name such as Asia/Shanghai; empty: the browser's time zone."),
    )
    email_when_finished = models.BooleanField(
        _("email me when a video is ready or has failed"),
        default=True,
        help_text=_("Useful for long lectures: you can close the page while it renders."),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = self.email.lower()
