"""English dates as the portal has always written them ("9 Dec 2026", "9 Dec 2026 14:05"), not Django's US style;
every other format falls back to Django's English ones."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y H:i"
TIME_FORMAT = "H:i"
