"""E-mail against a real SMTP server the test starts (aiosmtpd): the people an event
concerns get it at their address, once, with its idempotency key as the Message-ID; a person
who turned e-mail off, or wants other kinds, gets none; a server that is down is tried again."""

from __future__ import annotations

from sqlalchemy import select

from cloud.db.models import Person
from cloud.db.notices import Delivery
from cloud.notify.rules import channels_of
from cloud.services import Services
from linli.ports import free_port
from tests.cloud.notify.conftest import Clock, notifier_of
from tests.cloud.notify.receivers import Mailbox, smtp_server
from tests.cloud.repair.community import FRIDAY_1630, fault


async def test_the_people_concerned_get_their_email_once(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    """Opened: the supervisor and the property manager; assigned: Wang."""
    mailbox = Mailbox()
    ticket_id = fault(services, FRIDAY_1630)
    services.rounds.run(services.sessions, FRIDAY_1630)
    with smtp_server(mailbox) as port:
        notifier = notifier_of(
            services, clock, smtp_host="127.0.0.1", smtp_port=port, smtp_from="linli@oak.example"
        )
        try:
            result = await notifier.run_once()
            again = await notifier.run_once()
        finally:
            await notifier.close()
    assert (result.sent, again.sent) == (3, 0)
    got = {(str(m["To"]), str(m["Linli-Event"])) for m in mailbox.messages}
    assert got == {
        ("chen@oak.example", "opened"),
        ("zhang@oak.example", "opened"),
        ("wang@oak.example", "assigned"),
    }
    assert len(mailbox.messages) == 3
    for message in mailbox.messages:
        key = str(message["Linli-Delivery"])
        assert str(message["Message-ID"]) == f"<{key.replace(':', '.')}@oak.example>"
        assert str(message["From"]) == "linli@oak.example"
        assert f"(#{ticket_id})" in str(message["Subject"])
    [assigned] = [m for m in mailbox.messages if m["To"] == "wang@oak.example"]
    text = assigned.get_content()
    assert "Assigned to: Wang" in text and f"ticket #{ticket_id}" in text


async def test_a_person_chooses_channels_and_kinds(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    """Zhang wants only escalations by e-mail; Chen turned e-mail off: a new ticket mails
    nobody."""
    with services.sessions.begin() as session:
        for slug, channels in {
            "zhang": {"email": True, "kinds": ["escalated"]},
            "chen": {"email": False},
        }.items():
            person = session.get(Person, oak[slug])
            assert person is not None
            person.channels = channels_of(channels).model_dump(mode="json")
    mailbox = Mailbox()
    fault(services, FRIDAY_1630)
    with smtp_server(mailbox) as port:
        notifier = notifier_of(services, clock, smtp_host="127.0.0.1", smtp_port=port)
        try:
            await notifier.run_once()
        finally:
            await notifier.close()
    assert mailbox.messages == []


async def test_a_mail_server_that_is_down_is_tried_again(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    fault(services, FRIDAY_1630)
    port = free_port()
    notifier = notifier_of(services, clock, smtp_host="127.0.0.1", smtp_port=port)
    mailbox = Mailbox()
    try:
        assert (await notifier.run_once()).failed == 2
        with services.sessions() as session:
            errors = set(session.scalars(select(Delivery.last_error)))
        assert len(errors) == 1 and errors.pop().startswith(f"SMTP 127.0.0.1:{port}")
        with smtp_server(mailbox, port):
            clock.advance(10)
            assert (await notifier.run_once()).sent == 2
    finally:
        await notifier.close()
    assert sorted(str(m["To"]) for m in mailbox.messages) == [
        "chen@oak.example",
        "zhang@oak.example",
    ]
