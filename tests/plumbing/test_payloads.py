"""Payloads kept in JSON: as text when UTF-8, else base64, read back byte for byte."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from plumbing.payloads import payload_fields, payload_from


@pytest.mark.parametrize(
    "payload",
    [
        b'{"ts": 1718000000}',
        "température 21 °C, 门已开".encode(),
        b"\x00\x01\x02\xff",
        b"\xc3\x28",  # invalid UTF-8 sequence
        b"",
    ],
)
def test_round_trip_through_json(payload: bytes) -> None:
    document = json.loads(json.dumps(payload_fields(payload)))
    assert payload_from(document) == payload


def test_utf8_is_kept_as_text_other_bytes_as_base64() -> None:
    assert payload_fields("ok ✓".encode()) == {"payload": "ok ✓"}
    assert payload_fields(b"") == {"payload": ""}
    assert payload_fields(b"\x00\x01\x02\xff") == {"payload_b64": "AAEC/w=="}


def test_cut_at_keeps_the_first_bytes() -> None:
    assert payload_fields(b"hello world", cut_at=5) == {"payload": "hello"}
    assert payload_fields(b"hello", cut_at=5) == {"payload": "hello"}
    assert payload_fields(b"hello", cut_at=50) == {"payload": "hello"}
    assert payload_fields(b"\xff\xfe\x00\x01", cut_at=3) == {"payload_b64": "//4A"}


def test_cut_inside_a_multibyte_character_drops_the_partial_character() -> None:
    payload = "ab€cd".encode()  # € is 3 bytes: a b [e2 82 ac] c d
    assert payload_fields(payload, cut_at=3) == {"payload": "ab"}
    assert payload_fields(payload, cut_at=4) == {"payload": "ab"}
    assert payload_fields(payload, cut_at=5) == {"payload": "ab€"}


def test_a_payload_ending_in_a_partial_character_is_not_text() -> None:
    # Not cut by us: the payload itself is not UTF-8, so it is kept whole, as base64.
    payload = "ab€".encode()[:-1]
    assert payload_fields(payload, cut_at=10) == {"payload_b64": "YWLigg=="}
    assert payload_from(payload_fields(payload, cut_at=10)) == payload


def test_binary_cut_at_a_lead_byte_stays_binary() -> None:
    # b"\xc3\x00" is no character: the payload is not UTF-8, cut or not.
    assert payload_fields(b"A\xc3\x00\x01", cut_at=2) == {"payload_b64": "QcM="}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"payload": "x", "payload_b64": "eA=="}, "exactly one of 'payload' and 'payload_b64'"),
        ({}, "exactly one of 'payload' and 'payload_b64'"),
        ({"other": "x"}, "exactly one of 'payload' and 'payload_b64'"),
        ({"payload": 12}, "'payload' must be a string"),
        ({"payload": None}, "'payload' must be a string"),
        ({"payload_b64": ["AA=="]}, "'payload_b64' must be a string"),
        ({"payload_b64": "not base64!"}, "'payload_b64' is not valid base64"),
        ({"payload_b64": "AAE"}, "'payload_b64' is not valid base64"),
        ({"payload_b64": "AAEC /w=="}, "'payload_b64' is not valid base64"),
        ({"payload_b64": "ÀÀ=="}, "'payload_b64' is not valid base64"),
    ],
)
def test_payload_from_says_what_is_wrong(document: Mapping[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        payload_from(document)
