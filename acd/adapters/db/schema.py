"""Every table of Madoguchi, in one place (SQLAlchemy Core).

The schema is owned by Alembic (``migrations/``); these definitions mirror it for the
stores' queries. Times are UNIX epoch seconds (double precision) so that durations and
KPI maths are the same SQL on SQLite and PostgreSQL. One store per aggregate reads and
writes them (``acd/adapters/db/*``, ``acd/recordings/*``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()


call_events = Table(
    "call_events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("occurred_at", Double, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("uniqueid", String(64), index=True),
    Column("payload", Text, nullable=False),
)


call_records = Table(
    "call_records", metadata,
    Column("uniqueid", String(64), primary_key=True),
    Column("line", String(32), nullable=False, index=True),
    Column("queue", String(40), nullable=False, index=True),
    Column("caller", String(32), nullable=False),
    Column("agent", String(16), index=True),
    Column("entered_at", Double, nullable=False, index=True),
    Column("queue_joined_at", Double),
    Column("answered_at", Double),
    Column("ended_at", Double, nullable=False),
    Column("wait_seconds", Double),
    Column("talk_seconds", Double),
    Column("outcome", String(16), nullable=False),
    Column("agents_rung", Integer, nullable=False),
    Column("recording_file", Text),
    Column("close_reason", String(16), nullable=False),
    Column("abandoned_position", Integer),
    Column("queue_position", Integer),
    Column("congestion_seconds", Double, nullable=False, server_default="0"),
    Column("overflow_reason", String(20)),
    Column("overflow_destination", String(60)),
    Column("voicemail_file", Text),
    Column("calendar_status", String(20)),
    Column("menu_path", Text),  # the caller's IVR choices, e.g. "lang:2>menu:3"
    Column("language", String(8)),  # the caller's language chosen in an IVR flow
    Column("emergency_switch", Integer),  # the emergency announcement the caller heard
    Column("survey_offered", Boolean, nullable=False, server_default="0"),
    Column("survey_answer_sum", Integer, nullable=False, server_default="0"),
    Column("survey_answer_count", Integer, nullable=False, server_default="0"),
)


agent_states = Table(
    "agent_states", metadata,
    Column("agent_id", String(16), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("snapshot", Text, nullable=False),
    Column("updated_at", Double, nullable=False),
)


dispositions = Table(
    "dispositions", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("uniqueid", String(64), nullable=False, index=True),
    Column("agent", String(16), nullable=False),
    Column("queue", String(40)),
    Column("outcome", String(20), nullable=False),
    Column("category", String(80)),
    Column("complaint", Boolean, nullable=False),
    Column("escalation", Boolean, nullable=False),
    Column("note", Text, nullable=False),
    Column("recorded_at", Double, nullable=False),
    Column("faq_prescribed", Boolean, nullable=False, server_default="0"),
)


agent_intervals = Table(  # one row per agent-state span (acd/reports/intervals.py)
    "agent_intervals", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("agent", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(40)),
    Column("started_at", Double, nullable=False, index=True),
    Column("ended_at", Double, index=True),  # NULL while open
    Column("login_at", Double, nullable=False),
    Column("uniqueid", String(64)),
)


voicemails = Table(
    "voicemails", metadata,
    Column("uniqueid", String(64), primary_key=True),
    Column("line", String(32), nullable=False),
    Column("queue", String(40), nullable=False),
    Column("caller", String(32), nullable=False),
    Column("file", Text, nullable=False),
    Column("seconds", Double, nullable=False),
    Column("left_at", Double, nullable=False, index=True),
    Column("handled_at", Double),
    Column("handled_by", String(40)),
    Column("assigned_to", String(40)),
)


agents = Table(
    "agents", metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("languages", String(20), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
)


agent_queues = Table(
    "agent_queues", metadata,
    Column("agent_id", String(16), ForeignKey("agents.id", ondelete="CASCADE"),
           primary_key=True),
    Column("queue", String(40), primary_key=True),
    Column("penalty", Integer, nullable=False),
)


event_items = Table(
    "event_items", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("events", String(40), nullable=False),
    Column("day", Date, nullable=False),
    Column("position", Integer, nullable=False),
    Column("title_prompt", String(80)),
    Column("title_text", String(200)),
    Column("title_audio", String(400)),
    Column("status", String(40), nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("updated_by", String(40), nullable=False),
    Column("deleted", Boolean, nullable=False),
)


users = Table(
    "users", metadata,
    Column("id", String(40), primary_key=True),
    Column("display_name", String(80), nullable=False),
    Column("role", String(16), nullable=False),
    Column("agent_id", String(16), unique=True),
    Column("extension", String(32)),
    Column("password_hash", Text, nullable=False),
    Column("password_changed_at", Double, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
)


#: Wrong sign-ins counted per (account, source) — so that knowing a login does not let
#: anyone lock its owner out — and per source for every account (login ``*``).
sign_in_failures = Table(
    "sign_in_failures", metadata,
    Column("login", String(40), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("failed_count", Integer, nullable=False),
    Column("last_failed_at", Double, nullable=False),
    Column("locked_until", Double),
)


sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("last_seen_at", Double, nullable=False),
    Column("remote", String(64)),
)


escalations = Table(
    "escalations", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("uniqueid", String(64), nullable=False, index=True),
    Column("agent", String(16), nullable=False),
    Column("line", String(32)),
    Column("caller", String(32)),
    Column("callback_name", String(80), nullable=False),
    Column("callback_number", String(32), nullable=False),
    Column("question", Text, nullable=False),
    Column("department", String(80), nullable=False),
    Column("created_at", Double, nullable=False, index=True),
    Column("assigned_to", String(40)),
    Column("handled_at", Double),
    Column("handled_by", String(40)),
)


access_log = Table(
    "access_log", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", Double, nullable=False, index=True),
    Column("user_id", String(40)),
    Column("action", String(32), nullable=False),
    Column("subject", String(200)),
    Column("remote", String(64)),
    Column("detail", Text),
)


recordings = Table(
    "recordings", metadata,
    Column("uniqueid", String(80), primary_key=True),  # the call's uniqueid; +"-vm"
    Column("call_uniqueid", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # call | voicemail
    Column("line", String(32), nullable=False, index=True),
    Column("queue", String(40), nullable=False),
    Column("agent", String(16), index=True),
    Column("caller", String(32), nullable=False, index=True),
    Column("started_at", Double, nullable=False, index=True),
    Column("ended_at", Double, nullable=False),
    Column("duration_seconds", Double),
    Column("plain_size", BigInteger),
    Column("source_path", Text),  # the plain file as Asterisk wrote it
    Column("sealed_path", Text),
    Column("sealed_size", BigInteger),
    Column("sealed_sha256", String(64)),
    Column("sha256", String(64)),  # of the plain content
    Column("key_id", String(64), index=True),
    Column("status", String(16), nullable=False),  # sealed | erased | failed
    Column("error", Text),
    Column("sealed_at", Double),
    Column("erased_at", Double, index=True),
    Column("erasure_method", String(60)),
    Column("erasure_reason", Text),
    Column("erasure_detail", Text),
    Column("erased_by", String(80)),
    Column("retention_until", Double, nullable=False, index=True),
    # on-demand recording: the segment number of the call, who started and stopped it
    Column("segment", Integer),
    Column("started_by", String(80)),
    Column("stopped_by", String(80)),
    CheckConstraint("kind IN ('call', 'voicemail')", name="ck_recordings_kind"),
    CheckConstraint("status IN ('sealed', 'erased', 'failed')", name="ck_recordings_status"),
)


recording_access_log = Table(
    "recording_access_log", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", Double, nullable=False, index=True),
    Column("who", String(80), nullable=False),
    Column("action", String(16), nullable=False),
    Column("recording_uniqueid", String(80), index=True),
    Column("remote", String(64)),
    Column("detail", Text, nullable=False, server_default=""),
    Column("result", String(16), nullable=False, server_default="granted"),  # | refused
)


personal_data_erasures = Table(
    "personal_data_erasures", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("uniqueid", String(64), nullable=False, unique=True),
    Column("line", String(32), nullable=False),
    Column("call_time", Double, nullable=False),
    Column("erased_at", Double, nullable=False, index=True),
    Column("erased_by", String(80), nullable=False),
    Column("reason", Text, nullable=False),
    Column("method", String(60), nullable=False),
    Column("fields", Text, nullable=False),
    Column("items", Integer, nullable=False),
)



emergency_switches = Table(  # every emergency switch: the audit trail (acd/domain/emergency.py)
    "emergency_switches", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("scope", String(32), nullable=False, index=True),  # a line's number, or "all"
    Column("mode", String(16), nullable=False),
    Column("audio", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("prompt", String(80)),
    Column("text", Text),
    Column("until", Double),
    Column("on_by", String(80), nullable=False),
    Column("on_at", Double, nullable=False, index=True),
    Column("off_by", String(80)),
    Column("off_at", Double),
)


staff_ratings = Table(  # 職員満足度: the city's staff rate the centre, month by month
    "staff_ratings", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("month", String(7), nullable=False, index=True),  # YYYY-MM (Tokyo)
    Column("score", Integer, nullable=False),  # 0-100
    Column("comment", Text, nullable=False, server_default=""),
    Column("rated_by", String(80), nullable=False),
    Column("rated_at", Double, nullable=False),
    CheckConstraint("score >= 0 AND score <= 100", name="ck_staff_ratings_score"),
)
