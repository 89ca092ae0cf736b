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
