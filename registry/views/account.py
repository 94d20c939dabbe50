"""The signed-in user's API token: when it was issued, when it expires, revoke it."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from registry.records import tokens


@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if tokens.revoke_tokens(request.user):
            messages.success(request, "Your API token is revoked; scripts using it are refused.")
        return redirect("api_token")
    token = tokens.current_token(request.user)
    return render(
        request,
        "registration/api_token.html",
        {
            "token": token,
            "expires": tokens.expires_at(token) if token else None,
            "expired": tokens.is_expired(token) if token else False,
            "hours": tokens.lifetime().total_seconds() / 3600,
        },
    )
