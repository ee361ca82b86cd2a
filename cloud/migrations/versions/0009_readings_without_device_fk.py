"""readings no longer checked against devices by a foreign key: on PostgreSQL the check was
most of the server's work per reading stored (devices are never deleted, and ingest takes
each reading's device from the same transaction)

Revision: 0009
Follows: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_COLUMNS = "pk, id, device_pk, ts, received_at, profile_version, metrics, faults, ts_suspect"


def _rebuild_readings(*, foreign_key: bool) -> None:
    """SQLite cannot drop or add a constraint: the table is made again, rows in order."""
    device_pk: list[sa.ForeignKey] = [sa.ForeignKey("devices.id")] if foreign_key else []
    op.create_table(
        "readings_0009",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("device_pk", sa.Integer(), *device_pk, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("profile_version", sa.String(length=32), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("faults", sa.JSON(), nullable=False),
        sa.Column("ts_suspect", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute(
        f"INSERT INTO readings_0009 ({_COLUMNS}) SELECT {_COLUMNS} FROM readings ORDER BY pk"
    )
    op.drop_index("uq_readings_ts_id", table_name="readings")
    op.drop_table("readings")
    op.rename_table("readings_0009", "readings")
    op.create_index("uq_readings_ts_id", "readings", ["ts", "id"], unique=True)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild_readings(foreign_key=False)
        return
    for key in sa.inspect(bind).get_foreign_keys("readings"):
        if key["referred_table"] == "devices" and key["name"]:
            op.drop_constraint(key["name"], "readings", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_readings(foreign_key=True)
        return
    op.create_foreign_key("readings_device_pk_fkey", "readings", "devices", ["device_pk"], ["id"])
