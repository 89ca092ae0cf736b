"""Course videos: a teacher's finished video placed in a course, and what a student's launch of it may play.

Placing one makes a share link (portal/jobs/sharing.py, with its checks) that lasts as long as the video is kept;
the platform is given an ltiResourceLink whose custom parameter is the CourseVideo's random token. A student's
launch is signed by the platform, so the video comes from that parameter as the platform stored it, never from the
address; and only launches from the registration and deployment that placed it find it. When the owner deletes the
video or revokes the link on the video's page, the launch says so (410).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from pylti1p3.contrib.django import DjangoMessageLaunch
from pylti1p3.deep_link_resource import DeepLinkResource

from portal.errors import NOT_FOUND_MESSAGE
from portal.jobs import retention, sharing
from portal.jobs.models import Job, ShareLink
from portal.lti import launches
from portal.lti.launches import LaunchRefused
from portal.lti.models import CourseVideo
from portal.ownership import get_owned

# The custom parameter the platform sends back in every launch of a placed video.
VIDEO_PARAMETER = "sonic_portal_video"

UNAVAILABLE = {
    "resource_missing": (400, _("This course link carries no Sonic Portal video. Ask your teacher to add it again.")),
    "resource_unknown": (
        404,
        _("This course link does not lead to a Sonic Portal video. Ask your teacher to add the video again."),
    ),
    "video_deleted": (410, _("Its owner deleted this video. Ask your teacher for a new one.")),
    "access_revoked": (410, _("Its owner stopped sharing this video. Ask your teacher if you still need it.")),
    "access_expired": (410, _("This video's time in Sonic Portal has ended. Ask your teacher to add it again.")),
}


def unavailable(code: str) -> LaunchRefused:
    status, message = UNAVAILABLE[code]
    return LaunchRefused(code, message, status)


def choosable(teacher):
    """The teacher's videos a course can show: finished, with their file."""
    return Job.objects.filter(owner=teacher, status=Job.Status.SUCCEEDED).exclude(output="").select_related("audio")


def place(chooser: dict, teacher, job_id: str) -> CourseVideo:
    """The teacher's chosen video in the chooser's course; 404 (not_found) for anyone else's, or no such video."""
    try:
        job = get_owned(choosable(teacher), teacher, job_id)
    except (Http404, ValidationError):  # a malformed id is no such video either
        raise LaunchRefused("not_found", NOT_FOUND_MESSAGE, 404) from None
    with transaction.atomic():
        link = sharing.create(job, max(sharing.LIFETIMES))  # finished, and at most ACTIVE_LINKS_MAX links at once
        # A course keeps the video as long as Sonic Portal does, not for a month (still never past its retention).
        ShareLink.objects.filter(pk=link.pk).update(expires_at=retention.expires_at(job))
        return CourseVideo.objects.create(
            owner=teacher,
            job=job,
            share_link=link,
            issuer=chooser["issuer"],
            client_id=chooser["client_id"],
            deployment_id=chooser["deployment_id"],
            course_id=chooser["course_id"],
            course_title=chooser["course_title"],
        )


def deep_linking_answer(launch: DjangoMessageLaunch, video: CourseVideo) -> tuple[str, str]:
    """(the signed LtiDeepLinkingResponse, the platform's return URL) for one video `place` just placed."""
    assert video.job is not None
    resource = (
        DeepLinkResource()
        .set_url(launches.launch_url())
        .set_title(video.job.display_title)
        .set_custom_params({VIDEO_PARAMETER: video.token})
    )
    answer = launch.get_deep_link().get_response_jwt([resource])
    return answer, launch.get_launch_data()[launches.DEEP_LINKING]["deep_link_return_url"]


def for_launch(body) -> CourseVideo:
    """The video a student's (signed) resource launch may play, counted as one more view; else why not."""
    token = (body.get(launches.CUSTOM) or {}).get(VIDEO_PARAMETER)
    if not isinstance(token, str) or not token:
        raise unavailable("resource_missing")
    audience = body.get("aud")
    video = (
        CourseVideo.objects.select_related("job", "job__audio", "share_link")
        .filter(
            token=token,
            issuer=body.get("iss"),
            client_id=audience[0] if isinstance(audience, list) else audience,
            deployment_id=body.get(launches.DEPLOYMENT),
        )
        .first()
    )
    if video is None:
        raise unavailable("resource_unknown")
    job = video.job
    if job is None or job.status != Job.Status.SUCCEEDED or not job.output:
        raise unavailable("video_deleted")
    link = video.share_link
    if link is None or link.revoked_at is not None:
        raise unavailable("access_revoked")
    if not link.is_active():
        raise unavailable("access_expired")
    CourseVideo.objects.filter(pk=video.pk).update(launches=F("launches") + 1)
    sharing.watched(link.token)  # the owner's page counts the course's views with the link's
    return video
