"""calls that reached a line while it was closed: the calendar's decision

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("calendar_status", sa.String(20)))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("calendar_status")
