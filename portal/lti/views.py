"""LTI 1.3 pages. The platform's posts (login initiation, launch) come from another site: they are exempt from CSRF
and carry their own proof, the id_token that launches.py validates. Pages shown in the course's frame may be framed
by the sites in LTI_FRAME_ANCESTORS; every other portal page still refuses to be (X-Frame-Options, frame-ancestors).
"""

from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pylti1p3.contrib.django import DjangoDbToolConf

from portal.errors import NOT_FOUND_MESSAGE, Refusal
from portal.jobs import captions
from portal.lti import course_videos, launches
from portal.lti.launches import LaunchRefused

PAGE_SIZE = 20


def _allow_framing(response, form_action: str | None = None):
    # django-csp's per-response override, what its csp_replace decorator sets; 'none' cannot be combined.
    replace = {"frame-ancestors": settings.LTI_FRAME_ANCESTORS}
    if form_action:  # the deep-linking answer posts itself to the platform
        replace["form-action"] = ["'self'", form_action]
    response._csp_replace = replace
    response.xframe_options_exempt = True
    return response


def framed(view):
    """A page the course platform shows in its frame."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if not getattr(response, "xframe_options_exempt", False):
            _allow_framing(response)
        return response

    return wrapper


def _problem(request, refusal: Refusal, in_frame: bool = True):
    """Every refusal: its stable code, a message for people, and the HTTP status that fits."""
    context = {"code": refusal.code, "message": refusal.message, "in_frame": in_frame}
    context["setup_url"] = reverse("lti:setup") if refusal.code in ("platform_unknown", "deployment_unknown") else ""
    return render(request, "lti/problem.html", context, status=refusal.status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
@framed
def oidc_login(request):
    try:
        return launches.login_redirect(request)
    except LaunchRefused as refusal:
        return _problem(request, refusal)


@csrf_exempt
@require_POST
@framed
def launch(request):
    try:
        launch = launches.validated_launch(request)
        body = launch.get_launch_data()
        launches.follow_platform_language(launches.summary(body)["locale"])
        if launch.is_deep_link_launch():
            return redirect("lti:pick_video", launch_id=launches.open_chooser(launch))
        if launch.is_resource_launch():
            return _watch(request, course_videos.for_launch(body))
        raise launches.refused("message_unsupported")
    except LaunchRefused as refusal:
        return _problem(request, refusal)


def _watch(request, video):
    job, link = video.job, video.share_link
    context = {"job": job, "link": link, "captions_language": captions.language(job)}
    response = render(request, "lti/video.html", context)
    # As on the public watch page: for the course, not for search engines or the next site's Referer.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


# The launch id in the address is what ties the chooser to this frame; the frame may send no cookie of ours, so
# its form cannot carry a CSRF token either. A session signed in as someone else than the teacher gets a 404.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@framed
def pick_video(request, launch_id):
    try:
        chooser = launches.chooser(launch_id)
        launches.follow_platform_language(chooser["locale"])
        teacher = launches.chooser_teacher(launch_id)
        if teacher is not None and request.user.is_authenticated and request.user != teacher:
            raise LaunchRefused("not_found", NOT_FOUND_MESSAGE, 404)
        if teacher is None:
            if request.method == "POST":
                raise LaunchRefused("not_found", NOT_FOUND_MESSAGE, 404)
            return render(request, "lti/sign_in.html", {"chooser": chooser, "launch_id": launch_id})
        launch = launches.restored(request, launch_id)
        if request.method == "POST":
            video = course_videos.place(chooser, teacher, request.POST.get("job", ""))
            answer, return_url = course_videos.deep_linking_answer(launch, video)
            parts = urlsplit(return_url)
            response = render(
                request, "lti/answer.html", {"answer": answer, "return_url": return_url, "job": video.job}
            )
            return _allow_framing(response, form_action=f"{parts.scheme}://{parts.netloc}")
    except Refusal as refusal:  # the launch's, or sharing's (too many links for this video)
        return _problem(request, refusal)
    page = Paginator(course_videos.choosable(teacher), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "lti/picker.html", {"chooser": chooser, "launch_id": launch_id, "page": page})


@require_GET
def pick_status(request, launch_id):
    """Whether a teacher has signed in for this chooser yet: the frame's page asks, and moves on once one has."""
    try:
        launches.chooser(launch_id)
    except LaunchRefused as refusal:
        return JsonResponse({"error": refusal.as_dict()}, status=refusal.status)
    teacher = launches.chooser_teacher(launch_id)
    if teacher is not None and request.user.is_authenticated and request.user != teacher:
        return JsonResponse({"error": {"code": "not_found", "message": str(NOT_FOUND_MESSAGE)}}, status=404)
    return JsonResponse({"signed_in": teacher is not None})


@login_required
@require_http_methods(["GET", "POST"])
def pick_sign_in(request, launch_id):
    """Opened in a window of its own (allauth's login refuses to be framed): the signed-in teacher confirms that
    this course may list their videos. Confirming, not just opening, so a link someone else sends does not do it."""
    try:
        chooser = launches.chooser(launch_id)
        teacher = launches.chooser_teacher(launch_id)
        if teacher is not None and teacher != request.user:
            raise launches.refused("picker_taken")
        if request.method == "POST":
            launches.claim(launch_id, request.user)
            return render(request, "lti/signed_in.html", {"chooser": chooser})
    except LaunchRefused as refusal:
        return _problem(request, refusal, in_frame=False)
    return render(request, "lti/confirm.html", {"chooser": chooser, "launch_id": launch_id})


@require_GET
@cache_control(public=True, max_age=300)
def jwks(request):
    """Our public keys: platforms check our deep-linking answers with them."""
    return JsonResponse(DjangoDbToolConf().get_jwks())


def tool_urls() -> dict:
    return {
        "login": settings.SITE_URL + reverse("lti:login"),
        "launch": launches.launch_url(),
        "jwks": settings.SITE_URL + reverse("lti:jwks"),
        "canvas": settings.SITE_URL + reverse("lti:canvas_config"),
    }


@require_GET
def setup(request):
    """What a school's platform administrator pastes into Moodle or Canvas, and sends back to support."""
    return render(request, "lti/setup.html", {"urls": tool_urls()})


@require_GET
def canvas_config(request):
    """Canvas's "Enter URL" developer key configuration. Anonymous: the tool needs no student's name or email."""
    urls = tool_urls()
    placements = [
        {"placement": placement, "message_type": "LtiDeepLinkingRequest", "target_link_uri": urls["launch"]}
        for placement in ("link_selection", "assignment_selection", "editor_button")
    ]
    return JsonResponse(
        {
            "title": "Sonic Portal",
            "description": "Talking-portrait videos from Sonic Portal, for students to watch in the course.",
            "oidc_initiation_url": urls["login"],
            "target_link_uri": urls["launch"],
            "public_jwk_url": urls["jwks"],
            "scopes": [],
            "extensions": [
                {
                    "platform": "canvas.instructure.com",
                    "privacy_level": "anonymous",
                    "settings": {"placements": placements},
                }
            ],
            "custom_fields": {},
        }
    )
