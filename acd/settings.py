"""The one settings model of Madoguchi, validated at start.

Every value can be given as an environment variable prefixed ``MADOGUCHI_`` (for example
``MADOGUCHI_SIP_PORT=5070``); the database is chosen by ``DATABASE_URL`` as is usual.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_", extra="forbid", frozen=True)

    state_dir: Path = Field(
        default=PROJECT_DIR / "var",
        description="Generated secrets, the rendered Asterisk config, its database and logs, "
        "the SQLite database and synthesized prompts. Never committed.",
    )
    recordings_dir: Path = PROJECT_DIR / "recordings"
    voicemail_dir: Path | None = Field(default=None, description="voicemail messages; "
                                       "default: <recordings_dir>/voicemail")
    flows_dir: Path = PROJECT_DIR / "ivr_flows"
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("DATABASE_URL", "MADOGUCHI_DATABASE_URL"),
        description="SQLAlchemy async URL; empty means a SQLite file in state_dir.",
    )
    bind_address: str = "127.0.0.1"
    sip_port: int = Field(default=5060, ge=1, le=65535)
    ami_port: int = Field(default=5038, ge=1, le=65535)
    rtp_start: int = Field(default=10000, ge=1024, le=65535)
    rtp_end: int = Field(default=10999, ge=1024, le=65535)
    carrier_address: str = Field(
        default="127.0.0.2",
        description="Source address that identifies the carrier trunk (inbound calls).",
    )
    carrier_port: int = Field(
        default=5060, ge=1, le=65535, description="SIP port of the carrier at "
        "carrier_address, for outgoing calls (transfers, interpreters in three-way calls)")
    gateway_port: int = Field(default=8080, ge=1, le=65535)
    asterisk_root: Path | None = Field(
        default=None,
        description="A Debian root holding Asterisk (built by make setup); "
        "empty means the system's Asterisk or the cached root.",
    )
    ami_capture_file: Path | None = Field(
        default=None, description="append the raw AMI stream to this file (for bug reports "
        "and adapter test fixtures)")
    recording_retention_days: int = Field(
        default=90, ge=1, le=3650, description="days a recording is kept after its call; the "
        "daily purge (03:00 JST) erases it then, keeping a tombstone")
    recording_keys_dir: Path | None = Field(
        default=None, description="keyring that seals recordings (default <state_dir>/keys); "
        "keep it out of the recordings' backups")
    recording_seal_voicemail: bool = Field(default=True, description="seal voicemail too")
    recording_agents_play_own: bool = Field(
        default=False, description="agents may search and play the recordings of their own "
        "calls (supervisors and admins may play every recording)")
    reports_dir: Path | None = Field(default=None, description="where the scheduled KPI "
                                     "reports are written (default <state_dir>/reports)")
    report_formats: str = Field(default="pdf,xlsx", pattern=r"^(csv|xlsx|html|pdf)"
                                r"(,(csv|xlsx|html|pdf))*$", description="formats of the "
                                "scheduled reports, comma-separated")
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$")
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60, description="a console "
                                      "session unused this long ends")
    session_absolute_hours: int = Field(default=12, ge=1, le=7 * 24, description="every "
                                        "console session ends this long after sign-in")
    login_max_failures: int = Field(default=5, ge=1, le=100, description="wrong passwords "
                                    "in a row that lock an account")
    login_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    https: bool = Field(default=False, description="the consoles are served over https (a "
                        "TLS proxy in front): session cookies get the Secure flag")

    @field_validator("bind_address", "carrier_address")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not value.startswith("127."):
            raise ValueError("must be a loopback address (127.0.0.0/8): AMI, SIP and the "
                             "gateway are never exposed beyond this machine by default")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.state_dir / 'madoguchi.db'}"

    @property
    def voicemail_path(self) -> Path:
        return self.voicemail_dir or self.recordings_dir / "voicemail"

    @property
    def asterisk_dir(self) -> Path:
        """Runtime directory of the rendered Asterisk configuration and its data."""
        return self.state_dir / "asterisk"

    @property
    def reports_path(self) -> Path:
        return self.reports_dir or self.state_dir / "reports"

    @property
    def sounds_dir(self) -> Path:
        return self.state_dir / "sounds"
