"""the event-information line: events of a day and their statuses, changed by staff

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("events", sa.String(40), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title_prompt", sa.String(80)),
        sa.Column("title_text", sa.String(200)),
        sa.Column("title_audio", sa.String(400)),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("updated_by", sa.String(40), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_event_items_events_day", "event_items", ["events", "day"])


def downgrade() -> None:
    op.drop_index("ix_event_items_events_day", "event_items")
    op.drop_table("event_items")
