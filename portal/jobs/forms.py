from django import forms

import renderer
from portal.library.models import AudioClip, Portrait


class JobForm(forms.Form):
    """Inputs and options of a render; ranges are checked by the renderer's own parameter validation."""

    portrait = forms.ModelChoiceField(queryset=Portrait.objects.none(), empty_label="Choose a portrait")
    audio = forms.ModelChoiceField(queryset=AudioClip.objects.none(), empty_label="Choose audio")
    resolution = forms.TypedChoiceField(coerce=int, initial=512, help_text="The video's shorter side, in pixels.")
    dynamic_scale = forms.FloatField(initial=1.0, label="Mouth motion", help_text="0.5 (subtle) to 2.0 (strong).")
    motion_scale = forms.FloatField(initial=1.0, label="Head motion", help_text="0 (still) to 2.0.")
    expand_ratio = forms.FloatField(initial=0.5, label="Crop margin", help_text="Space around the face, 0 to 1.")
    crop_face = forms.BooleanField(initial=True, required=False, label="Crop around the face")
    seed = forms.IntegerField(required=False, help_text="Same seed, same blinks and head motion. Empty: default.")
    backend = forms.ChoiceField(label="Renderer", required=False, help_text="builtin: fast, on any machine; "
                                "sonic: the Sonic model on a GPU (slower, more lifelike).")

    OPTION_FIELDS = ("resolution", "dynamic_scale", "motion_scale", "expand_ratio", "crop_face", "seed")

    def __init__(self, user, max_resolution: int, *args, backends=("builtin",), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["backend"].choices = [(name, name) for name in backends]
        if len(backends) < 2:  # nothing to choose
            del self.fields["backend"]
        self.fields["portrait"].queryset = Portrait.objects.filter(owner=user)
        self.fields["audio"].queryset = AudioClip.objects.filter(owner=user)
        self.fields["audio"].label_from_instance = lambda clip: f"{clip.original_name} ({clip.duration_seconds:.1f} s)"
        allowed = [size for size in renderer.RESOLUTIONS if size <= max_resolution]
        self.fields["resolution"].choices = [(size, f"{size} px") for size in allowed]
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
