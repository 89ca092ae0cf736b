import math

from django import template

register = template.Library()


@register.filter
def duration_clock(seconds) -> str:
    """7.34 -> "7.3 s"; 65.2 -> "1:05"; 3725 -> "1:02:05"."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(math.floor(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.filter
def time_left(seconds) -> str:
    """An estimate for people: 40 -> "less than a minute left"; 500 -> "about 8 min left"."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    return f"about {minutes} min left" if minutes < 90 else f"about {minutes / 60:.1f} h left"
