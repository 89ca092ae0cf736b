from django import template

from portal import durations

register = template.Library()
register.filter("duration_clock", durations.duration_clock)
register.filter("time_left", durations.time_left)
