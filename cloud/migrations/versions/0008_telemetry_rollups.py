"""telemetry roll-ups by minute and hour, and the minutes due for rolling up

Revision: 0008
Follows: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telemetry_rollups",
        sa.Column("device_pk", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("min", sa.Float(), nullable=True),
        sa.Column("max", sa.Float(), nullable=True),
        sa.Column("mean", sa.Float(), nullable=True),
        sa.Column("shares", sa.JSON(), nullable=True),
        sa.Column("covered", sa.Float(), nullable=False),
        sa.Column("last", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("device_pk", "metric", "step", "start"),
    )
    op.create_index(
        "ix_telemetry_rollups_step_start", "telemetry_rollups", ["step", "start"], unique=False
    )
    op.create_table(
        "rollup_due",
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("writer", sa.String(length=64), nullable=False),
        sa.Column("marks", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("step", "start", "writer"),
    )


def downgrade() -> None:
    op.drop_table("rollup_due")
    op.drop_index("ix_telemetry_rollups_step_start", table_name="telemetry_rollups")
    op.drop_table("telemetry_rollups")
