"""users, roles, sessions and the access log of the consoles; the escalation (callback)
list; dispositions say whether the FAQ prescribed the handling; voicemail can be assigned

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("display_name", sa.String(80), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(16)),
        sa.Column("extension", sa.String(32)),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("failed_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.Double),
        sa.Column("password_changed_at", sa.Double, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_index("ix_users_agent_id", "users", ["agent_id"], unique=True)
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("last_seen_at", sa.Double, nullable=False),
        sa.Column("remote", sa.String(64)),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "access_log",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("user_id", sa.String(40)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200)),
        sa.Column("remote", sa.String(64)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_table(
        "escalations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(16), nullable=False),
        sa.Column("line", sa.String(32)),
        sa.Column("caller", sa.String(32)),
        sa.Column("callback_name", sa.String(80), nullable=False),
        sa.Column("callback_number", sa.String(32), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("department", sa.String(80), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("assigned_to", sa.String(40)),
        sa.Column("handled_at", sa.Double),
        sa.Column("handled_by", sa.String(40)),
    )
    op.create_index("ix_escalations_created_at", "escalations", ["created_at"])
    op.create_index("ix_escalations_uniqueid", "escalations", ["uniqueid"])
    with op.batch_alter_table("dispositions") as batch:
        batch.add_column(sa.Column("faq_prescribed", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("voicemails") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(40)))
    op.create_index("ix_call_records_caller", "call_records", ["caller"])


def downgrade() -> None:
    op.drop_index("ix_call_records_caller", "call_records")
    with op.batch_alter_table("voicemails") as batch:
        batch.drop_column("assigned_to")
    with op.batch_alter_table("dispositions") as batch:
        batch.drop_column("faq_prescribed")
    op.drop_index("ix_escalations_uniqueid", "escalations")
    op.drop_index("ix_escalations_created_at", "escalations")
    op.drop_table("escalations")
    op.drop_index("ix_access_log_at", "access_log")
    op.drop_table("access_log")
    op.drop_index("ix_sessions_user_id", "sessions")
    op.drop_table("sessions")
    op.drop_index("ix_users_agent_id", "users")
    op.drop_table("users")
