from django.apps import AppConfig
from pylti1p3.contrib.django.lti1p3_tool_config.apps import PyLTI1p3ToolConfig


class LtiConfig(AppConfig):
    name = "portal.lti"
    label = "lti"
    verbose_name = "LTI: videos in course platforms"
    default = True  # this module also holds the registrations' config below; "portal.lti" means this one


class PlatformRegistrationsConfig(PyLTI1p3ToolConfig):
    """pylti1p3's registrations (LtiTool, LtiToolKey) with the key type its own migration made: without this the
    project's BigAutoField default would ask for a migration inside the library."""

    default = False
    default_auto_field = "django.db.models.AutoField"
    verbose_name = "LTI platform registrations"
