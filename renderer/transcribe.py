"""Captions for uploaded English speech: a known transcript aligned to the audio, or the words recognised in it.

PocketSphinx 5 (CMU's small recogniser, with a US English acoustic model, language model and CMUdict inside its
wheel: nothing is downloaded) does both; this is the only module that imports it. The public API:

    align(samples, sample_rate, transcript) -> list[Cue]   the transcript's own text, cut into caption units with
                                                           the scripts' layout rules, timed on the audio
    recognise(samples, sample_rate) -> list[Cue]            the words heard, grouped into cues at pauses
    NoSpeechError (no_speech_found), TranscriptMismatchError (transcript_mismatch)

Samples are mono, float in [-1, 1] or int16, at any rate. They reach the decoder as 16 kHz int16, resampled with
PyAV (as renderer.media does) a few seconds at a time, so that nothing beside the caller's samples grows with the
audio's length but one level (and one score) per 10 ms frame: 3 MB an hour.

Alignment is PocketSphinx's own forced alignment: words as a linear grammar, with optional silences and noises
between them, searched frame by frame. One grammar for a whole lecture costs time that grows with the square of
its length (measured on 2 cores: 1 minute 0.8 s, 10 minutes 16 s, 20 minutes 56 s, an hour 8 minutes), so a long
transcript is aligned a piece of about a minute at a time (an hour: 70 s). Each piece's grammar runs on into the
next piece (and may end anywhere in it), against a window of the audio sized from the speaking rate measured so
far; the next window starts where the piece's last word ends. A window the piece outgrows is doubled and tried
again.

A word CMUdict lacks (a name, a number) is still said in the audio, so it gets a pronunciation rather than being
dropped: numbers are spelled out in dictionary words, other words get one guessed from English spelling (close
enough for the aligner to give the word its time; the cue shows the transcript's text). The decoder's models hear
the weak ends of speech (a fading vowel, a final "s") as silence, so each cue's edges are then moved onto the sound
they time, by the audio's level.

The alignment is checked before it is trusted: a transcript of other words either finds no path or fits the audio
far worse than a free phone recogniser does over the same frames; one that covers only part of what is said leaves
speech under the silences between its words.

Recognition decodes utterances of at most half a minute, cut at the quietest moment near that length, so the
decoder's lattices stay small whatever the length; words are grouped into cues at pauses and at two lines' width.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

import av
import numpy as np
from pocketsphinx import Decoder, get_model_path

from renderer.captions import Cue
from renderer.errors import RenderError
from renderer.speech import script

SAMPLE_RATE = 16_000  # what the bundled acoustic model was trained on
FRAME_SAMPLES = 160  # the decoder's frame: 10 ms
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
FEED_SECONDS = 5.0  # audio resampled and handed to the decoder at once
SILENT_DBFS = -60.0  # no 10 ms frame louder than this: nothing to hear, let alone speech

# (beam, word beam) tried in turn. The default beams (1e-48) lose the only path through a transcript on synthetic
# or unusual voices (espeak-ng's fails at the default); the first costs about 1.3 times the default, the second is
# tried only when the first finds no path.
ALIGN_BEAMS = ((1e-80, 1e-60), (1e-120, 1e-90))
PIECE_CHARACTERS = 1_000  # about a minute of speech: one alignment grammar
INITIAL_SECONDS_PER_CHARACTER = 1 / 10  # a slow lecturer (the neural voice says 16), until the audio tells
WINDOW_MARGIN, WINDOW_EXTRA_SECONDS = 1.25, 5.0  # a piece's window: its expected length times this, plus this

# Speech is what is louder than this below the median level of the aligned words; where more than this share of
# it lies outside every aligned word, the transcript leaves much of what is said out.
SPEECH_BELOW_WORDS_DB = 12.0
MIN_ALIGNED_SHARE = 0.8  # measured: 0.93-1.0 for the right transcript, 0.52 for its first half
# How much worse (per frame, in the decoder's scaled log units) the transcript's words may fit the audio than the
# free phone recogniser's best guess. Measured: 0.4-2.0 for the right transcript (the neural voice, espeak-ng,
# added noise, invented names), 4.6-6.1 for other words.
MAX_FIT_BELOW_PHONES = 0.0035
# Recognition on a few windows spread over a long file tells noise from speech, and measures the phone
# recogniser's fit, at a fraction of the whole file's cost.
PROBES, PROBE_SECONDS = 6, 20.0

# A cue edge moves onto the sound it times by at most this many frames, to the last (or first) frame within
# EDGE_RANGE_DB of the cue's loudest and NOISE_MARGIN_DB above the recording's noise floor.
EDGE_REACH_FRAMES = 25
# An end moves on across a silence this short: the closure before a final stop's release ("lamp", "eight").
MAX_CLOSURE_FRAMES = 8
EDGE_RANGE_DB = 40.0
NOISE_MARGIN_DB = 6.0

MAX_UTTERANCE_SECONDS = 30.0  # recognition: one decoder utterance at most this long ...
CUT_SEARCH_SECONDS = 5.0  # ... cut at the quietest 100 ms of its last seconds
CUE_PAUSE_SECONDS = 0.5  # a longer pause between recognised words starts a new cue
# Fewer recognised words than this in a minute of audio is noise the recogniser made words of, not speech.
MIN_WORDS_PER_MINUTE = 6.0
MIN_WORDS = 2


class TranscribeError(RenderError):
    code = "transcribe_failed"


class NoSpeechError(TranscribeError):
    code = "no_speech_found"


class TranscriptMismatchError(TranscribeError):
    code = "transcript_mismatch"


@dataclass(frozen=True)
class _Span:
    """A stretch of the audio the decoder named: a word, or a filler (<sil>, [NOISE], ...) between words."""

    word: str
    first_frame: int
    last_frame: int  # inclusive
    misfit: float = 0.0  # per frame: how far its acoustic score falls below the best the models give each frame

    @property
    def start(self) -> float:
        return self.first_frame * FRAME_SECONDS

    @property
    def end(self) -> float:
        return (self.last_frame + 1) * FRAME_SECONDS

    @property
    def is_filler(self) -> bool:
        return self.word.startswith(("<", "[", "+")) or self.word == "SIL"


# ---------------------------------------------------------------------------------------------------------------
# Audio in


def _sample_at(frame: int, sample_rate: int) -> int:
    return round(frame * sample_rate * FRAME_SECONDS)


def _pcm_chunks(samples: np.ndarray, sample_rate: int) -> Iterator[np.ndarray]:
    """`samples` as 16 kHz int16, a few seconds at a time."""
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"expected mono samples, got shape {samples.shape}")
    scale = 1 / 32768 if samples.dtype == np.int16 else 1.0
    step = int(FEED_SECONDS * sample_rate)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    for begin in range(0, len(samples), step):
        piece = np.clip(samples[begin : begin + step].astype(np.float32) * scale, -1.0, 1.0)
        frame = av.AudioFrame.from_ndarray(piece[np.newaxis], format="fltp", layout="mono")
        frame.sample_rate = sample_rate
        for converted in resampler.resample(frame):
            yield converted.to_ndarray()[0]
    for converted in resampler.resample(None):
        yield converted.to_ndarray()[0]


def _frame_levels(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The level of each whole 10 ms frame of `samples`, in dB full scale, measured a minute at a time."""
    samples = np.asarray(samples)
    scale = 1 / 32768 if samples.dtype == np.int16 else 1.0
    count = int(len(samples) / (sample_rate * FRAME_SECONDS))
    bounds = np.round(np.arange(count + 1) * sample_rate * FRAME_SECONDS).astype(np.int64)
    levels = np.empty(count, np.float32)
    step = 6_000
    for first in range(0, count, step):
        last = min(count, first + step)
        piece = samples[bounds[first] : bounds[last]].astype(np.float32) * scale
        energy = np.add.reduceat(piece**2, bounds[first:last] - bounds[first])
        levels[first:last] = 10 * np.log10(energy / np.diff(bounds[first : last + 1]) + 1e-12)
    return levels


def _pcm_levels_db(pcm: np.ndarray) -> np.ndarray:
    """The level of each whole 10 ms frame of 16 kHz int16 audio, in dB full scale."""
    count = len(pcm) // FRAME_SAMPLES
    frames = pcm[: count * FRAME_SAMPLES].astype(np.float32).reshape(count, FRAME_SAMPLES) / 32768
    return (10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)).astype(np.float32)


def _decoder(**options) -> Decoder:
    return Decoder(loglevel="FATAL", samprate=SAMPLE_RATE, **options)


def _spans(decoder: Decoder, frame_offset: int = 0) -> list[_Span] | None:
    """What the last utterance was decoded as, on the whole file's frames; None when no path reached its end."""
    found = decoder.seg()
    if found is None:
        return None
    spans = []
    for part in found:
        frames = part.end_frame - part.start_frame + 1
        # ascore is the exponentiated log score, scaled down by the decoder: its log per frame is small, and
        # compares fits of the same frames
        misfit = -math.log(max(part.ascore, 1e-300)) / frames
        spans.append(_Span(part.word, part.start_frame + frame_offset, part.end_frame + frame_offset, misfit))
    return spans


def _dictionary_word(word: str) -> str:
    """CMUdict lists alternative pronunciations as word(2), word(3), ..."""
    return re.sub(r"\(\d+\)$", "", word)


def _utterances(samples: np.ndarray, sample_rate: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first frame, 16 kHz int16 audio) of utterances at most MAX_UTTERANCE_SECONDS long, cut where it is quietest
    near that length (a pause, in speech), on whole frames."""
    limit = int(MAX_UTTERANCE_SECONDS * SAMPLE_RATE)
    buffered: list[np.ndarray] = []
    size = 0
    first_frame = 0
    for pcm in _pcm_chunks(samples, sample_rate):
        buffered.append(pcm)
        size += len(pcm)
        while size >= limit:
            audio = np.concatenate(buffered)
            cut = _quietest_cut(audio[:limit])
            yield first_frame, audio[:cut]
            first_frame += cut // FRAME_SAMPLES
            buffered, size = [audio[cut:]], len(audio) - cut
    if size:
        yield first_frame, np.concatenate(buffered)


def _quietest_cut(audio: np.ndarray) -> int:
    levels = _pcm_levels_db(audio)
    searched = int(CUT_SEARCH_SECONDS / FRAME_SECONDS)
    smoothed = np.convolve(levels[-searched:], np.ones(10) / 10, mode="same")  # the quietest 100 ms
    return (len(levels) - searched + int(np.argmin(smoothed))) * FRAME_SAMPLES


def _decoded_utterances(decoder: Decoder, samples: np.ndarray, sample_rate: int) -> tuple[list[_Span], int]:
    """Every span the decoder finds in `samples`, utterance by utterance, and the frames decoded."""
    spans: list[_Span] = []
    frames = 0
    for first_frame, audio in _utterances(samples, sample_rate):
        decoder.start_utt()
        decoder.process_raw(audio.tobytes(), False, True)  # a whole utterance: normalised on its own mean
        decoder.end_utt()
        spans += _spans(decoder, first_frame) or []
        frames = first_frame + len(audio) // FRAME_SAMPLES
    return spans, frames


def _probe_windows(frame_count: int) -> list[tuple[int, int]]:
    """PROBES windows of PROBE_SECONDS spread evenly over the audio, or the whole of audio shorter than them all."""
    size = int(PROBE_SECONDS / FRAME_SECONDS)
    if frame_count <= PROBES * size:
        return [(0, frame_count)]
    return [(int(first), int(first) + size) for first in np.linspace(0, frame_count - size, PROBES)]


# ---------------------------------------------------------------------------------------------------------------
# Words a transcript says, as the dictionary knows them

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split()
)
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand"))
_SYMBOLS = {"&": ["and"], "%": ["percent"], "+": ["plus"], "=": ["equals"], "@": ["at"], "$": ["dollars"]}

# English spelling to CMUdict's phones, longest letters first: a guess for names and new words, good enough for the
# aligner to give the word the time it is said in.
_SPELLING = {
    "tion": "SH AH N", "sion": "ZH AH N", "ough": "AO", "augh": "AO", "eigh": "EY",
    "igh": "AY", "tch": "CH", "dge": "JH", "sch": "S K",
    "th": "TH", "sh": "SH", "ch": "CH", "ph": "F", "wh": "W", "ck": "K", "ng": "NG", "qu": "K W", "gh": "G",
    "ee": "IY", "ea": "IY", "oo": "UW", "ou": "AW", "ow": "OW", "oi": "OY", "oy": "OY", "ai": "EY", "ay": "EY",
    "au": "AO", "aw": "AO", "ie": "IY", "ei": "EY", "ue": "UW", "ew": "UW", "ar": "AA R", "er": "ER", "ir": "ER",
    "ur": "ER", "or": "AO R",
    "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH", "i": "IH", "j": "JH",
    "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P", "q": "K", "r": "R", "s": "S", "t": "T", "u": "AH",
    "v": "V", "w": "W", "x": "K S", "y": "IY", "z": "Z",
}  # fmt: skip
_LONGEST_SPELLING = max(len(letters) for letters in _SPELLING)


def _below_thousand(number: int) -> list[str]:
    words: list[str] = []
    if number >= 100:
        words += [_ONES[number // 100], "hundred"]
        number %= 100
    if number >= 20:
        words.append(_TENS[number // 10])
        number %= 10
        if number:
            words.append(_ONES[number])
    elif number or not words:
        words.append(_ONES[number])
    return words


def number_words(digits: str) -> list[str]:
    """A number written in digits as it is read: years as two pairs (nineteen oh five), others in full."""
    number = int(digits)
    if len(digits) == 4 and (1100 <= number <= 1999 or 2010 <= number <= 2099):
        high, low = divmod(number, 100)
        return (
            _below_thousand(high)
            + (["hundred"] if low == 0 else ["oh"] if low < 10 else [])
            + (_below_thousand(low) if low else [])
        )
    if number >= 1_000_000_000_000:
        return [word for digit in digits for word in _below_thousand(int(digit))]
    words: list[str] = []
    for scale, name in _SCALES:
        if number >= scale:
            words += [*_below_thousand(number // scale), name]
            number %= scale
    if number or not words:
        words += _below_thousand(number)
    return words


def _spelled_pronunciation(word: str) -> str:
    letters = re.sub(r"[^a-z]", "", word)
    if len(letters) > 3 and letters.endswith("e") and letters[-2] not in "aeiouy":
        letters = letters[:-1]  # a silent final e (a name like "Brindle")
    phones: list[str] = []
    index = 0
    while index < len(letters):
        for length in range(min(_LONGEST_SPELLING, len(letters) - index), 0, -1):
            piece = letters[index : index + length]
            if piece in _SPELLING:
                if not (length == 1 and index and letters[index - 1] == piece):  # a doubled consonant is one
                    phones += _SPELLING[piece].split()
                index += length
                break
    return " ".join(phones)


class _Vocabulary:
    """The decoder's dictionary, grown with a pronunciation for each transcript word CMUdict lacks."""

    def __init__(self, decoder: Decoder):
        self.decoder = decoder

    def known(self, word: str) -> bool:
        return self.decoder.lookup_word(word) is not None

    def spoken(self, token: str) -> list[str]:
        """The dictionary words a transcript token is said as (none for punctuation alone)."""
        token = token.lower().replace("’", "'").replace("‘", "'")
        words: list[str] = []
        for piece in re.split(r"[-–—/]+", token):
            if piece.startswith("$"):  # $5 is said "five dollars"
                words += self.spoken(piece[1:]) + (["dollars"] if re.search(r"\d", piece) else [])
                continue
            trailing = [word for symbol, said in _SYMBOLS.items() if piece.endswith(symbol) for word in said]
            core = piece.strip("\"'“”«»()[]{}.,;:!?…*&%+=@$<>#^_~`|\\")
            if not core:
                words += _SYMBOLS.get(piece.strip(), [])
                continue
            if self.known(core):
                words.append(core)
            elif re.fullmatch(r"\d{1,3}(?:,\d{3})+|\d+", core):  # 1,000 is one number
                words += number_words(core.replace(",", ""))
            elif re.fullmatch(r"\d+\.\d+", core):  # 3.25: "three point two five"
                whole, fraction = core.split(".")
                words += number_words(whole) + ["point"] + [_ONES[int(digit)] for digit in fraction]
            elif re.fullmatch(r"\d+[a-z]+", core):  # 3rd, 10th, 5km: the number, then the letters' guess
                digits = re.match(r"\d+", core).group(0)  # type: ignore[union-attr]
                words += number_words(digits) + [self._guess(core[len(digits) :])]
            else:
                words.append(self._guess(core))
            words += trailing
        return words

    def _guess(self, word: str) -> str:
        if self.known(word):
            return word
        phones = _spelled_pronunciation(word)
        if not phones:
            return ""
        # update=False: the alignment search is built after every word is in, which reads the whole dictionary
        self.decoder.add_word(word, phones, False)
        return word


# ---------------------------------------------------------------------------------------------------------------
# Cue edges


def _snapped_edges(ranges: list[tuple[int, int]], frame_levels: np.ndarray) -> list[tuple[int, int]]:
    """Each (first, last) frame range moved onto the sound it times: each edge, by at most EDGE_REACH_FRAMES and
    never into a neighbour, to where the level last (or first) stands within EDGE_RANGE_DB of the range's loudest
    frame and above the recording's noise floor; an end also across a stop's closure to its release."""
    if not ranges or len(frame_levels) == 0:
        return ranges
    floor = float(np.percentile(frame_levels, 5)) + NOISE_MARGIN_DB
    snapped: list[tuple[int, int]] = []
    for index, (first, last) in enumerate(ranges):
        last = min(last, len(frame_levels) - 1)
        first = min(first, last)
        threshold = max(float(frame_levels[first : last + 1].max()) - EDGE_RANGE_DB, floor)
        loud = frame_levels > threshold
        earliest = max(first - EDGE_REACH_FRAMES, snapped[-1][1] + 1 if snapped else 0)
        following = ranges[index + 1][0] - 1 if index + 1 < len(ranges) else len(frame_levels) - 1
        latest = max(last, min(last + EDGE_REACH_FRAMES, following))
        if loud[first]:
            while first > earliest and loud[first - 1]:
                first -= 1
        else:
            onsets = np.flatnonzero(loud[first : min(first + EDGE_REACH_FRAMES, last) + 1])
            first += int(onsets[0]) if len(onsets) else 0
        if loud[last]:
            quiet = 0
            for frame in range(last + 1, latest + 1):
                quiet = 0 if loud[frame] else quiet + 1
                if quiet > MAX_CLOSURE_FRAMES:
                    break
                if not quiet:
                    last = frame
        else:
            reach = max(last - EDGE_REACH_FRAMES, first)
            ends = np.flatnonzero(loud[reach : last + 1])
            last = reach + int(ends[-1]) if len(ends) else last
        snapped.append((first, last))
    return snapped


def _cue(first_frame: int, last_frame: int, text: str) -> Cue:
    return Cue(first_frame * FRAME_SECONDS, (last_frame + 1) * FRAME_SECONDS, text)


# ---------------------------------------------------------------------------------------------------------------
# Alignment


def align(samples: np.ndarray, sample_rate: int, transcript: str) -> list[Cue]:
    """Cues of the transcript's own text, cut into caption units as scripts are, timed on the speech in `samples`.

    NoSpeechError when the audio holds no speech; TranscriptMismatchError when the transcript is not what is said
    (other words, or far too few of them)."""
    text = script.normalise(transcript)
    units = script.units(text) if text else []
    decoder = _decoder(lm=None, cmn="live", bestpath=False)
    vocabulary = _Vocabulary(decoder)
    unit_words = [[word for token in unit.text.split() for word in vocabulary.spoken(token) if word] for unit in units]
    if not any(unit_words):
        raise TranscriptMismatchError("The transcript has no words to find in the audio.", field="transcript")
    frame_levels = _frame_levels(samples, sample_rate)
    if len(frame_levels) == 0 or frame_levels.max() < SILENT_DBFS:
        raise NoSpeechError("The audio is silent: there is no speech to caption.", field="audio")

    said = _aligned_in_pieces(decoder, units, unit_words, samples, sample_rate, len(frame_levels))
    if said is None:
        _raise_no_speech_or_mismatch(samples, sample_rate, len(frame_levels))
    _check_coverage(said, frame_levels)
    _check_fit(said, samples, sample_rate, len(frame_levels))

    timed = iter(said)
    unit_spans = [[next(timed) for _ in words] for words in unit_words]
    return _unit_cues(units, unit_spans, frame_levels)


def _pieces(units: list[script.Unit]) -> list[range]:
    """Runs of units of about PIECE_CHARACTERS, each aligned in one pass."""
    pieces: list[range] = []
    first, characters = 0, 0
    for index, unit in enumerate(units):
        characters += len(unit.text)
        if characters >= PIECE_CHARACTERS:
            pieces.append(range(first, index + 1))
            first, characters = index + 1, 0
    if first < len(units):
        pieces.append(range(first, len(units)))
    return pieces


def _aligned_in_pieces(
    decoder: Decoder,
    units: list[script.Unit],
    unit_words: list[list[str]],
    samples: np.ndarray,
    sample_rate: int,
    frame_count: int,
) -> list[_Span] | None:
    """Every transcript word's span, in order, or None where a piece finds no path through the audio."""
    pieces = _pieces(units)
    seconds_per_character = INITIAL_SECONDS_PER_CHARACTER
    said: list[_Span] = []
    characters_said = 0
    position = 0  # the frame the next piece's window starts at
    for number, piece in enumerate(pieces):
        words = [word for index in piece for word in unit_words[index]]
        following = pieces[number + 1] if number + 1 < len(pieces) else range(0)
        lookahead = [word for index in following for word in unit_words[index]]
        characters = sum(len(units[index].text) for index in piece)
        if not words:
            continue
        window = int((characters * seconds_per_character * WINDOW_MARGIN + WINDOW_EXTRA_SECONDS) / FRAME_SECONDS)
        while True:
            last = frame_count if not lookahead else min(frame_count, position + window)
            spans = _aligned_window(decoder, words, lookahead, samples, sample_rate, position, last)
            found = [span for span in spans or [] if not span.is_filler]
            # A piece fits its window when the grammar ran on into the next piece: its last word was not squeezed.
            if last == frame_count or len(found) > len(words):
                break
            window *= 2
        if spans is None or len(found) < len(words):
            return None
        said += found[: len(words)]
        position = said[-1].last_frame + 1
        characters_said += characters
        seconds_per_character = max(1 / 40, (said[-1].end - said[0].start) / characters_said)
    return said


def _aligned_window(
    decoder: Decoder,
    words: list[str],
    lookahead: list[str],
    samples: np.ndarray,
    sample_rate: int,
    first: int,
    last: int,
) -> list[_Span] | None:
    """`words`, then any number of `lookahead` words, aligned to frames first..last: None when no path fits."""
    sequence = words + lookahead
    final = len(sequence)
    transitions: list[tuple] = [(state, state + 1, 1.0, word) for state, word in enumerate(sequence)]
    # where the window ends, the grammar may end: anywhere after the piece itself
    transitions += [(state, final, 1.0) for state in range(len(words), final)]
    window = samples[_sample_at(first, sample_rate) : _sample_at(last, sample_rate)]
    for beam, word_beam in ALIGN_BEAMS:
        decoder.config["beam"] = decoder.config["pbeam"] = beam
        decoder.config["wbeam"] = word_beam
        decoder.add_fsg("_piece", decoder.create_fsg("_piece", 0, final, transitions))  # read with these beams
        decoder.activate_search("_piece")
        decoder.start_utt()
        for pcm in _pcm_chunks(window, sample_rate):
            # Streamed (full_utt False): the search holds its active paths, not the window's features. (Handed a
            # whole window at once, the search lost espeak-ng's voice, even with these beams.)
            decoder.process_raw(pcm.tobytes(), False, False)
        decoder.end_utt()
        spans = _spans(decoder, first)
        if spans is not None:
            return spans
    return None


def _unit_cues(units: list[script.Unit], unit_spans: list[list[_Span]], frame_levels: np.ndarray) -> list[Cue]:
    """One cue per unit; a unit said as nothing (punctuation alone) fills the gap before the next one."""
    timed = [index for index, spans in enumerate(unit_spans) if spans]
    ranges = _snapped_edges(
        [(unit_spans[index][0].first_frame, unit_spans[index][-1].last_frame) for index in timed], frame_levels
    )
    frames: dict[int, tuple[int, int]] = dict(zip(timed, ranges, strict=True))
    cues: list[Cue] = []
    for index, unit in enumerate(units):
        if index not in frames:
            first = frames[index - 1][1] + 1 if index - 1 in frames else 0
            following = [frames[later][0] for later in range(index + 1, len(units)) if later in frames]
            frames[index] = (first, max(first, (following[0] if following else first + 100) - 1))
        cues.append(_cue(*frames[index], script.caption_lines(unit.text)))
    return cues


def _check_coverage(words: list[_Span], frame_levels: np.ndarray) -> None:
    """Refuse an alignment that leaves much of the speech under the silences and noises between its words."""
    in_word = np.zeros(len(frame_levels), dtype=bool)
    for span in words:
        in_word[span.first_frame : span.last_frame + 1] = True
    speech = frame_levels > np.median(frame_levels[in_word]) - SPEECH_BELOW_WORDS_DB
    share = np.count_nonzero(speech & in_word) / max(1, np.count_nonzero(speech))
    if share < MIN_ALIGNED_SHARE:
        raise TranscriptMismatchError(
            f"The transcript covers only {share:.0%} of the speech in the audio: "
            "send the whole transcript of this recording.",
            field="transcript",
        )


def _check_fit(words: list[_Span], samples: np.ndarray, sample_rate: int, frame_count: int) -> None:
    """Refuse an alignment whose words fit the audio far worse than free phone recognition does."""
    phones = _decoder(allphone=get_model_path("en-us/en-us-phone.lm.bin"), bestpath=False)
    aligned_misfit = np.full(frame_count, np.nan, np.float32)
    for span in words:
        aligned_misfit[span.first_frame : span.last_frame + 1] = span.misfit
    gaps: list[np.ndarray] = []
    for first, last in _probe_windows(frame_count):
        window = samples[_sample_at(first, sample_rate) : _sample_at(last, sample_rate)]
        phone_misfit = np.full(last - first, np.nan, np.float32)
        for span in _decoded_utterances(phones, window, sample_rate)[0]:
            phone_misfit[span.first_frame : span.last_frame + 1] = span.misfit
        gap = aligned_misfit[first:last] - phone_misfit[: last - first]
        gaps.append(gap[np.isfinite(gap)])
    measured = np.concatenate(gaps)
    if len(measured) and float(np.mean(measured)) > MAX_FIT_BELOW_PHONES:
        raise TranscriptMismatchError(
            "The transcript does not match what is said in the audio: check that it belongs to this recording.",
            field="transcript",
        )


def _raise_no_speech_or_mismatch(samples: np.ndarray, sample_rate: int, frame_count: int) -> NoReturn:
    """The transcript could not be followed through the audio: tell noise from other words."""
    words, frames = 0, 0
    for first, last in _probe_windows(frame_count):
        window = samples[_sample_at(first, sample_rate) : _sample_at(last, sample_rate)]
        found, decoded = _recognised_words(window, sample_rate)
        words, frames = words + len(found), frames + decoded
    if not _is_speech(words, frames * FRAME_SECONDS):
        raise NoSpeechError("No speech was found in the audio: there is nothing to caption.", field="audio")
    raise TranscriptMismatchError(
        "The transcript does not match what is said in the audio: check that it belongs to this recording.",
        field="transcript",
    )


# ---------------------------------------------------------------------------------------------------------------
# Recognition


def _recognised_words(samples: np.ndarray, sample_rate: int) -> tuple[list[_Span], int]:
    """The words heard, and the frames decoded."""
    spans, frames = _decoded_utterances(_decoder(), samples, sample_rate)
    return [span for span in spans if not span.is_filler], frames


def _is_speech(word_count: int, seconds: float) -> bool:
    return word_count >= max(MIN_WORDS, MIN_WORDS_PER_MINUTE * seconds / 60)


def _cue_text(words: list[_Span]) -> str:
    text = " ".join(re.sub(r"^i(?=$|')", "I", _dictionary_word(word.word)) for word in words)
    return script.caption_lines(text[:1].upper() + text[1:])


def recognise(samples: np.ndarray, sample_rate: int) -> list[Cue]:
    """Cues of the words recognised in `samples`: a new cue at each pause and wherever two caption lines are full.
    Lower case but for each cue's first letter and "I".

    NoSpeechError when nothing is said (silence, noise)."""
    words, frames = _recognised_words(samples, sample_rate)
    if not _is_speech(len(words), frames * FRAME_SECONDS):
        raise NoSpeechError("No speech was found in the audio: there is nothing to caption.", field="audio")
    groups: list[list[_Span]] = [[]]
    for word in words:
        group = groups[-1]
        width = len(" ".join(_dictionary_word(span.word) for span in [*group, word]))
        if group and (word.start - group[-1].end > CUE_PAUSE_SECONDS or width > script.UNIT_WIDTH):
            groups.append(group := [])
        group.append(word)
    ranges = _snapped_edges(
        [(group[0].first_frame, group[-1].last_frame) for group in groups], _frame_levels(samples, sample_rate)
    )
    return [_cue(first, last, _cue_text(group)) for (first, last), group in zip(ranges, groups, strict=True)]


__all__ = [
    "NoSpeechError",
    "TranscribeError",
    "TranscriptMismatchError",
    "align",
    "number_words",
    "recognise",
]
