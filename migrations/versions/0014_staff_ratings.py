"""職員満足度: the city's staff rate the centre each month (score 0-100 and a comment)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_ratings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("rated_by", sa.String(80), nullable=False),
        sa.Column("rated_at", sa.Double, nullable=False),
        sa.CheckConstraint("score >= 0 AND score <= 100", name="ck_staff_ratings_score"),
    )
    op.create_index("ix_staff_ratings_month", "staff_ratings", ["month"])


def downgrade() -> None:
    op.drop_table("staff_ratings")
