"""The caller satisfaction survey after the call: whether the caller heard it, and the
sum and number of the keys (1-5) they answered it with

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("call_records", sa.Column("survey_offered", sa.Boolean, nullable=False,
                                            server_default=sa.false()))
    op.add_column("call_records", sa.Column("survey_answer_sum", sa.Integer, nullable=False,
                                            server_default="0"))
    op.add_column("call_records", sa.Column("survey_answer_count", sa.Integer,
                                            nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("survey_answer_count")
        batch.drop_column("survey_answer_sum")
        batch.drop_column("survey_offered")
