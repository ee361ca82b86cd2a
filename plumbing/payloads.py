"""A message payload inside a JSON document, as text when it is UTF-8, else as base64.

Dead-letter records and simulator recordings both keep payloads this way::

    {"payload": "{\"ts\": 1718000000}"}      a UTF-8 payload, as its text
    {"payload_b64": "AAEC/w=="}              any other bytes, as base64

:func:`payload_fields` makes the field, :func:`payload_from` reads it back byte for byte.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

TEXT = "payload"
BASE64 = "payload_b64"
FIELDS = frozenset({TEXT, BASE64})


def payload_fields(payload: bytes, *, cut_at: int | None = None) -> dict[str, str]:
    """``{"payload": text}`` for UTF-8, else ``{"payload_b64": base64}``.

    With ``cut_at``, only the first ``cut_at`` bytes are kept; a multi-byte character cut
    in two at the very end still counts as UTF-8, without its partial character.
    """
    kept = payload if cut_at is None else payload[:cut_at]
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return {BASE64: base64.b64encode(kept).decode("ascii")}
    # a prefix of UTF-8 text: at most a character cut in two at its end is not text
    return {TEXT: kept.decode("utf-8", errors="ignore")}


def payload_from(document: Mapping[str, Any]) -> bytes:
    """The payload kept in ``document``; ValueError saying what is wrong."""
    if (TEXT in document) == (BASE64 in document):
        raise ValueError(f"expected exactly one of {TEXT!r} and {BASE64!r}")
    if TEXT in document:
        text = document[TEXT]
        if not isinstance(text, str):
            raise ValueError(f"{TEXT!r} must be a string")
        return text.encode("utf-8")
    encoded = document[BASE64]
    if not isinstance(encoded, str):
        raise ValueError(f"{BASE64!r} must be a string")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{BASE64!r} is not valid base64") from None
