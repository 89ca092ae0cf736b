"""What qualify leaves for a pipeline and for a person: the --results-dir figures (Tekton results), report.html with
the same frames from run to run, the results.json record, and the checkpoint digest that says which weights ran."""

import json
import math
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

import renderer
from renderer import __main__ as cli
from renderer import checkpoints
from renderer.backends import builtin, sonic
from renderer.errors import BackendUnavailableError, ParameterError, RenderError
from renderer.qualify import cases as qualify_cases
from renderer.qualify import gate as qualify_gate
from renderer.qualify import rendering
from renderer.qualify import report as qualify_report
from renderer.qualify import report_html as qualify_html
from renderer.qualify import results as qualify_results
from renderer.qualify.selftest import SHIFT_FRAMES, shift_picture

FIGURES = {
    "passed",
    "cases-passed",
    "cases-total",
    "duration-error-ms",
    "offset-frames",
    "sync-correlation",
    "renderer-version",
    "checkpoint-digest",
    "backend",
}


@pytest.fixture
def qualification_dir(tmp_path):
    """A copy of the committed thresholds, baseline and results, without the baseline's moments (a test that
    wants them sets its own) and without the RTF rules: a busy test machine's timer is not what is tested here."""
    copy = Path(shutil.copytree(qualify_gate.QUALIFICATION_DIR, tmp_path / "qualification"))
    baseline = json.loads((copy / "baseline-builtin.json").read_text())
    baseline.pop("moments", None)
    (copy / "baseline-builtin.json").write_text(json.dumps(baseline))
    thresholds = json.loads((copy / "thresholds.json").read_text())
    for rules in (
        thresholds["limits"],
        thresholds["regression"],
        *thresholds["backend_limits"].values(),
        *thresholds["case_limits"].values(),
    ):
        rules.pop("rtf", None)
    (copy / "thresholds.json").write_text(json.dumps(thresholds))
    return copy


def run_qualify(capsys, *args) -> tuple[int, str]:
    """The command line, in this process (the models load once for every test here)."""
    status = cli.main(["qualify", *map(str, args)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def passes(capsys, *args) -> str:
    status, output = run_qualify(capsys, *args)
    assert status == 0, output
    return output


def read_figures(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in directory.iterdir()}


class Page(HTMLParser):
    """What a reader of report.html gets: its text, the ids it can jump to, the files it links."""

    def __init__(self, text: str):
        super().__init__()
        self.ids, self.images, self.links, self.tags, self.words = set(), [], [], [], []
        self.feed(text)
        self.close()
        self.text = " ".join(" ".join(self.words).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "a":
            self.links.append(attrs["href"])

    def handle_data(self, data):
        self.words.append(data)


@pytest.mark.slow
def test_results_files_and_a_report_to_read(tmp_path, capsys, qualification_dir):
    report, results = tmp_path / "report", tmp_path / "results"
    passes(
        capsys,
        "--cases",
        "very_short,fast_speech",
        "--report",
        report,
        "--results-dir",
        results,
        "--qualification-dir",
        qualification_dir,
    )

    figures = read_figures(results)
    assert set(figures) == FIGURES
    assert not any(value.endswith("\n") or not value for value in figures.values()), figures
    assert sum(len(value.encode()) for value in figures.values()) < 4096, "Tekton's default results limit"
    assert figures["passed"] == "true" and figures["cases-passed"] == figures["cases-total"] == "2"
    assert 0 <= float(figures["duration-error-ms"]) < 40 and figures["duration-error-ms"].count(".") == 1
    assert len(figures["duration-error-ms"].split(".")[1]) == 1
    assert int(figures["offset-frames"]) <= 1
    assert 0.6 <= float(figures["sync-correlation"]) <= 1 and len(figures["sync-correlation"].split(".")[1]) == 3
    assert figures["renderer-version"] == builtin.VERSION and figures["backend"] == "builtin"
    assert figures["checkpoint-digest"] == renderer.checkpoint_digest("builtin")

    summary = json.loads((report / "report.json").read_text())
    assert summary["checkpoint_digest"] == figures["checkpoint-digest"]
    page = Page((report / "report.html").read_text())
    assert "script" not in page.tags
    assert "PASSED" in page.text and "2 of 2 cases passed" in page.text and figures["checkpoint-digest"] in page.text
    assert builtin.VERSION in page.text and "256 px" in page.text and summary["date"] in page.text
    for name in ("very_short", "fast_speech"):
        assert f"case-{name}" in page.ids and f"#case-{name}" in page.links, "a section and a row in the table"
        case = summary["cases"][name]
        assert case["moments"]["quiet"] and case["moments"]["loud"]
        assert case["strip"] in page.images and case["plot"] in page.images and case["video"] in page.links
        assert {check["status"] for check in case["checks"]} <= {"pass", "info"}
    for target in page.images + [link for link in page.links if not link.startswith("#")]:
        assert not target.startswith(("http:", "https:", "//", "/")), f"{target}: the report stands alone"
        assert (report / target).is_file() and (report / target).stat().st_size > 1000, target


@pytest.mark.slow
def test_a_failing_run_writes_its_figures_and_says_why(tmp_path, capsys, monkeypatch, qualification_dir):
    """The self-test's damage, done by the backend itself: the picture 2 frames late."""
    real_render = rendering.render

    def late_picture(portrait, audio, output, params, **kwargs):
        rendered = real_render(portrait, audio, Path(output).with_suffix(".on-time.mp4"), params, **kwargs)
        shift_picture(rendered.output_path, Path(output))
        return rendered

    monkeypatch.setattr(rendering, "render", late_picture)
    report, results = tmp_path / "report", tmp_path / "results"
    status, output = run_qualify(
        capsys,
        "--cases",
        "fast_speech",
        "--report",
        report,
        "--results-dir",
        results,
        "--qualification-dir",
        qualification_dir,
    )
    assert status == 1, output
    figures = read_figures(results)
    assert figures["passed"] == "false" and figures["cases-passed"] == "0" and figures["cases-total"] == "1"
    assert int(figures["offset-frames"]) >= SHIFT_FRAMES
    assert figures["sync-correlation"] != "nan" and float(figures["duration-error-ms"]) < 40

    page = Page((report / "report.html").read_text())
    assert "FAILED" in page.text and "0 of 1 cases passed" in page.text
    assert f"FAIL fast_speech: offset_frames = {figures['offset-frames']} (limit |x| <= 1)" in page.text
    offset = next(
        c
        for c in json.loads((report / "report.json").read_text())["cases"]["fast_speech"]["checks"]
        if c["metric"] == "offset_frames"
    )
    assert offset["status"] == "fail" and offset["failures"] and offset["limit"] == "|x| <= 1"


@pytest.mark.slow
def test_a_case_that_raised_gives_nan_figures_and_the_run_goes_on(tmp_path, capsys, monkeypatch, qualification_dir):
    real_render = rendering.render

    def broken(portrait, audio, output, params, **kwargs):
        if Path(output).stem == "very_short":
            raise RuntimeError("CUDA error: an illegal memory access <was encountered>")
        return real_render(portrait, audio, output, params, **kwargs)

    monkeypatch.setattr(rendering, "render", broken)
    report, results = tmp_path / "report", tmp_path / "results"
    status, output = run_qualify(
        capsys,
        "--cases",
        "very_short,fast_speech",
        "--report",
        report,
        "--results-dir",
        results,
        "--qualification-dir",
        qualification_dir,
    )
    assert status == 1 and "FAIL very_short: render failed [crashed] RuntimeError: CUDA error" in output
    figures = read_figures(results)
    assert figures["passed"] == "false" and figures["cases-passed"] == "1" and figures["cases-total"] == "2"
    assert figures["duration-error-ms"] == figures["offset-frames"] == figures["sync-correlation"] == "nan"
    assert figures["checkpoint-digest"].startswith("sha256:")
    text = (report / "report.html").read_text()
    assert "&lt;was encountered&gt;" in text and "<was encountered>" not in text
    assert "render failed [crashed] RuntimeError" in Page(text).text


def test_an_unavailable_backend_still_writes_what_it_can(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SONIC_HOME", raising=False)
    status, output = run_qualify(capsys, "--backend", "sonic", "--results-dir", tmp_path)
    assert status == 2 and "not available here" in output
    figures = read_figures(tmp_path)
    assert figures["passed"] == "false" and figures["backend"] == "sonic" and figures["cases-passed"] == "0"
    assert figures["renderer-version"] == sonic.VERSION and figures["checkpoint-digest"] == "unavailable"
    assert figures["cases-total"] == str(len(qualify_cases.SUITE)) and figures["offset-frames"] == "nan"


@pytest.mark.slow
def test_the_same_frames_from_run_to_run(tmp_path, capsys, qualification_dir):
    first = tmp_path / "first"
    only = ("--cases", "very_short", "--qualification-dir", qualification_dir)
    passes(capsys, *only, "--report", first)
    summary = json.loads((first / "report.json").read_text())
    assert summary["cases"]["very_short"]["moments_from"] == "picked from this run"
    # Other frames than the picker's, so only reuse can give them back.
    chosen = {"quiet": [3, 11], "loud": [6, 17]}
    summary["cases"]["very_short"]["moments"].update(chosen)
    edited = tmp_path / "earlier-report.json"
    edited.write_text(json.dumps(summary))
    (first / "report.json").write_text(json.dumps(summary))

    def moments_of(directory):
        case = json.loads((directory / "report.json").read_text())["cases"]["very_short"]
        return {kind: case["moments"][kind] for kind in chosen}, case["moments_from"]

    second = tmp_path / "second"
    passes(capsys, *only, "--report", second, "--moments-from", edited)
    assert moments_of(second) == (chosen, str(edited))
    passes(capsys, *only, "--report", first)
    assert moments_of(first) == (chosen, "the previous report in this folder")

    baseline = json.loads((qualification_dir / "baseline-builtin.json").read_text())
    baseline["moments"] = {"very_short": {"quiet": [1, 13], "loud": [8], "input_seconds": 0.8}}
    (qualification_dir / "baseline-builtin.json").write_text(json.dumps(baseline))
    passes(capsys, *only, "--report", first)
    assert moments_of(first) == ({"quiet": [1, 13], "loud": [8]}, "baseline-builtin.json")
    page = Page((first / "report.html").read_text())
    assert "The mouth at frames 1, 13 (pauses" in page.text and "strips/very_short.jpg" in page.images


def test_moments_of_other_audio_are_picked_again():
    report = SimpleNamespace(envelope=[0.0] * 10 + [1.0] * 5 + [0.0] * 10, identity_drift=[0.0] * 25, fps=25)
    result = SimpleNamespace(name="x", report=report, input_seconds=1.0)
    known = {"x": {"quiet": [2], "loud": [20], "input_seconds": 1.0, "from": "old"}}
    moments, origin = qualify_report.choose_moments([result], known)
    assert moments["x"]["quiet"] == [2] and moments["x"]["loud"] == [20] and origin["x"] == "old"
    known["x"]["input_seconds"] = 9.7  # the case's audio changed: those frame numbers mean other moments now
    moments, origin = qualify_report.choose_moments([result], known)
    assert moments["x"]["loud"] == [10] and origin["x"] == "picked from this run"


def test_record_keeps_the_digest_and_figures(tmp_path, capsys, monkeypatch, qualification_dir):
    digest = renderer.checkpoint_digest("builtin")
    results = json.loads((qualification_dir / "results.json").read_text())
    results["builtin"][builtin.VERSION]["digest"] = "sha256:" + "0" * 64
    (qualification_dir / "results.json").write_text(json.dumps(results))
    monkeypatch.setattr(qualify_cases, "SUITE", [qualify_cases.CASES["very_short"]])  # the "whole suite", fast
    output = passes(capsys, "--record", "--results-dir", tmp_path / "results", "--qualification-dir", qualification_dir)
    assert f"judged checkpoint sha256:{'0' * 64}, this run renders with {digest}" in output
    record = renderer.qualification_for("builtin", builtin.VERSION, directory=qualification_dir)
    assert record["result"] == "passed" and record["cases"] == 1 and record["digest"] == digest
    figures = read_figures(tmp_path / "results")
    assert record["figures"] == {
        "cases_passed": 1,
        "cases_total": 1,
        "duration_error_ms": float(figures["duration-error-ms"]),
        "offset_frames": int(figures["offset-frames"]),
        "sync_correlation": float(figures["sync-correlation"]),
    }


def test_figures_of_no_measurement_are_nan_and_json_null():
    values = qualify_results.figures([], backend="sonic", version="v", digest="unavailable", total=3, passed=False)
    assert [qualify_results.text(name, values[name]) for name in qualify_results.NAMES] == [
        "false",
        "0",
        "3",
        "nan",
        "nan",
        "nan",
        "v",
        "unavailable",
        "sonic",
    ]
    assert qualify_results.for_record(values)["sync_correlation"] is None
    assert math.isnan(values["offset-frames"])


def test_the_page_escapes_what_it_shows():
    hostile = '<img src=x onerror="alert(1)">'
    summary = {
        "backend": "builtin",
        "renderer_version": hostile,
        "checkpoint_digest": "sha256:<b>",
        "result": "failed",
        "cases": {
            "x": {
                "description": hostile,
                "passed": False,
                "error": f"[crashed] {hostile}",
                "failures": [f"FAIL x: render failed {hostile}"],
                "checks": [],
                "moments": None,
                "video": None,
                "plot": None,
                "strip": None,
            }
        },
    }
    page = qualify_html.render(summary)
    assert "<img" not in page and "<b>" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


# --- the checkpoint digest --------------------------------------------------------------------------------------


def test_builtin_digest_covers_its_version_and_mediapipe_models(tmp_path, monkeypatch):
    digest = renderer.checkpoint_digest("builtin")
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert renderer.checkpoint_digest("builtin") == digest
    monkeypatch.setattr(builtin, "VERSION", "builtin-99")
    assert renderer.checkpoint_digest("builtin") != digest

    models = tmp_path / "mediapipe"
    for name in builtin.MODEL_ASSETS:
        (models / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(builtin._mediapipe_dir() / name, models / name)
    monkeypatch.setattr(builtin, "_mediapipe_dir", lambda: models)
    monkeypatch.setattr(builtin, "VERSION", "builtin-99")
    same_models = renderer.checkpoint_digest("builtin")
    landmarks = models / "modules/face_landmark/face_landmark.tflite"
    data = bytearray(landmarks.read_bytes())
    data[len(data) // 2] ^= 1
    landmarks.write_bytes(bytes(data))
    assert renderer.checkpoint_digest("builtin") != same_models, "another face model, another digest"
    landmarks.unlink()
    with pytest.raises(BackendUnavailableError, match="face_landmark.tflite"):
        renderer.checkpoint_digest("builtin")
    with pytest.raises(ParameterError):
        renderer.checkpoint_digest("wav2lip")


@pytest.fixture
def sonic_tree(tmp_path, monkeypatch):
    """A fake checkpoint folder with every name CHECKPOINT_FILES lists: files, and folders holding files."""
    root = tmp_path / "checkpoints"
    for index, name in enumerate(sonic.CHECKPOINT_FILES):
        path = root / name
        if Path(name).suffix:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"weights %d " % index * 50)
        else:
            (path / "unet").mkdir(parents=True)
            (path / "unet" / "model.safetensors").write_bytes(b"tensors %d" % index)
            (path / "config.json").write_text("{}")
            (path / ".cache").mkdir()
            (path / ".cache" / "download.lock").write_text(str(index))
    monkeypatch.setenv("SONIC_HOME", str(tmp_path / "Sonic"))
    monkeypatch.setenv("SONIC_CHECKPOINTS", str(root))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return root


@pytest.fixture
def counted_reads(monkeypatch):
    reads = []
    real = checkpoints.file_sha256

    def counting(path):
        reads.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(checkpoints, "file_sha256", counting)
    return reads


def test_sonic_digest_follows_every_byte_of_the_checkpoints(sonic_tree):
    digest = renderer.checkpoint_digest("sonic")
    assert digest.startswith("sha256:") and len(digest) == 71
    unet = sonic_tree / "Sonic" / "unet.pth"
    data = bytearray(unet.read_bytes())
    data[7] ^= 0xFF  # one byte, the same size
    unet.write_bytes(bytes(data))
    stat = unet.stat()
    os.utime(unet, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a coarse clock must not hide the write
    assert renderer.checkpoint_digest("sonic") != digest
    (sonic_tree / "whisper-tiny" / ".cache" / "download.lock").write_text("another download")
    assert renderer.checkpoint_digest("sonic") == renderer.checkpoint_digest("sonic"), "hidden files do not count"


def test_sonic_digest_is_served_from_the_cache_while_files_are_unchanged(sonic_tree, counted_reads):
    first = renderer.checkpoint_digest("sonic")
    files = 5 + 2 * 2  # five files, two folders with two visible files each
    assert len(counted_reads) == files
    cache = json.loads((sonic_tree.parent / "cache" / "sonic-portal" / "checkpoint-digests.json").read_text())
    assert len(cache["files"]) == files and all(entry["sha256"] for entry in cache["files"].values())

    assert renderer.checkpoint_digest("sonic") == first and len(counted_reads) == files, "nothing read again"
    bucket = sonic_tree / "Sonic" / "audio2bucket.pth"
    stat = bucket.stat()
    os.utime(bucket, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert renderer.checkpoint_digest("sonic") == first and counted_reads[files:] == ["audio2bucket.pth"]


def test_sonic_digest_names_what_is_missing(sonic_tree, monkeypatch):
    (sonic_tree / "RIFE" / "flownet.pkl").unlink()
    shutil.rmtree(sonic_tree / "whisper-tiny")
    with pytest.raises(BackendUnavailableError, match=r"whisper-tiny, RIFE/flownet\.pkl") as raised:
        renderer.checkpoint_digest("sonic")
    assert raised.value.code == "backend_unavailable" and str(sonic_tree) in raised.value.message
    monkeypatch.delenv("SONIC_HOME")
    monkeypatch.delenv("SONIC_CHECKPOINTS")
    with pytest.raises(BackendUnavailableError, match="set SONIC_HOME"):
        renderer.checkpoint_digest("sonic")


def test_an_unwritable_cache_costs_a_rehash_not_a_failure(sonic_tree, counted_reads, monkeypatch):
    blocker = sonic_tree.parent / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert renderer.checkpoint_digest("sonic") == renderer.checkpoint_digest("sonic")
    assert len(counted_reads) == 2 * 9


def test_render_error_is_not_swallowed_by_the_crash_catcher(tmp_path, monkeypatch):
    def refuses(*args, **kwargs):
        raise RenderError("no face was found", code="no_face")

    monkeypatch.setattr(rendering, "render", refuses)
    result = rendering.render_case(qualify_cases.CASES["very_short"], "builtin", 256, tmp_path)
    assert result.error == "[no_face] no face was found" and result.report is None
