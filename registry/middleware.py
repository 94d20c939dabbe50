from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import JsonResponse


class PagesLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Every page needs a login; the REST API authenticates on its own.

    DRF answers an anonymous API caller 401/403 in JSON (with token auth a
    redirect to the sign-in page would be wrong), so `/api/` is left to DRF's
    permission classes, which default to IsAuthenticated.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class LengthRequiredMiddleware:
    """A body sent in chunks, with no Content-Length, is a 411 (security review, finding 11).

    Django reads at most Content-Length bytes of a request, so such a body would
    be read as empty and, say, an import would start on nothing. Clients send
    the length (curl, requests and every HTTP library do for a file or a string).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not request.META.get("CONTENT_LENGTH"):
            return JsonResponse(
                {
                    "detail": "Send the body with a Content-Length header (chunked bodies "
                    "are not accepted)."
                },
                status=411,
            )
        return self.get_response(request)


class HealthCheckMiddleware:
    """`GET /health/`: is the app able to serve? For a container's or a load balancer's probe.

    Answered first, before the host check, the HTTPS redirect and the login: a
    probe calls `http://127.0.0.1:8000/health/` from inside the container, which
    ALLOWED_HOSTS and SECURE_SSL_REDIRECT would otherwise refuse. It says only
    which of the database, the broker and the cache answer (200 when all do, 503
    naming the one that does not); the reasons go to the log, not to the caller.
    """

    PATH = "/health/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info != self.PATH or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        from registry import health

        checks = health.run_checks()
        healthy = all(state in health.GOOD for state in checks.values())
        response = JsonResponse(
            {"status": "ok" if healthy else "unavailable", "checks": checks},
            status=200 if healthy else 503,
        )
        response["Cache-Control"] = "no-store"
        return response


class CustomFieldsMiddleware:
    """A request reads the custom-field definitions once, however many forms, serializers,
    filters and tables consult them (`registry.models.custom.definitions_read_once`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from registry.models.custom import definitions_read_once

        with definitions_read_once():
            return self.get_response(request)
