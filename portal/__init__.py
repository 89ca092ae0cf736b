"""Sonic Portal: the Django project (settings, URLs) and its flat apps (accounts, library)."""
