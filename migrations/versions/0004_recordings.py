"""the recording store: one row per sealed recording (kept as a tombstone once erased)
and the log of every access to recordings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("uniqueid", sa.String(80), primary_key=True),
        sa.Column("call_uniqueid", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("line", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(40), nullable=False),
        sa.Column("agent", sa.String(16)),
        sa.Column("caller", sa.String(32), nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("ended_at", sa.Double, nullable=False),
        sa.Column("duration_seconds", sa.Double),
        sa.Column("plain_size", sa.BigInteger),
        sa.Column("source_path", sa.Text),
        sa.Column("sealed_path", sa.Text),
        sa.Column("sealed_size", sa.BigInteger),
        sa.Column("sealed_sha256", sa.String(64)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("key_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("sealed_at", sa.Double),
        sa.Column("erased_at", sa.Double),
        sa.Column("erasure_method", sa.String(60)),
        sa.Column("erasure_reason", sa.Text),
        sa.Column("erasure_detail", sa.Text),
        sa.Column("erased_by", sa.String(80)),
        sa.Column("retention_until", sa.Double, nullable=False),
        sa.CheckConstraint("kind IN ('call', 'voicemail')", name="ck_recordings_kind"),
        sa.CheckConstraint("status IN ('sealed', 'erased', 'failed')",
                           name="ck_recordings_status"),
    )
    for column in ("call_uniqueid", "started_at", "caller", "line", "agent", "key_id",
                   "erased_at", "retention_until"):
        op.create_index(f"ix_recordings_{column}", "recordings", [column])
    op.create_table(
        "recording_access_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("who", sa.String(80), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("recording_uniqueid", sa.String(80)),
        sa.Column("remote", sa.String(64)),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.CheckConstraint(
            "action IN ('play', 'download', 'search', 'erase', 'certificate')",
            name="ck_recording_access_log_action"),
    )
    op.create_index("ix_recording_access_log_at", "recording_access_log", ["at"])
    op.create_index("ix_recording_access_log_recording_uniqueid", "recording_access_log",
                    ["recording_uniqueid"])


def downgrade() -> None:
    op.drop_table("recording_access_log")
    op.drop_table("recordings")
