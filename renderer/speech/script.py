"""A script, read the way a voice will say it: checked character by character, then cut into spoken units.

A unit is what one caption shows (at most two lines), said in one breath by the voice; the gap after it says how
the script paused there: a comma inside a long sentence, a sentence's end, a blank line (a paragraph), or several
blank lines (a longer pause).
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from dataclasses import dataclass

from renderer.errors import RenderError

MAX_CHARACTERS = 60_000  # about 70 minutes of speech: a long lecture, and a bounded job for the worker
MIN_RATE, MAX_RATE = 0.5, 2.0

# Seconds of silence after a unit, at rate 1 (a faster rate shortens them too).
CLAUSE_GAP, SENTENCE_GAP, PARAGRAPH_GAP, LONG_PAUSE = 0.15, 0.4, 0.9, 1.8
LEAD_IN, LEAD_OUT = 0.3, 0.6

# How wide a caption line may be: the usual 42 characters of Latin text (a CJK character counts as two).
LINE_WIDTH = 42
# A unit is shown as two lines cut between words: a little under two full lines, so that both fit.
UNIT_WIDTH = 2 * LINE_WIDTH - 6

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]”’]*\s+|(?<=[。！？…])[”’」』）]*")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|(?<=[，；：、])")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")
# Symbols a voice reads out (currency, maths) are accepted; pictographs, emoji and control characters are not.
_ACCEPTED_CATEGORIES = ("L", "M", "N", "P", "Zs", "Sc", "Sm")


class ScriptError(RenderError):
    """A script the voice cannot say as written; `details` holds what a translated message needs."""

    def __init__(self, message: str, *, code: str, field: str | None = None, **details):
        super().__init__(message, code=code, field=field)
        self.details = details


@dataclass(frozen=True)
class Unit:
    text: str
    gap_after: float  # seconds of silence after it at rate 1


def _is_cjk(character: str) -> bool:
    return unicodedata.name(character, "").startswith(("CJK ", "IDEOGRAPHIC", "FULLWIDTH", "HALFWIDTH"))


def _script_of(character: str) -> str:
    """'latin', 'cjk' or another script's first word as Unicode names it (GREEK, CYRILLIC, ...)."""
    if character.isascii():
        return "latin"
    if _is_cjk(character) or unicodedata.category(character) in ("Ps", "Pe", "Po") and ord(character) >= 0x3000:
        return "cjk"
    name = unicodedata.name(character, "")
    if name.startswith("LATIN") or not character.isalpha():
        return "latin"
    return name.split(" ", 1)[0].lower()


def shown_character(character: str) -> str:
    """A refused character as a person can read it: quoted, or its code point when it does not print."""
    return f"“{character}”" if character.isprintable() else f"U+{ord(character):04X}"


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def check(text: str, scripts: frozenset[str], voice_label: str) -> str:
    """The script as it will be said (normalised), or ScriptError: empty, too long, or characters the voice lacks."""
    text = normalise(text)
    if not text:
        raise ScriptError("Write something for the voice to say.", code="empty_script", field="text")
    if len(text) > MAX_CHARACTERS:
        raise ScriptError(
            f"A script may be at most {MAX_CHARACTERS} characters; this one has {len(text)}. "
            "Split the lecture into several scripts.",
            code="script_too_long",
            field="text",
            limit=MAX_CHARACTERS,
            length=len(text),
        )
    refused: dict[str, int] = {}
    for line_number, line in enumerate(text.split("\n"), start=1):
        for character in line:
            category = unicodedata.category(character)
            if character.isspace():
                continue
            if not category.startswith(_ACCEPTED_CATEGORIES) or (
                category.startswith("L") and _script_of(character) not in scripts
            ):
                refused.setdefault(character, line_number)
    if refused:
        shown = ", ".join(
            f"{shown_character(character)} (line {line})" for character, line in list(refused.items())[:5]
        )
        raise ScriptError(
            f"{voice_label} cannot say these characters: {shown}. Remove them or choose another voice.",
            code="unsupported_characters",
            field="text",
            characters=[shown_character(character) for character in list(refused)[:5]],
            lines=list(refused.values())[:5],
        )
    return text


def check_rate(rate: float) -> float:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ScriptError(
            f"The speaking rate must be between {MIN_RATE} and {MAX_RATE} (1 is the voice's own pace).",
            code="invalid_parameter",
            field="rate",
            minimum=MIN_RATE,
            maximum=MAX_RATE,
        )
    return rate


def _width(text: str) -> int:
    return sum(2 if _is_cjk(character) else 1 for character in text)


def _pieces(sentence: str, limit: int) -> list[str]:
    """A sentence too long for one caption, cut at its commas, then into pieces of about equal width."""
    if _width(sentence) <= limit:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for clause in filter(None, _CLAUSE_END.split(sentence)):
        candidate = f"{current} {clause}".strip() if current and not _is_cjk(current[-1]) else current + clause
        if _width(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = clause
        if _width(current) > limit:
            *whole, current = balanced(current, math.ceil(_width(current) / limit))
            pieces.extend(whole)
    if current:
        pieces.append(current)
    return pieces


def balanced(text: str, count: int) -> list[str]:
    """`text` cut into `count` pieces of about the same width: between words, or between characters in CJK."""
    pieces: list[str] = []
    rest = text
    for remaining in range(count, 1, -1):
        target = _width(rest) / remaining
        widths = list(itertools.accumulate(2 if _is_cjk(character) else 1 for character in rest))
        places = [index for index, character in enumerate(rest) if character == " "]
        if not places:  # CJK: after a punctuation mark near the middle, else between any two characters
            places = [index + 1 for index, character in enumerate(rest[:-1]) if character in "，、；：,;:"]
            places = [index for index in places if abs(widths[index - 1] - target) <= target / 3] or list(
                range(1, len(rest))
            )
        cut = min(places, key=lambda index: abs(widths[index - 1] - target))
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    return [*pieces, rest]


def units(text: str) -> list[Unit]:
    """The checked script cut into spoken units, each with the pause that follows it."""
    found: list[Unit] = []
    paragraphs = _BLANK_LINES.split(text)
    separators = [match.group(0).count("\n") - 1 for match in _BLANK_LINES.finditer(text)]
    for index, paragraph in enumerate(paragraphs):
        blank_lines = separators[index] if index < len(separators) else 0
        sentences = [" ".join(s.split()) for s in _SENTENCE_END.split(paragraph.replace("\n", " "))]
        sentences = [sentence for sentence in sentences if sentence]
        for sentence_index, sentence in enumerate(sentences):
            pieces = _pieces(sentence, UNIT_WIDTH)
            for piece_index, piece in enumerate(pieces):
                if piece_index < len(pieces) - 1:
                    gap = CLAUSE_GAP
                elif sentence_index < len(sentences) - 1:
                    gap = SENTENCE_GAP
                else:
                    gap = LONG_PAUSE if blank_lines > 1 else PARAGRAPH_GAP
                found.append(Unit(piece, gap))
    if found:
        found[-1] = Unit(found[-1].text, LEAD_OUT)
    return found


def caption_lines(text: str) -> str:
    """A unit's text as one line, or two of about the same width."""
    if _width(text) <= LINE_WIDTH:
        return text
    return "\n".join(balanced(text, 2))
