"""People who work in a community: everyone of it reads them — with their duty hours and
current load of tickets; its property managers and operator admins create, change and
archive them, and may give them a login account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloud.access.desk import AccessDesk, AccessError
from cloud.access.passwords import weak
from cloud.access.roles import Action, Role
from cloud.api.bodies import AccountRequest, PersonChange, PersonCreate, PersonRole
from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep, allowed
from cloud.api.paging import PAGED, CommunityFilter, Limit, Offset, of_community, page_of, set_aside
from cloud.api.references import (
    community_for,
    in_use,
    row_of,
    set_fields,
    taken,
    unique,
    zones_of,
)
from cloud.api.schemas import ID_MAX, PersonPublic, Problem
from cloud.db.models import Account, BusinessCalendar, Person, PersonZone
from cloud.repair.team import open_work

router = APIRouter(prefix="/people", tags=["people"])

PersonId = Annotated[int, Path(ge=1, le=ID_MAX, description="the person's id")]


@router.get(
    "",
    response_model=list[PersonPublic],
    responses=PAGED,
    summary="People who work there, by community and slug (your community's)",
)
def list_people(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    community_id: CommunityFilter = None,
    role: Annotated[PersonRole | None, Query(description="only people of this role")] = None,
    archived: Annotated[
        bool, Query(description="list archived people (true) instead of those at work")
    ] = False,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> list[PersonPublic]:
    allowed(principal, Action.READ_REGISTER)
    query = select(Person).order_by(Person.community_id, Person.slug)
    query = query.where(set_aside(Person.archived_at, archived))
    query = of_community(query, Person.community_id, principal, community_id)
    if role is not None:
        query = query.where(Person.role == role)
    return people_public(session, page_of(session, query, response, limit=limit, offset=offset))


@router.post(
    "",
    response_model=PersonPublic,
    status_code=201,
    responses={
        404: {"model": Problem, "description": "the community does not exist"},
        409: {
            "model": Problem,
            "description": "the slug or the user name is taken, or a zone is not of the community",
        },
    },
    summary="Add a person to a community, with a login account if asked (property managers "
    "of the community, operator admins)",
)
def create_person(
    services: ServicesDep, principal: PrincipalDep, body: PersonCreate
) -> PersonPublic:
    allowed(principal, Action.WRITE_REGISTER)
    account = body.account
    if account is not None:
        if principal.account_id is None:
            raise HTTPException(403, "only a person logged in gives someone an account")
        if problem := weak(account.password):
            raise HTTPException(422, f"account.password: {problem}")
    now = datetime.now(UTC)
    with services.sessions.begin() as session:
        community = community_for(session, principal, body.community_id)
        what = f"person slug {body.slug!r} in community {community.id}"
        taken(
            session,
            select(Person.id).where(Person.community_id == community.id, Person.slug == body.slug),
            what,
        )
        zones = zones_of(session, community.id, body.zone_ids)
        person = Person(
            community_id=community.id,
            slug=body.slug,
            name=body.name,
            role=body.role,
            email=body.email,
            phone=body.phone,
            skills=list(body.skills),
            duty_calendar_id=calendar_of(session, community.id, body.duty_calendar_id),
        )
        with unique(what):
            session.add(person)
            session.flush()
        session.add_all(PersonZone(person_id=person.id, zone_id=z.id) for z in zones)
        if account is not None:
            _give_account(session, person, account, now)
        session.flush()
        [public] = people_public(session, [person])
        return public


@router.post(
    "/{person_id}/account",
    response_model=PersonPublic,
    status_code=201,
    responses={
        403: {"model": Problem, "description": "only a person logged in gives an account"},
        404: {"model": Problem},
        409: {
            "model": Problem,
            "description": "they have an account already, the user name is taken, or they "
            "are archived",
        },
    },
    summary="Give a person of the register (one a site file made, say) a login account, with "
    "their role in their community (property managers of the community, operator admins)",
)
def give_account(
    services: ServicesDep, principal: PrincipalDep, person_id: PersonId, body: AccountRequest
) -> PersonPublic:
    allowed(principal, Action.WRITE_REGISTER)
    if principal.account_id is None:
        raise HTTPException(403, "only a person logged in gives someone an account")
    with services.sessions.begin() as session:
        person = row_of(session, Person, person_id, principal, f"person {person_id}")
        in_use(person, f"person {person_id}")
        if session.scalar(select(Account.id).where(Account.person_id == person.id).limit(1)):
            raise HTTPException(409, f"person {person_id} has an account already")
        _give_account(session, person, body, datetime.now(UTC))
        session.flush()
        [public] = people_public(session, [person])
        return public


def _give_account(session: Session, person: Person, account: AccountRequest, now: datetime) -> None:
    """A login for ``person`` with their role in their community: 409 for a user name
    taken, 422 for a password too weak."""
    if problem := weak(account.password):
        raise HTTPException(422, f"account.password: {problem}")
    username = f"user name {account.username!r}"
    taken(session, select(Account.id).where(Account.username == account.username), username)
    try:
        with unique(username):
            AccessDesk.create_account(
                session,
                account.username,
                account.password,
                Role(person.role),
                person.community_id,
                now,
                person_id=person.id,
            )
    except AccessError as exc:
        raise HTTPException(422, f"account: {exc}") from None


@router.get("/{person_id}", response_model=PersonPublic, responses={404: {"model": Problem}})
def get_person(session: SessionDep, principal: PrincipalDep, person_id: PersonId) -> PersonPublic:
    allowed(principal, Action.READ_REGISTER)
    person = row_of(session, Person, person_id, principal, f"person {person_id}")
    [public] = people_public(session, [person])
    return public


@router.patch(
    "/{person_id}",
    response_model=PersonPublic,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
    summary="Change a person: name, role (their account's too), contact, skills, zones "
    "(replaced whole), duty calendar",
)
def change_person(
    services: ServicesDep, principal: PrincipalDep, person_id: PersonId, body: PersonChange
) -> PersonPublic:
    allowed(principal, Action.WRITE_REGISTER)
    with services.sessions.begin() as session:
        person = row_of(session, Person, person_id, principal, f"person {person_id}")
        in_use(person, f"person {person_id}")
        changes = body.changes()
        zone_ids = changes.pop("zone_ids", None)
        if zone_ids is not None:
            zones = zones_of(session, person.community_id, zone_ids)
            session.execute(delete(PersonZone).where(PersonZone.person_id == person.id))
            session.add_all(PersonZone(person_id=person.id, zone_id=z.id) for z in zones)
        if "duty_calendar_id" in changes:
            calendar_of(session, person.community_id, changes["duty_calendar_id"])
        set_fields(person, changes)
        if "role" in changes:
            AccessDesk.set_role_of_person(session, person.id, Role(person.role))
        session.flush()
        [public] = people_public(session, [person])
        return public


@router.post(
    "/{person_id}/archive",
    response_model=PersonPublic,
    responses={404: {"model": Problem}},
    summary="Archive a person: they no longer work there, and their account is disabled "
    "(their web sessions end); their history is kept",
)
def archive_person(
    services: ServicesDep, principal: PrincipalDep, person_id: PersonId
) -> PersonPublic:
    allowed(principal, Action.WRITE_REGISTER)
    now = datetime.now(UTC)
    with services.sessions.begin() as session:
        person = row_of(session, Person, person_id, principal, f"person {person_id}")
        if person.archived_at is None:
            person.archived_at = now
        AccessDesk.disable_accounts_of_person(session, person.id, now)
        session.flush()
        [public] = people_public(session, [person])
        return public


def calendar_of(session: Session, community_id: int, calendar_id: int | None) -> int | None:
    """``calendar_id`` if it names a calendar of ``community_id`` (None stays None: always on
    duty); 409 otherwise."""
    if calendar_id is None:
        return None
    calendar = session.get(BusinessCalendar, calendar_id)
    if calendar is None or calendar.community_id != community_id:
        raise HTTPException(
            409,
            f"duty_calendar_id: calendar {calendar_id} is not a calendar of community "
            f"{community_id}",
        )
    return calendar.id


def people_public(session: Session, people: Sequence[Person]) -> list[PersonPublic]:
    """``people`` as the API shows them, with their zones, user names and current load."""
    ids = [p.id for p in people]
    zones: dict[int, list[int]] = {}
    usernames: dict[int, str] = {}
    load = open_work(session, ids)
    if ids:
        for person_id, zone_id in session.execute(
            select(PersonZone.person_id, PersonZone.zone_id).where(PersonZone.person_id.in_(ids))
        ):
            zones.setdefault(person_id, []).append(zone_id)
        for person_id, username in session.execute(
            select(Account.person_id, Account.username)
            .where(Account.person_id.in_(ids))
            .order_by(Account.id)
        ):
            if person_id is not None:
                usernames.setdefault(person_id, username)
    return [
        PersonPublic(
            id=p.id,
            community_id=p.community_id,
            slug=p.slug,
            name=p.name,
            role=p.role,
            email=p.email,
            phone=p.phone,
            skills=list(p.skills),
            zone_ids=sorted(zones.get(p.id, [])),
            duty_calendar_id=p.duty_calendar_id,
            open_tickets=load.get(p.id, 0),
            username=usernames.get(p.id),
            archived_at=p.archived_at,
        )
        for p in people
    ]
