"""readings are unique by (ts, id) with a storage-order key, flagged when their time was
not to be trusted; devices carry a version

Revision: 0005
Follows: 0004

The unique index on the item id alone grew at random places, one page write per reading
in SQLite; ``(ts, id)`` grows at its time end and still stores an item once (an item keeps
its event time whenever it is sent). The (device, ts) index goes with it: series by device
are the telemetry store's (see docs/performance.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = "id, device_pk, ts, received_at, profile_version, metrics, faults"


def _readings(name: str) -> None:
    op.create_table(
        name,
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("device_pk", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("profile_version", sa.String(length=32), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("faults", sa.JSON(), nullable=False),
        sa.Column("ts_suspect", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def upgrade() -> None:
    _readings("readings_0005")
    op.execute(
        f"INSERT INTO readings_0005 ({_COLUMNS}) SELECT {_COLUMNS} FROM readings ORDER BY ts"
    )
    op.drop_table("readings")
    op.rename_table("readings_0005", "readings")
    op.create_index("uq_readings_ts_id", "readings", ["ts", "id"], unique=True)

    with op.batch_alter_table("devices") as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch_op:
        batch_op.drop_column("version")

    op.create_table(
        "readings_0004",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("device_pk", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("profile_version", sa.String(length=32), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("faults", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # one row per item id: a (ts, id) stored twice under two times keeps its earliest
    op.execute(
        f"INSERT INTO readings_0004 ({_COLUMNS}) SELECT {_COLUMNS} FROM readings "
        "WHERE pk IN (SELECT MIN(pk) FROM readings GROUP BY id)"
    )
    op.drop_index("uq_readings_ts_id", table_name="readings")
    op.drop_table("readings")
    op.rename_table("readings_0004", "readings")
    op.create_index("ix_readings_device_ts", "readings", ["device_pk", "ts"], unique=False)
