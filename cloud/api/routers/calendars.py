"""Calendars of a community: its business hours (what SLA classes count by) and duty hours
(what people's `duty_calendar_id` names). Everyone of the community reads them; they are
made by site files (`linli site apply`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy import select

from cloud.access.roles import Action
from cloud.api.deps import PrincipalDep, SessionDep, allowed
from cloud.api.paging import PAGED, CommunityFilter, Limit, Offset, of_community, page_of
from cloud.api.references import row_of
from cloud.api.schemas import ID_MAX, CalendarPublic, Problem
from cloud.db.models import BusinessCalendar

router = APIRouter(prefix="/calendars", tags=["calendars"])

CalendarId = Annotated[int, Path(ge=1, le=ID_MAX, description="the calendar's id")]


@router.get(
    "",
    response_model=list[CalendarPublic],
    responses=PAGED,
    summary="Calendars, by community and slug (your community's)",
)
def list_calendars(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    community_id: CommunityFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[CalendarPublic]:
    allowed(principal, Action.READ_REGISTER)
    query = select(BusinessCalendar).order_by(BusinessCalendar.community_id, BusinessCalendar.slug)
    query = of_community(query, BusinessCalendar.community_id, principal, community_id)
    found = page_of(session, query, response, limit=limit, offset=offset)
    return [CalendarPublic.model_validate(c) for c in found]


@router.get("/{calendar_id}", response_model=CalendarPublic, responses={404: {"model": Problem}})
def get_calendar(
    session: SessionDep, principal: PrincipalDep, calendar_id: CalendarId
) -> CalendarPublic:
    allowed(principal, Action.READ_REGISTER)
    calendar = row_of(session, BusinessCalendar, calendar_id, principal, f"calendar {calendar_id}")
    return CalendarPublic.model_validate(calendar)
