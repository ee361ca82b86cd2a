"""devices by when they were last heard from: the silence sweep reads a range of them

Revision: 0007
Follows: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_devices_last_seen", "devices", ["last_seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_devices_last_seen", table_name="devices")
