"""broker accounts: who may use the cloud broker (gateways, integrations), their password
as Mosquitto checks it

Revision: 0020
Follows: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broker_accounts",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["gateway_id"], ["gateways.id"]),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"]),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_index("ix_broker_accounts_gateway_id", "broker_accounts", ["gateway_id"])
    op.create_index("ix_broker_accounts_community_id", "broker_accounts", ["community_id"])


def downgrade() -> None:
    op.drop_index("ix_broker_accounts_community_id", table_name="broker_accounts")
    op.drop_index("ix_broker_accounts_gateway_id", table_name="broker_accounts")
    op.drop_table("broker_accounts")
