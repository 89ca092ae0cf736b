"""Videos in a course platform (Moodle, Canvas, any LTI 1.3 platform), through deep linking.

A teacher adds "Sonic Portal" content to a course: the platform starts an OIDC login (/lti/login/), posts the signed
LtiDeepLinkingRequest to /lti/launch/ and we answer with the chooser, in the platform's frame, at
/lti/pick/<launch id>/. The frame may carry no cookie of ours, and allauth's login refuses to be framed, so the
teacher signs in and confirms in a window of our own (/lti/pick/<launch id>/sign-in/); the chooser, which asks
/status/ meanwhile, then lists their finished videos. The chosen one gets a share link (jobs' sharing machinery, for
as long as the video is kept) and a CourseVideo, and we answer with a signed LtiDeepLinkingResponse holding one
ltiResourceLink whose custom parameter is the CourseVideo's token; it posts itself to the platform's return URL.

A student then launches that link (LtiResourceLinkRequest): the platform signs the custom parameter back to us, and
the page plays the video from its share link with its captions, as the public watch page does, with no portal
account. A deleted video, a revoked or expired link say so (410); a launch from any other registration or deployment
finds nothing (404).

Registrations live in pylti1p3's tool config models (LtiTool: issuer, client id, deployments, the platform's URLs;
LtiToolKey: our RSA key pair, made in admin), which superusers manage in admin (admin.py). launches.py validates
every launch through pylti1p3 with a stable code per failure; course_videos.py places and resolves videos.
"""
