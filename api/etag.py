"""ETags and `If-Match`: two people editing one record never silently overwrite each other.

A clinical record's ETag is `"<model>-<id>-v<version>"` (`ClinicalRecord.etag`).
`If-Match` is optional — a client that sends none gets last-write-wins — but
one that is sent must name this record's current version, else 412 and
nothing changes. The services re-check the version under a row lock, so a
write that races past this early check is refused too (`StaleVersion`).
Computed results and records without a version get a weak ETag over their
content, which is enough for caches and `If-None-Match`.
"""

from __future__ import annotations

import hashlib
import json
import re

from django.core.serializers.json import DjangoJSONEncoder
from rest_framework.response import Response

from api.exceptions import PreconditionFailed

_TAG = re.compile(r'^(?:W/)?"(?P<model>[a-z_]+)-(?P<pk>\d+)-v(?P<version>\d+)"$')


def content_etag(data) -> str:
    body = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":"))
    return f'W/"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'


def etag_of(instance, data=None) -> str:
    tag = getattr(instance, "etag", None)
    return tag if tag is not None else content_etag(data)


def with_etag(response: Response, instance) -> Response:
    response["ETag"] = etag_of(instance, response.data)
    return response


def expected_version(request, instance, representation=None) -> int | None:
    """The version an `If-Match` says the caller based its change on; None without one.

    Raises 412 when the header names another record, an unparsable tag, or a
    version that is not the current one (`*` matches any existing record).
    A record without a version is compared by the weak ETag of
    `representation()`, its current serialized form.
    """
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    if not hasattr(instance, "version"):
        current = content_etag(representation() if representation else None)
        if any(tag.strip() == current for tag in header.split(",")):
            return None
        raise PreconditionFailed()
    for tag in header.split(","):
        match = _TAG.match(tag.strip())
        if (
            match
            and match["model"] == instance._meta.model_name
            and int(match["pk"]) == instance.pk
        ):
            version = int(match["version"])
            if version != instance.version:
                raise PreconditionFailed(
                    f"This record was changed by someone else (now version {instance.version})."
                )
            return version
    raise PreconditionFailed("If-Match does not name this record's ETag.")
