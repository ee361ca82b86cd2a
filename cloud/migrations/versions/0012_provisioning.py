"""provisioning: gateways retired or adopting new devices; devices unassigned until bound;
unknown gateways recorded

Revision: 0012
Follows: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gateways") as batch_op:
        batch_op.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "new_devices",
                sa.String(length=16),
                nullable=False,
                server_default="unassigned",
            )
        )
    # a gateway whose devices became facilities of their own keeps doing so, as before
    op.execute(
        "UPDATE gateways SET new_devices = 'own-facility' WHERE EXISTS "
        "(SELECT 1 FROM facilities WHERE facilities.gateway_id = gateways.id)"
    )
    with op.batch_alter_table("facilities") as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("devices") as batch_op:
        batch_op.alter_column("facility_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("device_moves") as batch_op:
        batch_op.alter_column("from_facility_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("to_facility_id", existing_type=sa.Integer(), nullable=True)
    op.create_table(
        "unknown_gateways",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batches", sa.BigInteger(), nullable=False),
        sa.Column("readings", sa.BigInteger(), nullable=False),
        sa.Column("statuses", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("unknown_gateways")
    op.execute("DELETE FROM device_moves WHERE from_facility_id IS NULL OR to_facility_id IS NULL")
    with op.batch_alter_table("device_moves") as batch_op:
        batch_op.alter_column("from_facility_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("to_facility_id", existing_type=sa.Integer(), nullable=False)
    op.execute(
        "DELETE FROM device_moves WHERE device_pk IN "
        "(SELECT id FROM devices WHERE facility_id IS NULL)"
    )
    op.execute("DELETE FROM devices WHERE facility_id IS NULL")
    with op.batch_alter_table("devices") as batch_op:
        batch_op.alter_column("facility_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("facilities") as batch_op:
        batch_op.drop_column("archived_at")
    with op.batch_alter_table("gateways") as batch_op:
        batch_op.drop_column("new_devices")
        batch_op.drop_column("retired_at")
