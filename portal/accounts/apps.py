from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"
    verbose_name = "Users"  # allauth's own app is "Accounts" (email addresses): one section each, not two alike
