from django import forms
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

import renderer
from portal.library.models import AudioClip, Portrait


class JobForm(forms.Form):
    """Inputs and options of a render; ranges are checked by the renderer's own parameter validation."""

    portrait = forms.ModelChoiceField(queryset=Portrait.objects.none(), label=_("Portrait"),
                                      empty_label=_("Choose a portrait"))
    audio = forms.ModelChoiceField(queryset=AudioClip.objects.none(), label=_("Audio"), empty_label=_("Choose audio"))
    resolution = forms.TypedChoiceField(coerce=int, initial=512, label=_("Resolution"),
                                        help_text=_("The video's shorter side, in pixels."))
    dynamic_scale = forms.FloatField(initial=1.0, label=_("Mouth motion"), help_text=_("0.5 (subtle) to 2.0 (strong)."))
    motion_scale = forms.FloatField(initial=1.0, label=_("Head motion"), help_text=_("0 (still) to 2.0."))
    expand_ratio = forms.FloatField(initial=0.5, label=_("Crop margin"), help_text=_("Space around the face, 0 to 1."))
    crop_face = forms.BooleanField(initial=True, required=False, label=_("Crop around the face"))
    seed = forms.IntegerField(required=False, label=_("Seed"),
                              help_text=_("Same seed, same blinks and head motion. Empty: default."))
    backend = forms.ChoiceField(label=_("Renderer"), required=False, help_text=_(
        "builtin: fast, on any machine; sonic: the Sonic model on a GPU (slower, more lifelike)."))

    OPTION_FIELDS = ("resolution", "dynamic_scale", "motion_scale", "expand_ratio", "crop_face", "seed")

    def __init__(self, user, max_resolution: int, *args, backends=("builtin",), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["backend"].choices = [(name, name) for name in backends]
        if len(backends) < 2:  # nothing to choose
            del self.fields["backend"]
        self.fields["portrait"].queryset = Portrait.objects.filter(owner=user)
        self.fields["audio"].queryset = AudioClip.objects.filter(owner=user)
        self.fields["audio"].label_from_instance = lambda clip: gettext("%(name)s (%(seconds)s s)") % {
            "name": clip.original_name, "seconds": number_format(clip.duration_seconds, 1)}
        allowed = [size for size in renderer.RESOLUTIONS if size <= max_resolution]
        self.fields["resolution"].choices = [(size, _("%(size)s px") % {"size": size}) for size in allowed]
        if 512 not in allowed:
            self.fields["resolution"].initial = allowed[-1]

    @property
    def chosen_backend(self) -> str:
        return self.cleaned_data.get("backend") or "builtin"

    def options(self) -> dict:
        options = {name: self.cleaned_data[name] for name in self.OPTION_FIELDS}
        if options["seed"] is None:
            del options["seed"]
        return options
