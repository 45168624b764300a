"""retention of personal data in call records and dispositions; on-demand recording
segments; refused accesses in the recordings' access log

* ``personal_data_erasures``: one row per call whose personal data (caller number,
  notes, callback details) was erased from the database: when, by whom, why, how, and
  which fields of which tables (counts, never the values);
* ``recordings``: ``segment``, ``started_by``, ``stopped_by`` of on-demand recordings;
* ``recording_access_log.result``: ``granted`` or ``refused`` (a playback turned down is
  logged too).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personal_data_erasures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("uniqueid", sa.String(64), nullable=False, unique=True),
        sa.Column("line", sa.String(32), nullable=False),
        sa.Column("call_time", sa.Double, nullable=False),
        sa.Column("erased_at", sa.Double, nullable=False),
        sa.Column("erased_by", sa.String(80), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("method", sa.String(60), nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
    )
    op.create_index("ix_personal_data_erasures_erased_at", "personal_data_erasures",
                    ["erased_at"])
    op.add_column("recordings", sa.Column("segment", sa.Integer))
    op.add_column("recordings", sa.Column("started_by", sa.String(80)))
    op.add_column("recordings", sa.Column("stopped_by", sa.String(80)))
    op.add_column("recording_access_log", sa.Column("result", sa.String(16), nullable=False,
                                                    server_default="granted"))


def downgrade() -> None:
    with op.batch_alter_table("recording_access_log") as batch:
        batch.drop_column("result")
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("stopped_by")
        batch.drop_column("started_by")
        batch.drop_column("segment")
    op.drop_table("personal_data_erasures")
