"""A person's channels: how they hear of the ticket events that concern them — e-mail, MQTT
push, which kinds (:mod:`cloud.notify.rules`). Everyone sets their own (``/people/me/…``);
property managers and operator admins set anyone's of their community, as a site file does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from sqlalchemy.orm import Session

from cloud.access.roles import Action, Principal
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed
from cloud.api.references import in_use, row_of
from cloud.api.schemas import ID_MAX, ChannelsPublic, Problem
from cloud.db.models import Community, Person
from cloud.notify.push import person_topic
from cloud.notify.rules import channels_of
from device_profiles.site import Channels

router = APIRouter(prefix="/people", tags=["notifications"])

PersonId = Annotated[int, Path(ge=1, le=ID_MAX, description="the person's id")]
_ANSWERS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "not your channels, nor a person's you manage"},
    404: {"model": Problem},
    409: {"model": Problem, "description": "they are archived"},
}


def _public(session: Session, person: Person) -> ChannelsPublic:
    channels = channels_of(person.channels)
    community = session.get(Community, person.community_id)
    slug = community.slug if community is not None else str(person.community_id)
    return ChannelsPublic(
        person_id=person.id,
        email=channels.email,
        mqtt=channels.mqtt,
        kinds=list(channels.kinds) if channels.kinds is not None else None,
        email_address=person.email,
        mqtt_topics=person_topic(slug, person.slug, "+"),
    )


def _me(principal: Principal) -> int:
    if principal.person_id is None:
        raise HTTPException(403, "`me` is a person's account; this one is no person's")
    return principal.person_id


def _person(session: Session, principal: Principal, person_id: int, *, write: bool) -> Person:
    """The person whose channels are asked for: your own, or — to change them — one you
    manage (register:write); 404 for one you do not see."""
    if person_id != principal.person_id:
        allowed(principal, Action.WRITE_REGISTER if write else Action.READ_REGISTER)
    person = row_of(session, Person, person_id, principal, f"person {person_id}")
    if write:
        in_use(person, f"person {person_id}")
    return person


def _set(
    services: ServicesDep, principal: Principal, person_id: int, body: Channels
) -> ChannelsPublic:
    with services.sessions.begin() as session:
        person = _person(session, principal, person_id, write=True)
        person.channels = body.model_dump(mode="json")
        session.flush()
        return _public(session, person)


@router.get(
    "/me/channels",
    response_model=ChannelsPublic,
    responses=_ANSWERS,
    summary="Your channels: how you hear of the ticket events that concern you",
)
def get_my_channels(session: SessionDep, principal: PrincipalDep) -> ChannelsPublic:
    return _public(session, _person(session, principal, _me(principal), write=False))


@router.put(
    "/me/channels",
    response_model=ChannelsPublic,
    responses=_ANSWERS,
    summary="Choose your channels: e-mail, MQTT push, which kinds of event (replaced whole)",
)
def set_my_channels(
    services: ServicesDep, principal: PrincipalDep, body: Channels
) -> ChannelsPublic:
    return _set(services, principal, _me(principal), body)


@router.get(
    "/{person_id}/channels",
    response_model=ChannelsPublic,
    responses=_ANSWERS,
    summary="A person's channels",
)
def get_channels(
    session: SessionDep, principal: PrincipalDep, person_id: PersonId
) -> ChannelsPublic:
    return _public(session, _person(session, principal, person_id, write=False))


@router.put(
    "/{person_id}/channels",
    response_model=ChannelsPublic,
    responses=_ANSWERS,
    summary="Set a person's channels (yours, or as property manager or operator admin anyone's "
    "of the community; replaced whole)",
)
def set_channels(
    services: ServicesDep, principal: PrincipalDep, person_id: PersonId, body: Channels
) -> ChannelsPublic:
    return _set(services, principal, person_id, body)
