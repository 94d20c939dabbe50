from django.contrib.auth.middleware import LoginRequiredMiddleware


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
