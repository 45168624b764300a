"""What an admin writes in ivr_flows/*.yaml, as strict pydantic models.

Unknown keys are errors (``extra="forbid"``); cross references (a line's queue, an
agent's queues, a prompt name) are checked by :mod:`acd.ivr.loader` with file:line:column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Language = Literal["ja", "en"]
RecordingPolicy = Literal["always", "on_demand", "off"]
NAME = r"^[a-z][a-z0-9_-]{0,39}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prompt(Strict):
    """A prompt by language: the text to synthesize, or an audio file the admin supplies."""

    text: dict[Language, str] = {}
    file: dict[Language, Path] = {}

    @model_validator(mode="after")
    def _has_audio(self) -> Prompt:
        if not self.text and not self.file:
            raise ValueError("a prompt needs 'text' or 'file' for at least one language")
        return self


class Queue(Strict):
    name: str = Field(pattern=NAME, description="'general' is reserved by Asterisk")
    strategy: Literal["leastrecent", "fewestcalls"] = "leastrecent"
    ring_timeout: int = Field(default=15, ge=5, le=120, description="seconds an agent rings")
    max_wait: int = Field(default=600, ge=10, le=7200, description="seconds a caller may wait")

    @model_validator(mode="after")
    def _not_reserved(self) -> Queue:
        if self.name == "general":
            raise ValueError("'general' is reserved by Asterisk; choose another queue name")
        return self


class Line(Strict):
    did: str = Field(pattern=r"^[0-9]{4,15}$", description="the dialled number, digits only")
    name: str
    queue: str
    language: Language = "ja"
    recording: RecordingPolicy = "always"
    notice: str | None = Field(default=None, description="prompt played before the queue")

    @model_validator(mode="after")
    def _notice_when_recorded(self) -> Line:
        if self.recording == "always" and self.notice is None:
            raise ValueError("a line recorded 'always' needs a 'notice' prompt played "
                             "before the caller reaches an operator")
        return self


class Agent(Strict):
    id: str = Field(pattern=r"^[0-9]{3,8}$", description="extension-like agent id")
    name: str
    queues: list[str] = Field(min_length=1)


class SiteFile(Strict):
    """One YAML file; the site is the union of all files in the flows directory."""

    lines: list[Line] = []
    queues: list[Queue] = []
    agents: list[Agent] = []
    prompts: dict[str, Prompt] = {}


class Site(Strict):
    lines: tuple[Line, ...]
    queues: tuple[Queue, ...]
    agents: tuple[Agent, ...]
    prompts: dict[str, Prompt]

    def queue(self, name: str) -> Queue:
        return next(q for q in self.queues if q.name == name)
