"""Sign-in failures counted per (account, source) and per source (the account's own
count and lock go)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("login", sa.String(40), primary_key=True),
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("failed_count", sa.Integer, nullable=False),
        sa.Column("last_failed_at", sa.Double, nullable=False),
        sa.Column("locked_until", sa.Double),
    )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("failed_count")
        batch.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_count", sa.Integer, nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.Double))
    op.drop_table("sign_in_failures")
