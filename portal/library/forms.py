from django import forms
from django.utils.translation import gettext_lazy as _

from portal.library import scripts
from renderer import speech
from renderer.speech import script as script_rules

# The voices' labels in the reader's language (the engine names them in English).
VOICE_LABELS = {
    "en-joe": _("Joe · English (US), natural"),
    "zh-cmn": _("Mandarin Chinese (espeak-ng)"),
    "en-espeak": _("English (espeak-ng)"),
    "fr-espeak": _("French (espeak-ng)"),
    "de-espeak": _("German (espeak-ng)"),
    "es-espeak": _("Spanish (espeak-ng)"),
}


class ScriptForm(forms.Form):
    """What a teacher writes for a voice to say; the text itself is checked by the speech engine."""

    title = forms.CharField(
        required=False,
        max_length=scripts.TITLE_MAX_LENGTH,
        label=_("Title"),
        help_text=_("The audio's name in your library; empty: the first words."),
    )
    text = forms.CharField(
        strip=False,
        max_length=script_rules.MAX_CHARACTERS,
        label=_("Script"),
        help_text=_("A blank line makes a pause; two blank lines a longer one. Each sentence becomes a caption."),
        widget=forms.Textarea(attrs={"rows": 14}),
    )
    voice = forms.ChoiceField(label=_("Voice"), initial=speech.DEFAULT_VOICE)
    rate = forms.FloatField(
        initial=1.0,
        min_value=script_rules.MIN_RATE,
        max_value=script_rules.MAX_RATE,
        label=_("Speaking rate"),
        help_text=_("1 is the voice's own pace; 0.8 slower, 1.2 faster."),
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["voice"].choices = [
            (name, VOICE_LABELS.get(name, label)) for name, label, installed in scripts.voice_choices() if installed
        ]
