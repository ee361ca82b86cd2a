"""the register: communities, zones, people, calendars, SLA classes; gateways provisioned for
a community; facilities in a community and a zone; devices bound to facilities by name

What was there lands in one community, ``default``, made only if there is something to put
in it: its gateways become provisioned there (since they were first seen), its facilities
belong to it.

Revision: 0010
Follows: 0009
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _community_table(name: str, *columns: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("community_id", "slug"),
    )


def upgrade() -> None:
    op.create_table(
        "communities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    _community_table(
        "zones",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
    )
    _community_table(
        "people",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "person_zones",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"]),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"]),
        sa.PrimaryKeyConstraint("person_id", "zone_id"),
    )
    _community_table(
        "calendars",
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
    )
    _community_table(
        "sla_classes",
        sa.Column("acknowledge_s", sa.Float(), nullable=False),
        sa.Column("resolve_s", sa.Float(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), sa.ForeignKey("calendars.id"), nullable=True),
    )
    with op.batch_alter_table("gateways") as batch_op:
        batch_op.add_column(sa.Column("community_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("name", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("zone_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("provisioned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            "fk_gateways_community_id", "communities", ["community_id"], ["id"]
        )
        batch_op.create_foreign_key("fk_gateways_zone_id", "zones", ["zone_id"], ["id"])
        batch_op.create_index("ix_gateways_community_id", ["community_id"], unique=False)
    with op.batch_alter_table("facilities") as batch_op:
        batch_op.add_column(sa.Column("community_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("zone_id", sa.Integer(), nullable=True))
        batch_op.alter_column("gateway_id", existing_type=sa.String(length=64), nullable=True)
        batch_op.drop_column("zone")
        batch_op.create_foreign_key(
            "fk_facilities_community_id", "communities", ["community_id"], ["id"]
        )
        batch_op.create_foreign_key("fk_facilities_zone_id", "zones", ["zone_id"], ["id"])
        batch_op.create_index("ix_facilities_community_id", ["community_id"], unique=False)
    op.create_index(
        "uq_facilities_community_code",
        "facilities",
        ["community_id", "code"],
        unique=True,
        sqlite_where=sa.text("gateway_id IS NULL"),
        postgresql_where=sa.text("gateway_id IS NULL"),
    )
    op.create_table(
        "device_bindings",
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"]),
        sa.PrimaryKeyConstraint("gateway_id", "device_id"),
    )
    op.create_index(
        "ix_device_bindings_facility_id", "device_bindings", ["facility_id"], unique=False
    )
    _default_community()


def _default_community() -> None:
    """Everything there was, in one community: gateways provisioned since first seen."""
    bind = op.get_bind()
    if not bind.execute(sa.text("SELECT 1 FROM gateways LIMIT 1")).first():
        return
    bind.execute(
        sa.text(
            "INSERT INTO communities (slug, name, time_zone, address, created_at) "
            "VALUES ('default', 'Default community', 'UTC', '', :now)"
        ),
        {"now": datetime.now(UTC)},
    )
    community = bind.execute(sa.text("SELECT id FROM communities WHERE slug = 'default'")).scalar()
    bind.execute(
        sa.text("UPDATE gateways SET community_id = :c, provisioned_at = first_seen_at"),
        {"c": community},
    )
    bind.execute(sa.text("UPDATE facilities SET community_id = :c"), {"c": community})


def downgrade() -> None:
    op.drop_index("ix_device_bindings_facility_id", table_name="device_bindings")
    op.drop_table("device_bindings")
    op.drop_index("uq_facilities_community_code", table_name="facilities")
    # a facility named by a site file takes the gateway of one of its devices, or goes
    op.execute(
        "UPDATE facilities SET gateway_id = (SELECT MIN(d.gateway_id) FROM devices d "
        "WHERE d.facility_id = facilities.id) WHERE gateway_id IS NULL"
    )
    op.execute("DELETE FROM facilities WHERE gateway_id IS NULL")
    with op.batch_alter_table("facilities") as batch_op:
        batch_op.drop_index("ix_facilities_community_id")
        batch_op.drop_constraint("fk_facilities_zone_id", type_="foreignkey")
        batch_op.drop_constraint("fk_facilities_community_id", type_="foreignkey")
        batch_op.add_column(sa.Column("zone", sa.String(length=64), nullable=True))
        batch_op.alter_column("gateway_id", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("zone_id")
        batch_op.drop_column("community_id")
    with op.batch_alter_table("gateways") as batch_op:
        batch_op.drop_index("ix_gateways_community_id")
        batch_op.drop_constraint("fk_gateways_zone_id", type_="foreignkey")
        batch_op.drop_constraint("fk_gateways_community_id", type_="foreignkey")
        batch_op.drop_column("provisioned_at")
        batch_op.drop_column("zone_id")
        batch_op.drop_column("name")
        batch_op.drop_column("community_id")
    for table in ("sla_classes", "calendars", "person_zones", "people", "zones", "communities"):
        op.drop_table(table)
