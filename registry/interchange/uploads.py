"""Large import documents go to disk, not into a web worker's memory (security review, 10).

The API streams a big body to `MEDIA_ROOT/imports/` in chunks and answers 202 at
once; the import job streams the file in the worker (`documents.import_file`) and deletes it when
done, whatever the outcome. Small bodies are still parsed in the request, so
their mistakes are a 400 straight away.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings

CHUNK = 1024 * 1024


class UploadError(Exception):
    """The body could not be stored: `status` is the HTTP answer, `message` says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def upload_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def save_upload(stream, length: int) -> Path:
    """Copy exactly `length` bytes of `stream` to a new file; its path.

    Refuses a body over LUTETIA_IMPORT_MAX_BYTES (413) and one that ends early
    (400); a refused body leaves no file behind.
    """
    if length > settings.LUTETIA_IMPORT_MAX_BYTES:
        raise UploadError(
            413, f"An import may be at most {settings.LUTETIA_IMPORT_MAX_BYTES} bytes."
        )
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.json"
    received = 0
    try:
        with path.open("wb") as out:
            while received < length:
                chunk = stream.read(min(CHUNK, length - received))
                if not chunk:
                    raise UploadError(400, "The body ended before its Content-Length.")
                out.write(chunk)
                received += len(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def discard_upload(path: str | Path | None) -> None:
    if path:
        Path(path).unlink(missing_ok=True)
