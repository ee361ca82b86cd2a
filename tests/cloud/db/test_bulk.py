"""Bulk statements write what the ORM writes (in SQLite, times as the same text), so that
rows stored either way compare, order and collide as they must."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import IntegrityError

from cloud.db.bulk import copy_types, utc_text
from cloud.db.models import Reading
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.helpers import batch, item

PARSED = TypeAdapter(datetime)
"""Times as the protocol's models parse them (with pydantic's own time zones)."""

MOMENTS = [
    datetime(2025, 11, 27, 0, 1, tzinfo=UTC),
    datetime(2025, 11, 27, 0, 1, 2, 5, tzinfo=UTC),
    datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=8))),
    datetime(2025, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
    PARSED.validate_json('"2025-11-27T00:01:02.5Z"'),
    PARSED.validate_json('"2025-11-27T08:01:02+08:00"'),
    PARSED.validate_json('"1999-12-31T23:59:59.000001-00:00"'),
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_a_time_is_the_text_sqlalchemy_stores_for_it_in_sqlite(
    sqlite_services: Services, moment: datetime
) -> None:
    services = sqlite_services
    as_stored = text("SELECT :moment").bindparams(bindparam("moment", moment, Reading.ts.type))
    with services.engine.connect() as connection:
        stored = connection.execute(as_stored).scalar_one()  # the text SQLite is given

    assert utc_text(moment) == stored
    assert utc_text(moment) == moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def test_text_times_sort_as_the_times_do() -> None:
    assert sorted(MOMENTS) == sorted(MOMENTS, key=utc_text)


def test_a_time_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="without UTC offset"):
        utc_text(datetime(2025, 11, 27))


def test_a_reading_stored_in_bulk_is_the_one_the_orm_would_store(
    services: Services, catalogue: Catalogue
) -> None:
    moment = MOMENTS[2]
    one = item(catalogue, "acme_access_gate", "normal", ts=moment, item_id="reading-1")
    services.writer.write(batch("gw-1", 1, [one]))

    with services.sessions() as session:
        stored = session.scalars(select(Reading)).one()
        assert (stored.ts, stored.received_at) == (moment, one.received_at)
        session.add(
            Reading(
                id="reading-1",
                device_pk=stored.device_pk,
                ts=moment,
                received_at=moment,
                profile_version=one.profile_version,
                metrics={},
                faults=[],
            )
        )
        with pytest.raises(IntegrityError, match=r"(?i)unique"):
            session.commit()


def test_readings_are_copied_in_binary_as_the_types_of_their_columns() -> None:
    readings = Reading.__table__
    names = ("id", "device_pk", "ts", "metrics", "ts_suspect", "pk")
    assert copy_types(readings, names) == ("text", "int4", "timestamptz", "text", "bool", "int8")  # type: ignore[arg-type]
