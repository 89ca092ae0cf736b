"""English and Simplified Chinese: every template string is marked, every message has a zh-Hans translation, and
pages, errors and emails follow the browser's language, the switcher, and a signed-in user's saved choice; times
follow the browser's or the user's time zone."""

import gettext as gnu_gettext
import html
import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.jobs import retention
from portal.jobs.models import Job
from tests.catalogue_helpers import placeholders, read_po
from tests.jobs_helpers import finished_job
from tests.library_helpers import run_check
from tests.media import upload

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
CATALOGUES = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9,en;q=0.8"}
HAN = re.compile(r"[\u4e00-\u9fff]")

# --- Every template string is marked for translation ---------------------------------------------------------------
# Letters a template may show untranslated, each a true non-word. Keep it tiny: anything people read goes through
# {% translate %} or {% blocktranslate %}.
NOT_WORDS = {
    # The webhook URL field's placeholder: an example address, the same in every language.
    "https://example.com/sonic-events",
}
# Attributes people read (tooltips, image text, placeholders, screen readers, confirmation dialogs), and the value of
# an input that is a button (its caption; a <button>'s value is data, its caption is its content).
VISIBLE_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label", "data-confirm")
INPUT_BUTTON = re.compile(r'^<input\b[^>]*\btype="(submit|button|reset)"')


def untranslated_text(source: str) -> list[str]:
    """The words a template shows that are not marked for translation."""
    text = re.sub(r"{#.*?#}", " ", source, flags=re.S)
    text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", " ", text, flags=re.S)
    text = re.sub(r"{%\s*blocktrans(late)?\b.*?{%\s*endblocktrans(late)?\s*%}", " ", text, flags=re.S)
    text = re.sub(r"{%.*?%}|{{.*?}}", " ", text, flags=re.S)  # {% translate %} included: it is a tag
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<!--.*?-->|<!DOCTYPE[^>]*>", " ", text, flags=re.S | re.I)
    found = []
    for tag in re.findall(r"<[^>]+>", text):
        for name, value in re.findall(r'([\w-]+)="([^"]*)"', tag):
            if name in VISIBLE_ATTRIBUTES or (name == "value" and INPUT_BUTTON.search(tag)):
                found.append(value)
    found += re.split(r"<[^>]+>", text)
    words = []
    for piece in found:
        piece = html.unescape(piece).strip()
        if piece and piece not in NOT_WORDS and re.search(r"[A-Za-z]", piece):
            words.append(" ".join(piece.split()))
    return words


def test_the_checker_finds_unmarked_text_and_accepts_marked_text():
    assert untranslated_text('<p>Hello {{ name }}</p><img alt="A cat">') == ["A cat", "Hello"]
    assert untranslated_text('<button value="save" data-confirm="Sure?">{% translate "Save" %}</button>') == ["Sure?"]
    assert untranslated_text('<input type="submit" value="Send">') == ["Send"]
    marked = """{% load i18n %}<p title="{% translate 'Tip' %}">{% blocktranslate trimmed with n=count %}
                {{ n }} files{% endblocktranslate %}</p>{# a comment #}<script>let a = "b";</script>
                <input type="hidden" name="next" value="/library/">"""
    assert untranslated_text(marked) == []


def test_every_template_marks_its_text_for_translation():
    problems = {}
    for path in sorted(TEMPLATES.rglob("*.html")) + sorted(TEMPLATES.rglob("*.txt")):
        words = untranslated_text(path.read_text(encoding="utf-8"))
        if words:
            problems[str(path.relative_to(ROOT))] = words
    assert not problems, f"text not marked for translation: {json.dumps(problems, ensure_ascii=False, indent=1)}"


# --- The zh-Hans catalogue has every message -----------------------------------------------------------------------
def project_copy(destination: Path) -> Path:
    """What makemessages reads (our code, templates, JavaScript and catalogues), away from the working tree."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("portal", "billing", "templates", "static", "locale"):
        shutil.copytree(ROOT / name, destination / name, ignore=ignore)
    shutil.copy(ROOT / "manage.py", destination / "manage.py")
    return destination


def regenerated_catalogues(copy: Path) -> dict[str, Path]:
    """The copy's zh-Hans catalogues after makemessages has merged in every message the code and templates have."""
    for domain in ("django", "djangojs"):
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "makemessages",
                "-d",
                domain,
                "-l",
                "zh_Hans",
                "--no-obsolete",
                "--ignore=var",
                "--ignore=*.egg-info",
                "--ignore=static/vendor",
            ],
            cwd=copy,
            check=True,
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "portal.settings.base", "PYTHONPATH": str(copy)},
        )
    return {domain: copy / "locale" / "zh_Hans" / "LC_MESSAGES" / f"{domain}.po" for domain in ("django", "djangojs")}


def catalogue_problems(po: Path) -> list[str]:
    problems = []
    for entry in read_po(po):
        label = f"{po.name}: {entry.msgid!r}"
        if entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            problems.append(f"{label} is fuzzy (a guess by msgmerge): check and translate it")
        if not entry.translations or not all(text.strip() for text in entry.translations):
            problems.append(f"{label} has no zh-Hans translation")
            continue
        # Chinese has one plural form: it must carry the placeholders of the English plural.
        source = entry.msgid_plural if entry.msgid_plural is not None else entry.msgid
        for text in entry.translations:
            if placeholders(text) != placeholders(source):
                problems.append(f"{label}: placeholders {placeholders(text)} differ from {placeholders(source)}")
    return problems


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    return regenerated_catalogues(project_copy(tmp_path_factory.mktemp("project")))


@pytest.mark.slow
def test_every_message_has_a_zh_hans_translation(regenerated):
    for domain, po in regenerated.items():
        assert catalogue_problems(po) == [], domain
        committed = {entry.key for entry in read_po(CATALOGUES / f"{domain}.po") if not entry.obsolete}
        current = {entry.key for entry in read_po(po) if not entry.obsolete}
        assert committed == current, f"run makemessages: {domain}.po differs from the code by {committed ^ current}"


@pytest.mark.slow
def test_a_new_template_string_without_a_translation_is_caught(tmp_path):
    copy = project_copy(tmp_path)
    (copy / "templates" / "new_page.html").write_text('{% load i18n %}<p>{% translate "New thing" %}</p>')
    problems = catalogue_problems(regenerated_catalogues(copy)["django"])
    # msgmerge leaves it empty, or fills in a guess from a similar message and marks it fuzzy: either fails.
    assert len(problems) == 1 and problems[0].startswith("django.po: 'New thing' ")


def test_translations_keep_their_markup_and_attribute_safe_quotes():
    """A translation keeps its message's HTML tags as they are, and adds no straight double quote (some are shown
    inside an HTML attribute, which one would close: Chinese uses “ ” instead)."""
    tag = re.compile(r"</?\w+[^>]*>")
    for entry in read_po(CATALOGUES / "django.po"):
        source = entry.msgid_plural if entry.msgid_plural is not None else entry.msgid
        for text in entry.translations:
            assert sorted(tag.findall(text)) == sorted(tag.findall(source)), entry.msgid
            assert text.count('"') == source.count('"'), entry.msgid


def test_the_committed_mo_files_match_the_po_files():
    """compilemessages was run after the last change to a .po (the .mo files are what Django reads)."""
    for domain in ("django", "djangojs"):
        with open(CATALOGUES / f"{domain}.mo", "rb") as compiled:
            catalog = gnu_gettext.GNUTranslations(compiled)._catalog
        expected = {}
        for entry in read_po(CATALOGUES / f"{domain}.po"):
            if entry.obsolete or "fuzzy" in entry.flags:
                continue
            key = entry.msgid if entry.context is None else f"{entry.context}\x04{entry.msgid}"
            if entry.msgid_plural is None:
                expected[key] = entry.msgstr[0]
            else:
                expected.update({(key, index): text for index, text in entry.msgstr.items()})
        compiled_messages = {key: value for key, value in catalog.items() if key != ""}
        assert compiled_messages == expected, f"run compilemessages: {domain}.mo is out of date"


# --- Pages, errors and emails in the reader's language -------------------------------------------------------------
def test_pages_answer_in_chinese_for_a_chinese_browser(owner_client, owner):
    anonymous = {"/": "让照片开口说话", reverse("account_login"): "忘记密码？"}
    for path, text in anonymous.items():
        page = Client().get(path, **ZH).content.decode()
        assert '<html lang="zh-hans">' in page and text in page, path
    job = finished_job(owner)
    signed_in = {
        reverse("library:index"): "您的素材库",
        reverse("jobs:new"): "新建视频",
        reverse("jobs:list"): "您的视频",
        reverse("jobs:detail", args=[job.id]): "下载 MP4",
        reverse("billing:usage"): "套餐与用量",
        reverse("api_keys"): "API 密钥",
        reverse("account_email"): "邮箱地址",
        reverse("account_preferences"): "偏好设置",
    }
    for path, text in signed_in.items():
        response = owner_client.get(path, **ZH)
        page = response.content.decode()
        assert response.status_code == 200 and '<html lang="zh-hans">' in page and text in page, path
        assert response["Content-Language"] == "zh-hans"


def test_without_a_language_pages_are_english(client):
    page = client.get("/").content.decode()
    assert '<html lang="en">' in page and "Give a photo a voice." in page


def test_the_script_catalogue_is_cached_per_language(client):
    """Every page loads it: the browser keeps it, and a page in another language asks for another URL."""
    english = re.search(r'<script src="([^"]+)"', client.get("/").content.decode().split("timezone.js")[1])[1]
    chinese = re.search(r'<script src="([^"]+)"', client.get("/", **ZH).content.decode().split("timezone.js")[1])[1]
    assert english.endswith("?language=en") and chinese.endswith("?language=zh-hans")
    response = client.get(html.unescape(chinese), **ZH)
    assert response.status_code == 200 and "max-age=3600" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]

    def has_chinese(body: str) -> bool:
        return json.dumps("正在检查……") in body or "正在检查……" in body

    assert has_chinese(response.content.decode())
    assert not has_chinese(client.get(html.unescape(english)).content.decode())


def test_the_switcher_cookie_wins_over_the_browser(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"}, **ZH)
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = client.get("/", **ZH).content.decode()
    assert '<html lang="en">' in page and "Give a photo a voice." in page


def test_the_switcher_is_a_labelled_form_in_the_header(client):
    page = client.get("/").content.decode()
    switcher = re.search(
        r'<form method="post" action="/i18n/setlang/" class="language-switcher">.*?</form>', page, re.S
    ).group(0)
    assert '<label for="language-choice"' in switcher and '<select id="language-choice" name="language">' in switcher
    assert '<option value="zh-hans" lang="zh-hans">简体中文</option>' in switcher and "<button" in switcher


def test_a_signed_in_user_keeps_the_language_they_chose(client, owner):
    client.force_login(owner)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/library/"})
    owner.refresh_from_db()
    assert owner.language == "zh-hans"
    client.cookies.pop(settings.LANGUAGE_COOKIE_NAME)  # another device: no cookie, an English browser
    page = client.get(reverse("library:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-hans">' in page and "您的素材库" in page


def test_the_saved_language_wins_over_the_cookie_and_the_browser(client, owner):
    User.objects.filter(pk=owner.pk).update(language="en")
    client.force_login(owner)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = client.get(reverse("jobs:list"), **ZH).content.decode()
    assert '<html lang="en">' in page and "Your videos" in page


def test_the_preferences_page_saves_language_and_time_zone(owner_client, owner):
    response = owner_client.post(
        reverse("account_preferences"), {"language": "zh-hans", "time_zone": "Asia/Shanghai"}, follow=True
    )
    owner.refresh_from_db()
    assert (owner.language, owner.time_zone) == ("zh-hans", "Asia/Shanghai")
    page = response.content.decode()
    assert "已保存您的偏好设置。" in page and '<strong class="current-time-zone">Asia/Shanghai</strong>' in page


def test_the_preferences_page_refuses_an_unknown_time_zone(owner_client, owner):
    response = owner_client.post(reverse("account_preferences"), {"language": "", "time_zone": "Mars/Olympus"})
    owner.refresh_from_db()
    assert response.status_code == 400 and owner.time_zone == ""


# --- Times in the reader's time zone and format --------------------------------------------------------------------
@pytest.fixture
def job_made_at_night(owner):
    """A job made at 02:49 UTC on 9 December 2026: 10:49 the same day in Shanghai, 21:49 the day before in New York."""
    job = finished_job(owner)
    Job.objects.filter(pk=job.pk).update(created_at=datetime(2026, 12, 9, 2, 49, tzinfo=UTC))
    return job


def created_at_shown(client, job, **headers) -> str:
    page = client.get(reverse("jobs:detail", args=[job.id]), **headers).content.decode()
    return re.search(r'<time class="created-at" datetime="[^"]+">([^<]+)</time>', page).group(1)


def test_times_are_in_utc_and_english_format_by_default(owner_client, job_made_at_night):
    assert created_at_shown(owner_client, job_made_at_night) == "9 Dec 2026 02:49"


def test_the_browser_time_zone_cookie_moves_times(owner_client, job_made_at_night):
    owner_client.cookies[settings.TIME_ZONE_COOKIE_NAME] = "Asia/Shanghai"
    assert created_at_shown(owner_client, job_made_at_night) == "9 Dec 2026 10:49"
    assert created_at_shown(owner_client, job_made_at_night, **ZH) == "2026年12月9日 10:49"


def test_the_saved_time_zone_wins_over_the_cookie(owner_client, owner, job_made_at_night):
    User.objects.filter(pk=owner.pk).update(time_zone="America/New_York")
    owner_client.cookies[settings.TIME_ZONE_COOKIE_NAME] = "Asia/Shanghai"
    assert created_at_shown(owner_client, job_made_at_night) == "8 Dec 2026 21:49"


def test_a_bad_time_zone_cookie_is_ignored(owner_client, job_made_at_night):
    owner_client.cookies[settings.TIME_ZONE_COOKIE_NAME] = "Not/AZone"
    assert created_at_shown(owner_client, job_made_at_night) == "9 Dec 2026 02:49"


# --- Errors: the code stays, the message translates ---------------------------------------------------------------
def test_api_errors_keep_their_code_and_translate_their_message(client):
    english = client.get("/api/v1/jobs/", HTTP_AUTHORIZATION="Bearer sk_nope").json()["error"]
    chinese = client.get("/api/v1/jobs/", HTTP_AUTHORIZATION="Bearer sk_nope", **ZH).json()["error"]
    assert english["code"] == chinese["code"] == "invalid_api_key"
    assert english["message"] == "The API key is not valid." and chinese["message"] == "API 密钥无效。"


def test_upload_refusals_keep_their_code_and_translate_their_message(owner_client):
    response = owner_client.post(
        reverse("library:upload_portrait"),
        {"file": upload("holiday.png", b"not a picture")},
        HTTP_ACCEPT="application/json",
        **ZH,
    )
    run_check(response.json()["id"])  # in the worker, in the uploader's language
    error = owner_client.get(response["Location"], **ZH).json()["error"]
    assert error["code"] == "unreadable_image" and error["message"] == "无法将文件读取为图片。"
    refused_at_the_door = owner_client.post(
        reverse("library:upload_portrait"), {"file": upload("a.gif", b"GIF")}, HTTP_ACCEPT="application/json", **ZH
    ).json()["error"]
    assert refused_at_the_door["code"] == "unsupported_type" and "JPEG" in refused_at_the_door["message"]
    assert refused_at_the_door["message"] != "Portraits must be JPEG, PNG or WebP images (.jpg, .png, .webp)."


def test_a_renderer_failure_is_shown_in_the_readers_language(owner_client, owner):
    job = finished_job(
        owner,
        status=Job.Status.FAILED,
        video=None,
        error_code="no_face",
        error_message="no face was found in the portrait; use a photo with one clearly visible face",
    )
    url = reverse("jobs:detail", args=[job.id])
    assert "no face was found in the portrait" in owner_client.get(url).content.decode()
    page = owner_client.get(url, **ZH).content.decode()
    assert "人像中未找到人脸" in page and 'data-code="no_face"' in page
    status = owner_client.get(reverse("jobs:status", args=[job.id]), **ZH).json()
    assert status["error"] == {"code": "no_face", "message": "人像中未找到人脸；请使用一张能清楚看到一张人脸的照片。"}


def test_renderer_warnings_are_shown_in_the_readers_language(owner_client, owner):
    warning = "2 faces were found; face 0 (the largest unless face_index says) is animated"
    job = finished_job(owner, warnings=[warning])
    url = reverse("jobs:detail", args=[job.id])
    assert warning in owner_client.get(url).content.decode()
    assert "找到 2 张人脸；将为第 0 张生成动画。" in owner_client.get(url, **ZH).content.decode()


def test_the_javascript_catalogue_is_served_in_the_page_language(client):
    checking = json.dumps("正在检查……")[1:-1]  # the catalogue is JSON inside the script: non-ASCII is escaped
    assert checking in client.get(reverse("javascript-catalog"), **ZH).content.decode()
    assert checking not in client.get(reverse("javascript-catalog")).content.decode()


# --- Emails ---------------------------------------------------------------------------------------------------------
def test_sign_up_from_a_chinese_browser_gets_a_chinese_verification_email(client, db):
    client.post(
        reverse("account_signup"),
        {
            "email": "laoshi@example.com",
            "password1": "correct horse battery staple",
            "password2": "correct horse battery staple",
        },
        **ZH,
    )
    (message,) = mail.outbox
    assert "请确认您的Email地址" in message.subject and HAN.search(message.body)
    assert User.objects.get(email="laoshi@example.com").language == "zh-hans"


def test_emails_sent_outside_a_request_use_the_saved_language_and_time_zone(owner):
    User.objects.filter(pk=owner.pk).update(language="zh-hans", time_zone="Asia/Shanghai")
    job = finished_job(owner, kept_days=7)
    Job.objects.filter(pk=job.pk).update(created_at=datetime(2026, 12, 1, 20, 0, tzinfo=UTC))
    retention.run(now=datetime(2026, 12, 1, 20, 0, tzinfo=UTC) + timedelta(days=8))
    (message,) = mail.outbox
    assert "已删除 1 个旧视频" in message.subject and "制作于 2026-12-02" in message.body  # 04:00 in Shanghai
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE
