"""Command line: python -m renderer render | doctor | speak | burn | caption | bench | qualify."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .engine import available_backends, render
from .errors import RenderError
from .qualify.cases import FIXTURES, looped_speech
from .qualify.command import CI_RESOLUTION, cmd_qualify
from .qualify.gate import QUALIFICATION_DIR


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cmd_render(args) -> int:
    options = {
        name: getattr(args, name)
        for name in ("resolution", "fps", "seed", "dynamic_scale", "motion_scale", "expand_ratio", "inference_steps")
        if getattr(args, name) is not None
    }
    if args.no_crop:
        options["crop_face"] = False
    started = time.perf_counter()
    try:
        result = render(args.portrait, args.audio, args.output, options, backend=args.backend, watermark=args.watermark)
    except RenderError as error:
        if args.json:
            print(json.dumps({"error": error.as_dict()}))
        else:
            print(f"error [{error.code}]: {error.message}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - started
    if args.json:
        payload = result.as_dict()
        payload.update(
            wall_seconds=round(wall, 3),
            rtf=round(wall / result.audio_duration, 4),
            peak_rss_mb=round(_peak_rss_mb(), 1),
        )
        print(json.dumps(payload))
    else:
        print(
            f"{result.output_path}: {result.frames} frames {result.width}x{result.height}, "
            f"video {result.video_duration:.3f} s, audio {result.audio_duration:.3f} s, "
            f"rendered in {wall:.1f} s (RTF {wall / result.audio_duration:.3f})"
        )
        for warning in result.warnings:
            print(f"note: {warning}")
    return 0


def cmd_doctor(args) -> int:
    for name, (available, reason) in available_backends().items():
        print(f"{name:8} {'available' if available else 'unavailable'}: {reason}")
    return 0


def cmd_speak(args) -> int:
    """Say a script into OUT.flac with its captions beside it (OUT.vtt, OUT.srt); print the real-time factor."""
    from . import captions, speech

    text = Path(args.script).read_text(encoding="utf-8") if args.script != "-" else sys.stdin.read()
    started = time.perf_counter()
    try:
        prepared = speech.prepare(text, args.voice, args.rate)
    except RenderError as error:
        print(f"error [{error.code}]: {error.message}", file=sys.stderr)
        return 2
    said = speech.speak(prepared)
    wall = time.perf_counter() - started
    output = Path(args.output).with_suffix(".flac")
    said.write_flac(output)
    output.with_suffix(".vtt").write_text(captions.to_webvtt(said.cues), encoding="utf-8")
    output.with_suffix(".srt").write_text(captions.to_srt(said.cues), encoding="utf-8")
    print(
        f"{prepared.voice.name}: {said.duration_seconds:.1f} s of speech (estimated {prepared.estimated_seconds} s), "
        f"{len(said.cues)} captions, {wall:.2f} s wall, RTF {wall / said.duration_seconds:.3f} -> {output}"
    )
    return 0


def cmd_burn(args) -> int:
    """Draw CAPTIONS (.vtt or .srt) onto VIDEO's frames into OUT.mp4; print the speed against the video's length."""
    import av

    from . import burn_in, captions

    started = time.perf_counter()
    try:
        cues = captions.parse(Path(args.captions).read_text(encoding="utf-8"))
        burn_in.burn(Path(args.video), Path(args.output), cues, language=args.language)
    except RenderError as error:
        print(f"error [{error.code}]: {error.message}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - started
    with av.open(args.output) as container:  # the header's count: decoding the output again would cost a pass
        stream = container.streams.video[0]
        frames = stream.frames
        duration = frames / float(stream.average_rate or stream.guessed_rate or 1)
    print(
        f"{args.output}: {len(cues)} captions on {frames} frames ({duration:.1f} s of video), {wall:.2f} s wall, "
        f"{wall / duration:.3f} x the video's duration ({duration / wall:.1f} x real time)"
    )
    return 0


def cmd_caption(args) -> int:
    """Caption AUDIO into OUT.vtt and OUT.srt: its transcript aligned to it (--transcript), else the words heard."""
    from . import captions, transcribe
    from .media import read_audio

    transcript = Path(args.transcript).read_text(encoding="utf-8") if args.transcript else None
    started = time.perf_counter()
    try:
        # Decoded straight to the recogniser's rate: a lecture's samples take a third of their 48 kHz size.
        samples, rate = read_audio(args.audio, rate=transcribe.SAMPLE_RATE)
        if transcript is not None:
            cues = transcribe.align(samples, rate, transcript)
        else:
            cues = transcribe.recognise(samples, rate)
    except RenderError as error:
        print(f"error [{error.code}]: {error.message}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - started
    seconds = len(samples) / rate
    output = Path(args.output)
    output.with_suffix(".vtt").write_text(captions.to_webvtt(cues), encoding="utf-8")
    output.with_suffix(".srt").write_text(captions.to_srt(cues), encoding="utf-8")
    words = sum(len(cue.text.split()) for cue in cues)
    print(
        f"{'aligned' if transcript is not None else 'recognised'}: {seconds:.1f} s of audio, {words} words, "
        f"{len(cues)} captions, {wall:.2f} s wall, RTF {wall / seconds:.3f}, peak RSS {_peak_rss_mb():.0f} MB "
        f"-> {output.with_suffix('.vtt')}, {output.with_suffix('.srt')}"
    )
    return 0


def cmd_bench(args) -> int:
    durations = [float(value) for value in args.durations.split(",")]
    resolutions = [int(value) for value in args.resolutions.split(",")]
    print(f"builtin backend, 25 fps, portrait {FIXTURES / 'portrait.jpg'}")
    print(
        f"{'px':>5} {'audio s':>8} {'wall s':>8} {'RTF':>6} {'peak RSS MB':>12} {'frames':>7} {'duration error ms':>18}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        for resolution in resolutions:
            for seconds in durations:
                audio = Path(workdir) / f"speech-{seconds:g}.wav"
                if not audio.exists():
                    looped_speech(seconds, audio)
                output = Path(workdir) / f"out-{resolution}-{seconds:g}.mp4"
                # A fresh process per input, so each peak RSS is its own.
                completed = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "renderer",
                        "render",
                        str(FIXTURES / "portrait.jpg"),
                        str(audio),
                        str(output),
                        "--resolution",
                        str(resolution),
                        "--json",
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
                if completed.returncode != 0 or not lines:
                    print(completed.stdout + completed.stderr, file=sys.stderr)
                    return 1
                result = json.loads(lines[-1])
                error_ms = (result["video_duration"] - result["audio_duration"]) * 1000
                print(
                    f"{resolution:5d} {seconds:8.0f} {result['wall_seconds']:8.2f} {result['rtf']:6.3f} "
                    f"{result['peak_rss_mb']:12.0f} {result['frames']:7d} {error_ms:18.1f}",
                    flush=True,
                )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m renderer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    r = commands.add_parser("render", help="render PORTRAIT + AUDIO into OUT.mp4")
    r.add_argument("portrait")
    r.add_argument("audio")
    r.add_argument("output")
    r.add_argument("--backend", default="builtin", choices=sorted(available_backends()))
    r.add_argument("--resolution", type=int)
    r.add_argument("--fps", type=int)
    r.add_argument("--seed", type=int)
    r.add_argument("--dynamic-scale", type=float)
    r.add_argument("--motion-scale", type=float)
    r.add_argument("--expand-ratio", type=float)
    r.add_argument("--inference-steps", type=int)
    r.add_argument("--no-crop", action="store_true", help="animate the whole image instead of a face crop")
    r.add_argument("--watermark", action="store_true", help="mark every frame as AI-generated (the Free plan)")
    r.add_argument("--json", action="store_true", help="print one JSON line with the result")
    r.set_defaults(run=cmd_render)

    d = commands.add_parser("doctor", help="which backends can run here, and why not")
    d.set_defaults(run=cmd_doctor)

    s = commands.add_parser("speak", help="say SCRIPT (a text file, - for stdin) into OUT.flac with OUT.vtt/.srt")
    s.add_argument("script")
    s.add_argument("output")
    s.add_argument("--voice", default="en-joe", help="en-joe (neural English), zh-cmn, en-espeak, fr-espeak, ...")
    s.add_argument("--rate", type=float, default=1.0, help="speaking rate, 0.5-2 (1: the voice's own pace)")
    s.set_defaults(run=cmd_speak)

    burn = commands.add_parser("burn", help="draw CAPTIONS (.vtt/.srt) onto VIDEO's frames into OUT.mp4, audio copied")
    burn.add_argument("video")
    burn.add_argument("captions")
    burn.add_argument("output")
    burn.add_argument("--language", default="en", help="the captions' language: picks the CJK font face (zh, ja, ko)")
    burn.set_defaults(run=cmd_burn)

    c = commands.add_parser("caption", help="caption English AUDIO into OUT.vtt and OUT.srt")
    c.add_argument("audio")
    c.add_argument("output")
    c.add_argument(
        "--transcript",
        metavar="FILE",
        help="what is said (UTF-8 text): its words are timed on the audio; without it the words are recognised",
    )
    c.set_defaults(run=cmd_caption)

    b = commands.add_parser("bench", help="real-time factor and peak memory for several audio lengths")
    b.add_argument("--durations", default="10,60", help="seconds of audio, comma-separated (e.g. 10,60,3600)")
    # The plans' maximum resolutions (billing/plans.py: Free 512, Teacher 720, Pro 1080, Business 1440).
    b.add_argument("--resolutions", default="512,720,1080,1440", help="shorter sides in px, comma-separated")
    b.set_defaults(run=cmd_bench)

    q = commands.add_parser("qualify", help="the quality gate: render the reference suite, refuse a regression")
    q.add_argument("--backend", default="builtin", help="builtin (default) or sonic")
    q.add_argument(
        "--resolution",
        type=int,
        default=CI_RESOLUTION,
        help=f"output shorter side in px (default {CI_RESOLUTION}, fast enough for CI)",
    )
    q.add_argument(
        "--report",
        metavar="DIR",
        help="write report.html (open it in a browser), report.json, contact_sheet.png, plots/, strips/ "
        "and the videos here",
    )
    q.add_argument(
        "--results-dir",
        metavar="DIR",
        help="write the gate's figures here, one small file each without a trailing newline (Tekton "
        "results), also when the gate fails: passed (true/false), cases-passed, cases-total, "
        "duration-error-ms (worst |video - input audio duration|, ms), offset-frames (worst |A/V "
        "offset|), sync-correlation (lowest mouth-vs-audio correlation), renderer-version, "
        'checkpoint-digest, backend. The three figures over the cases are "nan" when a case\'s '
        'render raised (it has no measurement); checkpoint-digest is "unavailable" when the '
        "weights cannot be read",
    )
    q.add_argument(
        "--moments-from",
        metavar="JSON",
        help="a previous report.json (or a baseline file) whose quiet and loud frame indices the strips, "
        "contact sheet and plots reuse, so the two runs show the same frames (default: the "
        "baseline's, else the previous report's in --report)",
    )
    q.add_argument("--cases", help="only these cases, comma-separated (default: the whole suite)")
    q.add_argument(
        "--self-test",
        action="store_true",
        help="prove the gate works: a 2-frame shift and a 0.5 s truncation of a real render must fail",
    )
    q.add_argument(
        "--update-baseline",
        action="store_true",
        help="make this run's numbers the backend's baseline (only if the absolute limits pass)",
    )
    q.add_argument(
        "--record",
        action="store_true",
        help="record in results.json that this backend version passed or failed the whole suite, with "
        "its checkpoint digest and figures",
    )
    q.add_argument(
        "--qualification-dir",
        default=str(QUALIFICATION_DIR),
        help="where thresholds.json, baseline-<backend>.json and results.json live",
    )
    q.set_defaults(run=cmd_qualify)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
