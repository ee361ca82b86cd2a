"""root causes: a ticket's subject is a facility, a zone (facilities failing together) or a
gateway (offline); grouping rules per community; when a gateway's batches were last heard

Revision: 0016
Follows: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_NOT_CLOSED = "state NOT IN ('closed', 'cancelled')"


def upgrade() -> None:
    op.drop_index("uq_tickets_one_not_closed", table_name="tickets")
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.alter_column("facility_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("subject", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("community_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("zone_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("gateway_id", sa.String(length=64), nullable=True))
    op.execute("UPDATE tickets SET subject = 'facility:' || CAST(facility_id AS VARCHAR)")
    op.execute(
        "UPDATE tickets SET community_id = (SELECT f.community_id FROM facilities f "
        "WHERE f.id = tickets.facility_id), zone_id = (SELECT f.zone_id FROM facilities f "
        "WHERE f.id = tickets.facility_id)"
    )
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.alter_column("subject", existing_type=sa.String(length=80), nullable=False)
        batch_op.create_foreign_key("fk_tickets_community", "communities", ["community_id"], ["id"])
        batch_op.create_foreign_key("fk_tickets_zone", "zones", ["zone_id"], ["id"])
        batch_op.create_foreign_key("fk_tickets_gateway", "gateways", ["gateway_id"], ["id"])
    op.create_index(
        "uq_tickets_one_not_closed",
        "tickets",
        ["subject", "fault"],
        unique=True,
        sqlite_where=sa.text(_NOT_CLOSED),
        postgresql_where=sa.text(_NOT_CLOSED),
    )
    op.create_index("ix_tickets_community", "tickets", ["community_id", "state"])
    op.create_table(
        "ticket_facilities",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=True),
        sa.Column("fault", sa.String(length=64), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"]),
        sa.ForeignKeyConstraint(["device_pk"], ["devices.id"]),
        sa.PrimaryKeyConstraint("ticket_id", "facility_id"),
    )
    op.create_index("ix_ticket_facilities_facility_id", "ticket_facilities", ["facility_id"])
    op.create_table(
        "grouping_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("faults", sa.JSON(), nullable=False),
        sa.Column("at_least", sa.Integer(), nullable=False),
        sa.Column("within_s", sa.Float(), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=False),
        sa.Column("sla", sa.String(length=63), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"]),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("community_id", "slug"),
    )
    with op.batch_alter_table("communities") as batch_op:
        batch_op.add_column(
            sa.Column("gateway_offline", sa.JSON(), nullable=False, server_default="{}")
        )
    with op.batch_alter_table("gateways") as batch_op:
        batch_op.add_column(sa.Column("heard_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gateways") as batch_op:
        batch_op.drop_column("heard_at")
    with op.batch_alter_table("communities") as batch_op:
        batch_op.drop_column("gateway_offline")
    op.drop_table("grouping_rules")
    op.drop_index("ix_ticket_facilities_facility_id", table_name="ticket_facilities")
    op.drop_table("ticket_facilities")
    op.drop_index("ix_tickets_community", table_name="tickets")
    op.drop_index("uq_tickets_one_not_closed", table_name="tickets")
    # tickets of a zone or a gateway have no place before this revision
    gone = "(SELECT id FROM tickets WHERE facility_id IS NULL)"
    op.execute(f"DELETE FROM ticket_events WHERE ticket_id IN {gone}")
    op.execute(f"DELETE FROM outbound_commands WHERE ticket_id IN {gone}")
    op.execute(f"UPDATE tickets SET linked_id = NULL WHERE linked_id IN {gone}")
    op.execute("DELETE FROM tickets WHERE facility_id IS NULL")
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_constraint("fk_tickets_gateway", type_="foreignkey")
        batch_op.drop_constraint("fk_tickets_zone", type_="foreignkey")
        batch_op.drop_constraint("fk_tickets_community", type_="foreignkey")
        batch_op.drop_column("gateway_id")
        batch_op.drop_column("zone_id")
        batch_op.drop_column("community_id")
        batch_op.drop_column("subject")
        batch_op.alter_column("facility_id", existing_type=sa.Integer(), nullable=False)
    op.create_index(
        "uq_tickets_one_not_closed",
        "tickets",
        ["facility_id", "fault"],
        unique=True,
        sqlite_where=sa.text(_NOT_CLOSED),
        postgresql_where=sa.text(_NOT_CLOSED),
    )
