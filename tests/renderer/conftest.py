import pytest
from renderer_inputs import PORTRAIT, SPEECH

import renderer


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """The committed portrait speaking the committed speech, rendered once at 256 px for the whole run."""
    output = tmp_path_factory.mktemp("render") / "speech.mp4"
    stages = []
    result = renderer.render(
        PORTRAIT, SPEECH, output, {"resolution": 256}, progress=lambda fraction, stage: stages.append((fraction, stage))
    )
    result.progress_reports = stages
    return result


@pytest.fixture(scope="session")
def measured(rendered):
    from renderer.qualify import measure as quality

    return quality.measure(rendered.output_path, reference_audio_duration=rendered.audio_duration)
