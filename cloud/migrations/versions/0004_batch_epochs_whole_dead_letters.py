"""batch identity is (gateway, epoch, seq); dead letters are kept whole, as bytes, and
remember their replay

Revision: 0004
Follows: 0003

Batches stored before get the epoch '' (no gateway can send it: an epoch is 8-32 hex
digits). Dead letters kept before keep their (possibly cut) text, as UTF-8 bytes, with the
category 'unknown'.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COPIED = "gateway_id, seq, ingested_at, items"


def _gateway_of(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) == 6 and parts[:3] == ["linli", "v1", "gw"] and 0 < len(parts[3]) <= 64:
        return parts[3]
    return None


def upgrade() -> None:
    with op.batch_alter_table("gateways") as batch_op:
        batch_op.add_column(sa.Column("epoch", sa.String(length=32), nullable=True))

    op.create_table(
        "ingested_batches_0004",
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("gateway_id", "epoch", "seq", name="pk_ingested_batches"),
    )
    op.execute(
        f"INSERT INTO ingested_batches_0004 (epoch, {_COPIED}) "
        f"SELECT '', {_COPIED} FROM ingested_batches"
    )
    op.drop_table("ingested_batches")
    op.rename_table("ingested_batches_0004", "ingested_batches")

    with op.batch_alter_table("dead_letters") as batch_op:
        batch_op.alter_column(
            "topic", existing_type=sa.String(length=512), type_=sa.Text(), existing_nullable=False
        )
        batch_op.alter_column(
            "payload",
            existing_type=sa.Text(),
            type_=sa.LargeBinary(),
            existing_nullable=False,
            postgresql_using="convert_to(payload, 'UTF8')",
        )
        batch_op.add_column(sa.Column("gateway_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("category", sa.String(length=32), nullable=False, server_default="unknown")
        )
        batch_op.add_column(sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("replay_result", sa.Text(), nullable=True))

    letters = sa.table("dead_letters", sa.column("id", sa.Integer), sa.column("topic", sa.Text))
    connection = op.get_bind()
    for letter_id, topic in connection.execute(sa.select(letters.c.id, letters.c.topic)).all():
        gateway_id = _gateway_of(topic)
        if gateway_id is not None:
            connection.execute(
                sa.text("UPDATE dead_letters SET gateway_id = :gateway WHERE id = :id"),
                {"gateway": gateway_id, "id": letter_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch_op:
        batch_op.drop_column("replay_result")
        batch_op.drop_column("replayed_at")
        batch_op.drop_column("category")
        batch_op.drop_column("gateway_id")
        batch_op.alter_column(
            "payload",
            existing_type=sa.LargeBinary(),
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using="convert_from(payload, 'UTF8')",
        )
        batch_op.alter_column(
            "topic", existing_type=sa.Text(), type_=sa.String(length=512), existing_nullable=False
        )

    op.create_table(
        "ingested_batches_0003",
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("gateway_id", "seq"),
    )
    # one row per (gateway, seq): batches of several epochs with one seq become one
    op.execute(
        "INSERT INTO ingested_batches_0003 (gateway_id, seq, ingested_at, items) "
        "SELECT gateway_id, seq, MIN(ingested_at), SUM(items) FROM ingested_batches "
        "GROUP BY gateway_id, seq"
    )
    op.drop_table("ingested_batches")
    op.rename_table("ingested_batches_0003", "ingested_batches")

    with op.batch_alter_table("gateways") as batch_op:
        batch_op.drop_column("epoch")
