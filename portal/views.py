from django.http import JsonResponse
from django.shortcuts import render

from billing.plans import all_plans
from billing.quota import usage_summary
from portal import connections, tracing
from portal.errors import server_error_body
from portal.jobs.models import Job

RECENT_VIDEOS = 6


def home(request):
    """What the product does (a sample it made, the plans); signed in: "New video" first, usage, recent videos."""
    if not request.user.is_authenticated:
        return render(request, "home.html", {"plans": all_plans()})
    usage = usage_summary(request.user)
    recent = Job.objects.filter(owner=request.user).select_related("audio")[:RECENT_VIDEOS]
    return render(request, "home.html", {"plan": usage["plan"], "usage": usage, "recent_jobs": recent})


def healthz(request):
    checks = {"database": connections.database_reachable(), "redis": connections.redis_reachable()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable"}
    body.update({name: "ok" if ok else "unreachable" for name, ok in checks.items()})
    return JsonResponse(body, status=200 if healthy else 503)


def server_error(request):
    """The 500 page, with the support code of this request's trace so support can find what went wrong (in the
    API's error shape under /api/)."""
    code = tracing.support_code(tracing.current_trace_id())
    if request.path.startswith("/api/"):
        return JsonResponse(server_error_body(request, code), status=500)
    return render(request, "500.html", {"support_code": code}, status=500)
