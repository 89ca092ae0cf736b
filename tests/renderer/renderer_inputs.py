from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "renderer" / "qualify" / "fixtures"
PORTRAIT = FIXTURES / "portrait.jpg"
SPEECH = FIXTURES / "speech.wav"
