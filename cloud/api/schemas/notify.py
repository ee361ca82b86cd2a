"""Public shapes of notifications: webhooks, deliveries, a person's channels."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from cloud.api.schemas.common import _Public


class WebhookPublic(_Public):
    id: int = Field(description="the webhook's id")
    community_id: int = Field(description="the community whose ticket events it takes")
    name: str = Field(description="what it is for")
    url: str = Field(description="where ticket events are POSTed")
    kinds: list[str] = Field(description="the kinds of ticket event it takes; empty: all")
    created_by: str = Field(description="who made it")
    created_at: datetime = Field(description="when it was made")
    archived_at: datetime | None = Field(
        default=None, description="when it was archived (nothing is sent to it since); null: in use"
    )


class WebhookIssued(WebhookPublic):
    secret: str = Field(
        description="the secret its deliveries are signed with (Linli-Signature): shown this "
        "once, never again"
    )


DeliveryState = Literal["pending", "delivered", "dead"]


class DeliveryPublic(_Public):
    id: int = Field(description="the delivery's id")
    key: str = Field(
        description="its idempotency key, `<event id>:<channel>:<target>`, sent with every "
        "attempt (Linli-Delivery, Message-ID, `delivery` in MQTT payloads)"
    )
    channel: str = Field(description="webhook, email or mqtt")
    target: str = Field(description="the webhook's id, `person-<id>`, or `community`")
    community_id: int | None = Field(description="its community")
    webhook_id: int | None = Field(description="the webhook it goes to")
    person_id: int | None = Field(description="the person it goes to")
    address: str = Field(description="the e-mail address or MQTT topic (a webhook's: its url)")
    kind: str = Field(description="the ticket event's kind")
    ticket_id: int = Field(description="the ticket the event happened to")
    state: DeliveryState = Field(
        description="pending (not yet taken by its receiver), delivered, or dead (given up)"
    )
    attempts: int = Field(description="attempts made so far")
    next_attempt_at: datetime = Field(description="when it is (or was) tried next")
    delivered_at: datetime | None = Field(description="when its receiver took it")
    dead_at: datetime | None = Field(description="when it was given up after its last attempt")
    last_error: str = Field(description="why its last attempt failed; empty: none did")
    created_at: datetime = Field(description="when the event was fanned out into it")


class ChannelsPublic(BaseModel):
    person_id: int = Field(description="whose channels")
    email: bool = Field(description="by e-mail (to `email_address`)")
    mqtt: bool = Field(description="pushed over MQTT, on `mqtt_topics`")
    kinds: list[str] | None = Field(
        description="only these kinds of ticket event; null: every kind that concerns them"
    )
    email_address: str | None = Field(
        description="their e-mail address; null: none, so e-mail cannot reach them"
    )
    mqtt_topics: str = Field(
        description="the MQTT topic filter their notices are pushed on (`+`: any kind)"
    )
