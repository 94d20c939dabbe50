"""A cohort document read from a file one patient at a time (issue 17).

`json.load` of a 30,000-patient document holds every patient at once: about
five times the file's size before a single record is built. `DocumentStream`
walks the top-level object itself and hands each element of `patients` to the
standard library's C decoder (`JSONDecoder.raw_decode`) as soon as it is in the
buffer, so memory stays at one buffer plus one patient, whatever the size of
the file; a patient costs what `json.load` would have spent on it.

The other top-level keys (`format`, `sites`, `fields`, anything unknown) are
kept in `header`. JSON does not order an object's keys: the registry writes
them before `patients`, but a document may carry some after. `late_keys` names
those, so that an import can read the file a second time knowing them
(`streaming.import_file`).
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DECODER = json.JSONDecoder()
WHITESPACE = re.compile(r"[ \t\n\r]*")
READ = 1 << 20  # characters per read; a patient larger than the buffer doubles it
# An error this far before the end of the buffer is in the document, not at a cut.
MARGIN = 4096


class StreamError(Exception):
    """The file is not a JSON object (as `json.load` would have said)."""


class DocumentStream:
    """`open()` reads up to the patients; `patients()` yields `(index, patient)`.

    `header` holds every top-level key but `patients`; `patients` itself
    appears there as `[]` when it is a list (its items are streamed), as its
    value when it is not one, and not at all when the document has none.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.size = os.path.getsize(self.path)
        self.header: dict[str, Any] = {}
        self.late_keys: list[str] = []
        self._binary = None
        self._text = None
        self._buffer = ""
        self._pos = 0
        self._offset = 0  # characters before the buffer
        self._eof = False
        self._read = READ
        self._in_patients = False

    # --- the file -----------------------------------------------------------

    def __enter__(self) -> DocumentStream:
        self._binary = open(self.path, "rb")
        # utf-8-sig: a byte-order mark is skipped, as json.load(bytes) does.
        self._text = io.TextIOWrapper(self._binary, encoding="utf-8-sig")
        return self

    def __exit__(self, *exc_info) -> None:
        if self._text is not None:
            self._text.close()

    def fraction_read(self) -> float:
        """How far into the file the reading is, 0–1 (for progress)."""
        if self._binary is None or self._binary.closed or not self.size:
            return 1.0
        return min(self._binary.tell() / self.size, 1.0)

    def _more(self) -> bool:
        try:
            data = self._text.read(max(self._read, len(self._buffer) - self._pos))
        except UnicodeDecodeError as error:
            raise StreamError(f"The document is not UTF-8 text ({error.reason}).") from error
        if not data:
            self._eof = True
            return False
        self._offset += self._pos
        self._buffer = self._buffer[self._pos :] + data
        self._pos = 0
        return True

    def _skip_space(self) -> None:
        while True:
            self._pos = WHITESPACE.match(self._buffer, self._pos).end()
            if self._pos < len(self._buffer) or not self._more():
                return

    def _peek(self) -> str:
        self._skip_space()
        return self._buffer[self._pos] if self._pos < len(self._buffer) else ""

    def _fail(self, expected: str) -> StreamError:
        found = self._peek()
        where = f"character {self._offset + self._pos}"
        if not found:
            return StreamError(f"Not a JSON document: it ends where {expected} was expected.")
        return StreamError(f"Not a JSON document: expecting {expected} at {where}.")

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise self._fail(repr(char))
        self._pos += 1

    def _value(self) -> Any:
        """The next JSON value, read on until it is whole in the buffer."""
        self._skip_space()
        while True:
            try:
                value, end = DECODER.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as error:
                cut = error.pos >= len(self._buffer) - MARGIN or error.msg.startswith(
                    "Unterminated string"
                )
                if cut and not self._eof and self._more():
                    self._read *= 2  # the value is longer than a read: read more at once
                    continue
                if error.pos >= len(self._buffer):
                    raise StreamError(
                        f"Not a JSON document: it ends before it is complete ({error.msg})."
                    ) from error
                position = self._offset + error.pos
                raise StreamError(
                    f"Not a JSON document: {error.msg} at character {position}."
                ) from error
            except RecursionError as error:
                raise StreamError("Not a JSON document: nested too deeply.") from error
            # A number at the end of the buffer may go on in the next read: "12" of
            # "123", or "1" of "1.5", "1e5", "1e+5" (the decoder stops before ".", "e", "e+").
            number = type(value) in (int, float)
            near_end = end >= len(self._buffer) - (3 if number else 0)
            if near_end and not self._eof and self._more():
                continue
            self._read = READ
            self._pos = end
            return value

    # --- the document -------------------------------------------------------

    def open(self) -> dict[str, Any]:
        """Read the keys before `patients` (all of them if there is no list of patients)."""
        if self._peek() != "{":
            self._value()  # says what is wrong, if anything is
            raise StreamError("The document must be a JSON object.")
        self._pos += 1
        if self._peek() == "}":
            self._pos += 1
            self._end()
            return self.header
        while True:
            key = self._key()
            if key == "patients" and self._peek() == "[":
                if "patients" in self.header:
                    raise StreamError("Not a JSON document the registry reads: two `patients`.")
                self._pos += 1
                self.header["patients"] = []
                self._in_patients = True
                return self.header
            self.header[key] = self._value()
            if self._after_member():
                return self.header

    def patients(self) -> Iterator[tuple[int, Any]]:
        """Each patient with its index; then the keys after them go to `header` and
        `late_keys`."""
        if not self._in_patients:
            return
        index = 0
        if self._peek() == "]":
            self._pos += 1
        else:
            while True:
                yield index, self._value()
                index += 1
                following = self._peek()
                self._pos += 1
                if following == "]":
                    break
                if following != ",":
                    self._pos -= 1
                    raise self._fail("',' or ']' between patients")
        self._in_patients = False
        if self._after_member():
            return
        while True:
            key = self._key()
            if key == "patients":
                raise StreamError("Not a JSON document the registry reads: two `patients`.")
            self.header[key] = self._value()
            self.late_keys.append(key)
            if self._after_member():
                return

    def _key(self) -> str:
        if self._peek() != '"':
            raise self._fail("a key in double quotes")
        key = self._value()
        self._expect(":")
        return key

    def _after_member(self) -> bool:
        """Past a member's value: True at the object's end (the document's)."""
        following = self._peek()
        if following == ",":
            self._pos += 1
            return False
        if following == "}":
            self._pos += 1
            self._end()
            return True
        raise self._fail("',' or '}'")

    def _end(self) -> None:
        if self._peek():
            raise StreamError(
                f"Not a JSON document: extra data at character {self._offset + self._pos}."
            )
