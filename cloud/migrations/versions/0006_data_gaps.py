"""data-gap records: readings gateways had to drop, stored once by id

Revision: 0006
Follows: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_gaps",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("first_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("id"),
    )
    op.create_index(
        "ix_data_gaps_device", "data_gaps", ["gateway_id", "device_id", "last_ts"], unique=False
    )
    op.create_index("ix_data_gaps_gateway", "data_gaps", ["gateway_id", "last_ts"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_data_gaps_gateway", table_name="data_gaps")
    op.drop_index("ix_data_gaps_device", table_name="data_gaps")
    op.drop_table("data_gaps")
