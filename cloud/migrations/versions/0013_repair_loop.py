"""repair loop: tickets assigned, verified, reopened and escalated; duty calendars; SLA
targets per priority and reopen windows; commands sent by the cloud

Revision: 0013
Follows: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_NOT_CLOSED = "state NOT IN ('closed', 'cancelled')"
_UNRESOLVED = "state != 'resolved'"
_TIMES = (
    "assigned_at",
    "started_at",
    "verify_until",
    "closed_at",
    "cancelled_at",
    "reopen_until",
    "sla_since",
    "respond_from",
    "respond_by",
    "resolve_by",
    "respond_breached_at",
    "resolve_breached_at",
    "reminded_at",
    "wake_at",
)


def upgrade() -> None:
    op.drop_index("uq_tickets_one_unresolved", table_name="tickets")
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.alter_column("device_pk", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(
            sa.Column("observable", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("verify_s", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("linked_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("opened_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("repeats", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        for name in _TIMES:
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sla_step", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("escalation", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_foreign_key("fk_tickets_linked", "tickets", ["linked_id"], ["id"])
        batch_op.create_foreign_key("fk_tickets_assignee", "people", ["assignee_id"], ["id"])
    # a resolved ticket was final: it is what is now called closed
    op.execute(
        "UPDATE tickets SET state = 'closed', closed_at = resolved_at WHERE state = 'resolved'"
    )
    op.create_index(
        "uq_tickets_one_not_closed",
        "tickets",
        ["facility_id", "fault"],
        unique=True,
        sqlite_where=sa.text(_NOT_CLOSED),
        postgresql_where=sa.text(_NOT_CLOSED),
    )
    op.create_index("ix_tickets_wake_at", "tickets", ["wake_at"])
    op.create_index("ix_tickets_assignee", "tickets", ["assignee_id", "state"])
    op.create_index("ix_tickets_closed", "tickets", ["facility_id", "fault", "reopen_until"])
    with op.batch_alter_table("ticket_events") as batch_op:
        batch_op.add_column(
            sa.Column("actor_kind", sa.String(length=16), nullable=False, server_default="rule")
        )
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
    op.execute(
        "UPDATE ticket_events SET actor_kind = CASE WHEN actor LIKE 'token:%' THEN 'token' "
        "ELSE 'person' END WHERE actor IS NOT NULL"
    )
    with op.batch_alter_table("people") as batch_op:
        batch_op.add_column(sa.Column("duty_calendar_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_people_duty_calendar", "calendars", ["duty_calendar_id"], ["id"]
        )
    with op.batch_alter_table("sla_classes") as batch_op:
        batch_op.add_column(
            sa.Column("by_priority", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(
            sa.Column("reopen_s", sa.Float(), nullable=False, server_default="604800")
        )
    op.create_table(
        "outbound_commands",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("command", sa.String(length=64), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbound_commands_sent_at", "outbound_commands", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_outbound_commands_sent_at", table_name="outbound_commands")
    op.drop_table("outbound_commands")
    with op.batch_alter_table("sla_classes") as batch_op:
        batch_op.drop_column("reopen_s")
        batch_op.drop_column("by_priority")
    with op.batch_alter_table("people") as batch_op:
        batch_op.drop_constraint("fk_people_duty_calendar", type_="foreignkey")
        batch_op.drop_column("duty_calendar_id")
    with op.batch_alter_table("ticket_events") as batch_op:
        batch_op.drop_column("evidence")
        batch_op.drop_column("actor_kind")
    for name in ("ix_tickets_closed", "ix_tickets_assignee", "ix_tickets_wake_at"):
        op.drop_index(name, table_name="tickets")
    op.drop_index("uq_tickets_one_not_closed", table_name="tickets")
    # the three states of before: what is finished is resolved, what is worked on acknowledged
    op.execute(
        "UPDATE tickets SET state = 'resolved', resolved_at = COALESCE(closed_at, "
        "cancelled_at, resolved_at, last_seen_at) WHERE state IN ('closed', 'cancelled')"
    )
    op.execute("UPDATE tickets SET state = 'acknowledged' WHERE state NOT IN ('open', 'resolved')")
    op.execute("UPDATE tickets SET linked_id = NULL")
    op.execute(
        "DELETE FROM ticket_events WHERE ticket_id IN "
        "(SELECT id FROM tickets WHERE device_pk IS NULL)"
    )
    op.execute("DELETE FROM tickets WHERE device_pk IS NULL")
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_constraint("fk_tickets_assignee", type_="foreignkey")
        batch_op.drop_constraint("fk_tickets_linked", type_="foreignkey")
        for name in ("escalation", "sla_step", *reversed(_TIMES), "assignee_id", "repeats"):
            batch_op.drop_column(name)
        for name in ("opened_by", "linked_id", "verify_s", "observable"):
            batch_op.drop_column(name)
        batch_op.alter_column("device_pk", existing_type=sa.Integer(), nullable=False)
    op.create_index(
        "uq_tickets_one_unresolved",
        "tickets",
        ["facility_id", "fault"],
        unique=True,
        sqlite_where=sa.text(_UNRESOLVED),
        postgresql_where=sa.text(_UNRESOLVED),
    )
