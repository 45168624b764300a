"""The emergency switch: every switch on record (who put it on and took it off, when),
and the announcement each call heard

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "emergency_switches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("audio", sa.Text, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("prompt", sa.String(80)),
        sa.Column("text", sa.Text),
        sa.Column("until", sa.Double),
        sa.Column("on_by", sa.String(80), nullable=False),
        sa.Column("on_at", sa.Double, nullable=False),
        sa.Column("off_by", sa.String(80)),
        sa.Column("off_at", sa.Double),
    )
    op.create_index("ix_emergency_switches_scope", "emergency_switches", ["scope"])
    op.create_index("ix_emergency_switches_on_at", "emergency_switches", ["on_at"])
    op.add_column("call_records", sa.Column("emergency_switch", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("emergency_switch")
    op.drop_table("emergency_switches")
