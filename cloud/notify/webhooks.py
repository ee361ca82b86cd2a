"""Webhooks: each notice of a community POSTed as JSON to the URLs it subscribed, signed.

Every request carries:

- ``Linli-Delivery``: the idempotency key (``<event id>:webhook:<webhook id>``), the same on
  every attempt — keep the keys you have taken and answer 2xx to one seen before;
- ``Linli-Event``: the event's kind (``assigned``);
- ``Linli-Timestamp``: when this attempt was signed, in seconds since 1970;
- ``Linli-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed with the webhook's
  secret, of ``<timestamp>.<body>`` (the timestamp, a dot, the body's bytes as sent).

A 2xx answer within the timeout delivers it; anything else — another status, no answer, a
refused connection — is tried again later (redirects are not followed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

import httpx

from cloud.notify.senders import DeliveryFailed, Outgoing, payload

DELIVERY = "Linli-Delivery"
EVENT = "Linli-Event"
TIMESTAMP = "Linli-Timestamp"
SIGNATURE = "Linli-Signature"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A webhook's signing secret: 256 random bits."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``Linli-Signature`` of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance_s: float
) -> bool:
    """What a receiver checks: the signature is the secret's, and the timestamp within
    ``tolerance_s`` of ``now`` (seconds since 1970), so a recorded request cannot be
    replayed later."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookSender:
    """POSTs deliveries with one HTTP client (its timeout is the settings')."""

    def __init__(self, client: httpx.AsyncClient, now: Callable[[], float] = time.time) -> None:
        """``now``: the time a request is signed at, in seconds since 1970 (the wall clock:
        receivers compare it with theirs)."""
        self._client = client
        self._now = now

    async def send(self, outgoing: Outgoing) -> None:
        if outgoing.secret is None:
            raise DeliveryFailed("the webhook has no secret")
        body = payload(outgoing)
        timestamp = str(int(self._now()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Linli-Webhooks/1",
            DELIVERY: outgoing.key,
            EVENT: outgoing.kind,
            TIMESTAMP: timestamp,
            SIGNATURE: sign(outgoing.secret, timestamp, body),
        }
        try:
            answer = await self._client.post(outgoing.address, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if not answer.is_success:
            raise DeliveryFailed(f"HTTP {answer.status_code} from {outgoing.address}")

    async def close(self) -> None:
        await self._client.aclose()
