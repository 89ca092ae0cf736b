from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from billing import quota
from portal import storage
from portal.durations import duration_clock, time_left
from portal.errors import Refusal, error_response, refusal_response, shown_error
from portal.http import wants_json
from portal.jobs import captions as job_captions
from portal.jobs import retention, services, sharing, webhooks
from portal.jobs.errors import JobRejected
from portal.jobs.forms import JobForm
from portal.jobs.models import TITLE_MAX_LENGTH, Job, ShareLink, WebhookEndpoint
from portal.library.models import AudioClip, Portrait
from portal.ownership import get_owned
from portal.support import audit
from renderer import captions

PAGE_SIZE = 20


def _get_job_for_user(request, job_id) -> Job:
    return get_owned(Job.objects.select_related("portrait", "audio"), request.user, job_id)


@login_required
@require_GET
def job_list(request):
    jobs = Job.objects.filter(owner=request.user).select_related("portrait", "audio")
    status = request.GET.get("status", "")
    if status in Job.Status.values:
        jobs = jobs.filter(status=status)
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "jobs/list.html", {"page": page, "status": status, "statuses": Job.Status.choices})


@login_required
def new_job(request):
    plan = quota.plan_for(request.user)
    form = JobForm(
        request.user,
        plan.resolutions,
        request.POST or None,
        initial=request.GET.dict(),
        backends=services.backends_for(request.user),
    )
    check = None
    if request.method == "POST" and form.is_valid():
        inputs = (form.cleaned_data["portrait"], form.cleaned_data["audio"], form.options())
        try:
            if request.POST.get("action") == "preflight":
                check = services.preflight(request.user, *inputs, backend=form.chosen_backend)
            else:
                job = services.submit(request.user, *inputs, backend=form.chosen_backend)
                if wants_json(request):
                    return JsonResponse({"id": str(job.id), "url": reverse("jobs:detail", args=[job.id])}, status=201)
                return redirect("jobs:detail", job_id=job.id)
        except Refusal as rejection:
            if wants_json(request):
                return refusal_response(request, rejection)
            form.add_error(rejection.field if rejection.field in form.fields else None, rejection.message)
        if check is not None and wants_json(request):
            return JsonResponse(check.as_dict())
    elif request.method == "POST" and wants_json(request):
        return error_response(request, "invalid_form", _("Check the form."), 400, fields=form.errors)
    return render(
        request,
        "jobs/new.html",
        {"form": form, "check": check, "plan": plan, "previews": _input_previews(request.user)},
    )


def _input_previews(user) -> dict:
    """What the New video page draws for each choice: the portrait with its face box, the audio's waveform."""
    portraits = {
        str(portrait.id): {
            "image": reverse("library:portrait_thumbnail", args=[portrait.id]),
            "width": portrait.width,
            "height": portrait.height,
            "face_box": portrait.face_box,
            "faces_found": portrait.faces_found,
            "face_error": shown_error(portrait.face_error_code, portrait.face_error_message)
            if portrait.face_error_code
            else None,
        }
        for portrait in Portrait.objects.filter(owner=user)
    }
    audio = {
        str(clip.id): {
            "duration": clip.duration_seconds,
            "clock": duration_clock(clip.duration_seconds),
            "waveform": clip.waveform,
        }
        for clip in AudioClip.objects.filter(owner=user)
    }
    return {"portraits": portraits, "audio": audio}


@login_required
@require_GET
def job_detail(request, job_id):
    return render(request, "jobs/detail.html", _detail_context(request, _get_job_for_user(request, job_id)))


def _detail_context(request, job: Job, **extra) -> dict:
    links = {}
    if job.status == Job.Status.SUCCEEDED and job.output:
        links = {"video": storage.download_path(job, job.output.name)}
        if job.burned_in:
            links["burned_in"] = storage.download_path(job, job.burned_in.name)
        links["expires_at"] = timezone.now() + timedelta(seconds=settings.DOWNLOAD_LINK_SECONDS)
    notes = [audit.user_facing(event) for event in job.audit_events.order_by("created_at")]
    now = timezone.now()
    share_links = [link for link in job.share_links.all() if link.is_active(now)]
    for link in share_links:
        link.url = request.build_absolute_uri(reverse("shared_video", args=[link.token]))
    return {
        "job": job,
        "links": links,
        "captions_language": job_captions.language(job),
        "captions_making": job_captions.is_making(job),
        "burning_in": job_captions.is_burning(job),
        "captions_text": (job_captions.file_text(job, "vtt") or ("",))[0],
        "kept_until": retention.expires_at(job),
        "support_notes": [note for note in notes if note],
        "title_max_length": TITLE_MAX_LENGTH,
        "share_links": share_links,
        "share_lifetimes": sharing.LIFETIMES,
        "default_lifetime": sharing.DEFAULT_LIFETIME,
        **extra,
    }


@login_required
@require_GET
def job_status(request, job_id):
    job = _get_job_for_user(request, job_id)
    return JsonResponse(
        {
            "id": str(job.id),
            "status": job.status,
            "progress": round(job.progress, 4),
            "stage": job.stage,
            "stage_label": job.stage_label,
            "time_left": time_left(job.seconds_left),
            "finished": job.is_finished,
            "error": (
                {"code": job.error_code, "message": shown_error(job.error_code, job.error_message)}
                if job.error_code
                else None
            ),
        }
    )


@login_required
@require_GET
def job_poster(request, job_id):
    job = _get_job_for_user(request, job_id)
    if not job.poster:
        raise Http404("no poster yet")
    return storage.serve(request, job.poster.name, "image/jpeg")


@login_required
@require_GET
def captions_file(request, job_id, file_format):
    """The video's captions as WebVTT (what the player's <track> reads) or SubRip; ?download=1 saves the file."""
    job = _get_job_for_user(request, job_id)
    return _captions_response(job, file_format, download=bool(request.GET.get("download")))


def _captions_response(job: Job, file_format: str, download: bool = False) -> HttpResponse:
    found = job_captions.file_text(job, file_format)
    if found is None:
        raise Http404("no captions")
    text, content_type = found
    response = HttpResponse(text, content_type=content_type)
    if download:
        name = job.download_name.removesuffix(".mp4")
        response["Content-Disposition"] = content_disposition_header(True, f"{name}.{file_format}")
    return response


# Bigger than any captions file the engine reads: what arrives beyond it is not read at all.
CAPTIONS_UPLOAD_MAX_BYTES = 2 * captions.MAX_FILE_CHARACTERS


@login_required
@require_POST
def edit_captions(request, job_id):
    """The owner's captions: corrections typed on the page, or a WebVTT or SRT file; refused whole if unreadable."""
    job = _get_job_for_user(request, job_id)
    sent = request.FILES.get("captions_file")
    text = request.POST.get("captions", "")
    try:
        if sent is not None:
            text = _uploaded_text(sent)
        job_captions.replace(job, text)
    except Refusal as refusal:
        context = _detail_context(request, job, captions_error=refusal, captions_text=text, captions_open=True)
        return render(request, "jobs/detail.html", context, status=refusal.status)
    messages.success(request, _("Captions saved."))
    return redirect(reverse("jobs:detail", args=[job.id]) + "#captions")


def _uploaded_text(sent) -> str:
    if sent.size > CAPTIONS_UPLOAD_MAX_BYTES:
        raise job_captions.CaptionsRefused("file_too_large", _("A captions file may be at most 1 MB."), status=413)
    try:
        return sent.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise job_captions.CaptionsRefused(
            "captions_invalid", _("Save the captions file as UTF-8 text (WebVTT or SRT).")
        ) from None


@login_required
@require_POST
def make_captions(request, job_id):
    """Ask a worker to hear the video's speech: timed to the pasted transcript, else recognised."""
    return _ask_a_worker(
        request,
        job_id,
        lambda job: job_captions.request(job, request.POST.get("transcript", "")),
        _("A worker is listening to the video; its captions appear here when ready."),
    )


@login_required
@require_POST
def burn_in_captions(request, job_id):
    """Ask for a copy of the video with its captions drawn in, for players that show no caption track."""
    return _ask_a_worker(
        request,
        job_id,
        job_captions.request_burn_in,
        _("A worker is drawing the captions into a copy of the video."),
    )


def _ask_a_worker(request, job_id, ask, asked: str):
    job = _get_job_for_user(request, job_id)
    try:
        ask(job)
    except Refusal as refusal:
        messages.error(request, refusal.message, extra_tags=refusal.code)
    else:
        messages.success(request, asked)
    return redirect(reverse("jobs:detail", args=[job.id]) + "#captions")


@login_required
@require_POST
def delete_captions(request, job_id):
    job = job_captions.remove(_get_job_for_user(request, job_id))
    messages.success(request, _("Captions removed."))
    return redirect(reverse("jobs:detail", args=[job.id]) + "#captions")


@login_required
@require_POST
def cancel_job(request, job_id):
    job = services.cancel(_get_job_for_user(request, job_id))
    if job.status == Job.Status.CANCELED:
        messages.success(request, _("Canceled. The reserved seconds are back in your quota."))
    elif job.cancel_requested:
        messages.info(request, _("Stopping… the job ends at the next frame and its seconds are refunded."))
    return redirect("jobs:detail", job_id=job.id)


@login_required
@require_POST
def rerun_job(request, job_id):
    try:
        job = services.rerun(_get_job_for_user(request, job_id))
    except Refusal as rejection:
        messages.error(request, rejection.message, extra_tags=rejection.code)
        return redirect("jobs:detail", job_id=job_id)
    messages.success(request, _("Queued again with the same inputs and options."))
    return redirect("jobs:detail", job_id=job.id)


@login_required
@require_POST
def delete_job(request, job_id):
    job = _get_job_for_user(request, job_id)
    try:
        services.delete(job)
    except Refusal as rejection:
        messages.error(request, rejection.message, extra_tags=rejection.code)
        return redirect("jobs:detail", job_id=job.id)
    messages.success(request, _("Deleted the job and its video."))
    return redirect("jobs:list")


@login_required
@require_POST
def rename_job(request, job_id):
    """The video's title: shown in the portal and used as the downloaded file's name; empty goes back to the
    audio's name."""
    job = _get_job_for_user(request, job_id)
    try:
        services.rename(job, request.POST.get("title", ""))
    except JobRejected as rejection:
        messages.error(request, rejection.message, extra_tags=rejection.code)
        return redirect("jobs:detail", job_id=job.id)
    messages.success(request, _("Renamed."))
    return redirect("jobs:detail", job_id=job.id)


@login_required
@require_POST
def renew_link(request, job_id):
    _get_job_for_user(request, job_id)
    messages.success(request, _("Here is a fresh download link."))
    return redirect("jobs:detail", job_id=job_id)


@require_GET
def download(request, token):
    """A signed link works without a session (for scripts and shared machines) until it expires."""
    try:
        grant = storage.verify_download(token)
    except storage.DownloadLinkExpired:
        return render(request, "jobs/link_problem.html", {"expired": True}, status=410)
    except storage.DownloadLinkInvalid:
        return render(request, "jobs/link_problem.html", {"expired": False}, status=403)
    job = Job.objects.filter(pk=grant.job_id).first()
    if job is None or not grant.name or grant.name not in (job.output.name, job.poster.name, job.burned_in.name):
        return render(request, "jobs/link_problem.html", {"gone": True}, status=410)
    content_type = "image/jpeg" if grant.name == job.poster.name else "video/mp4"
    download_name = None
    if "download" in request.GET and grant.name == job.output.name:
        download_name = job.download_name
    elif "download" in request.GET and grant.name == job.burned_in.name:
        download_name = job.download_name.removesuffix(".mp4") + " (captions).mp4"
    return storage.serve(request, grant.name, content_type, download_name=download_name)


@login_required
@require_POST
def share_job(request, job_id):
    job = _get_job_for_user(request, job_id)
    try:
        days = int(request.POST.get("days", sharing.DEFAULT_LIFETIME))
    except ValueError:
        days = 0
    try:
        link = sharing.create(job, days)
    except Refusal as refusal:
        messages.error(request, refusal.message, extra_tags=refusal.code)
    else:
        messages.success(
            request,
            _("Anyone with the link can watch this video until %(date)s.")
            % {"date": formats.date_format(timezone.localtime(link.expires_at), "DATETIME_FORMAT")},
        )
    return redirect("jobs:detail", job_id=job.id)


@login_required
@require_POST
def revoke_share(request, job_id, link_id):
    job = _get_job_for_user(request, job_id)
    sharing.revoke(get_object_or_404(ShareLink, id=link_id, job=job))
    messages.success(request, _("The link no longer works."))
    return redirect("jobs:detail", job_id=job.id)


def _no_index(response):
    """A shared video is for the people it was sent to, not for search engines or the next site's Referer."""
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
def shared_video(request, token):
    link = sharing.watched(token)
    context = {"link": link, "job": link.job, "captions_language": job_captions.language(link.job)}
    return _no_index(render(request, "jobs/shared.html", context))


@require_GET
def shared_video_file(request, token):
    job = sharing.active_link(token).job
    return _no_index(storage.serve(request, job.output.name, "video/mp4"))


@require_GET
def shared_video_captions(request, token):
    return _no_index(_captions_response(sharing.active_link(token).job, "vtt"))


@require_GET
def shared_video_poster(request, token):
    job = sharing.active_link(token).job
    if not job.poster:
        raise Http404("no poster")
    return _no_index(storage.serve(request, job.poster.name, "image/jpeg"))


@login_required
def webhook_settings(request):
    """Where finished-job events go; the signing secret is shown once, when the URL is saved."""
    endpoint = WebhookEndpoint.objects.filter(owner=request.user).first()
    context = {"endpoint": endpoint, "new_secret": None, "error": None}
    if request.method == "POST":
        if request.POST.get("action") == "remove":
            webhooks.remove_endpoint(request.user)
            messages.success(request, _("Webhook removed; no more events will be sent."))
            return redirect("jobs:webhook")
        try:
            endpoint = webhooks.set_endpoint(request.user, request.POST.get("url", "").strip())
        except Refusal as rejection:
            context["error"] = rejection
        else:
            context.update(endpoint=endpoint, new_secret=endpoint.secret)
    context["deliveries"] = request.user.webhook_deliveries.select_related("job")[:20]
    return render(request, "jobs/webhook.html", context, status=400 if context["error"] else 200)
