from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from redis import Redis
from redis.exceptions import RedisError

from portal import tracing
from portal.api.errors import server_error_body


def home(request):
    if request.user.is_authenticated:
        return redirect("library:index")
    return render(request, "home.html")


def _database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _redis_reachable() -> bool:
    client = Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except RedisError:
        return False
    finally:
        client.close()


def healthz(request):
    checks = {"database": _database_reachable(), "redis": _redis_reachable()}
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
