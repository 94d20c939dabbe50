"""Request body parsing that never turns bad input into a 500."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

_SURROGATE = re.compile("[\ud800-\udfff]")


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "The request body is larger than the server accepts."
    default_code = "request_too_large"


class LimitedJSONParser(JSONParser):
    """JSON with Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` enforced.

    DRF reads the body as a stream, which bypasses the check Django makes in
    `request.body`; without this an oversized body would be read whole. Deeply
    nested documents exhaust Python's recursion limit in `json.loads`: a 400.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and stream is not None:
            request = (parser_context or {}).get("request")
            declared = request.META.get("CONTENT_LENGTH") if request is not None else None
            try:
                if declared and int(declared) > limit:
                    raise RequestTooLarge()
            except ValueError:
                raise ParseError("Invalid Content-Length header.") from None
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        if (path := unstorable_text(data)) is not None:
            raise ParseError(
                f"Text at {path} holds a NUL character or an unpaired surrogate, "
                "which no database column can store."
            )
        return data


def _unstorable(text: str) -> bool:
    return "\x00" in text or _SURROGATE.search(text) is not None


def unstorable_text(data: Any) -> str | None:
    """The JSON path of the first string (or key) PostgreSQL cannot store, or None.

    `json.loads` accepts `\\u0000` and lone surrogates such as `\\ud800`; text
    columns and jsonb refuse both, which would surface as a database error (500).
    """
    stack: list[tuple[str, Any]] = [("$", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _unstorable(value):
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                if _unstorable(key):
                    return path
                stack.append((f"{path}.{key}" if path != "$" else key, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None
