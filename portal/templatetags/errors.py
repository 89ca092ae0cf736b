from django import template

from portal import errors

register = template.Library()


@register.simple_tag
def shown_error(code, message) -> str:
    """{% shown_error job.error_code job.error_message as text %}: a stored error in the user's language."""
    return errors.shown_error(code or "", message or "")


@register.filter
def shown_warning(warning) -> str:
    return errors.shown_warning(str(warning))
