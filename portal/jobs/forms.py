from django import forms
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

import renderer
from portal.library.models import AudioClip, Portrait


class JobForm(forms.Form):
    """Inputs and options of a render; ranges are checked by the renderer's own parameter validation."""

    portrait = forms.ModelChoiceField(
        queryset=Portrait.objects.none(), label=_("Portrait"), empty_label=_("Choose a portrait")
    )
    audio = forms.ModelChoiceField(queryset=AudioClip.objects.none(), label=_("Audio"), empty_label=_("Choose audio"))
    resolution = forms.TypedChoiceField(
        coerce=int,
        initial=renderer.RenderParams.resolution,
        label=_("Resolution"),
        help_text=_("The video's shorter side, in pixels."),
    )
    dynamic_scale = forms.FloatField(
        initial=1.0,
        label=_("Mouth motion"),
        help_text=_("How far the mouth moves with the speech: 0.5 subtle, 1 natural, 2 strong."),
    )
    motion_scale = forms.FloatField(
        initial=1.0,
        label=_("Head motion"),
        help_text=_("How much the head nods and turns: 0 still, 1 natural, 2 lively."),
    )
    expand_ratio = forms.FloatField(
        initial=0.5,
        label=_("Crop margin"),
        help_text=_("How much of the photo around the face the video shows: 0 close, 1 wide."),
    )
    crop_face = forms.BooleanField(
        initial=True,
        required=False,
        label=_("Crop around the face"),
        help_text=_("Off: the whole photo is the video's picture."),
    )
    seed = forms.IntegerField(
        required=False,
        label=_("Seed"),
        help_text=_(
            "The same number gives the same blinks and head motion each time; leave it empty for the usual ones."
        ),
    )
    backend = forms.ChoiceField(
        label=_("Renderer"),
        required=False,
        help_text=_("builtin: fast, on any machine; sonic: the Sonic model on a GPU (slower, more lifelike)."),
    )

    OPTION_FIELDS = ("resolution", "dynamic_scale", "motion_scale", "expand_ratio", "crop_face", "seed")
    # Folded away under "Advanced options": the defaults suit almost every portrait.
    ADVANCED_FIELDS = ("dynamic_scale", "motion_scale", "expand_ratio", "crop_face", "seed", "backend")

    def __init__(self, user, resolutions: tuple[int, ...], *args, backends=("builtin",), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["backend"].choices = [(name, name) for name in backends]
        if len(backends) < 2:  # nothing to choose
            del self.fields["backend"]
        self.fields["portrait"].queryset = Portrait.objects.filter(owner=user)
        self.fields["audio"].queryset = AudioClip.objects.filter(owner=user)
        self.fields["audio"].label_from_instance = lambda clip: (
            gettext("%(name)s (%(seconds)s s)")
            % {"name": clip.original_name, "seconds": number_format(clip.duration_seconds, 1)}
        )
        for name in ("portrait", "audio"):  # a library of one: nothing to choose
            choices = self.fields[name].queryset
            if not self.is_bound and not self.initial.get(name) and choices.count() == 1:
                self.initial[name] = choices.get().pk
        self.fields["resolution"].choices = [(size, _("%(size)s px") % {"size": size}) for size in resolutions]
        if self.fields["resolution"].initial not in resolutions:
            self.fields["resolution"].initial = resolutions[-1]

    def main_fields(self):
        return [self[name] for name in self.fields if name not in self.ADVANCED_FIELDS]

    def advanced_fields(self):
        return [self[name] for name in self.fields if name in self.ADVANCED_FIELDS]

    @property
    def chosen_backend(self) -> str:
        return self.cleaned_data.get("backend") or "builtin"

    def options(self) -> dict:
        options = {name: self.cleaned_data[name] for name in self.OPTION_FIELDS}
        if options["seed"] is None:
            del options["seed"]
        return options
