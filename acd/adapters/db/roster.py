"""The agent roster in the database: who the agents are and which queues they serve."""

from __future__ import annotations

import time

from sqlalchemy import (
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import agent_queues, agents
from acd.domain.agents import AgentProfile, Membership, RosterError


class Roster:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def all(self, include_disabled: bool = False) -> list[AgentProfile]:
        async with self.engine.connect() as conn:
            query = select(agents).order_by(agents.c.id)
            if not include_disabled:
                query = query.where(agents.c.enabled.is_(True))
            rows = (await conn.execute(query)).mappings().all()
            memberships = (await conn.execute(
                select(agent_queues).order_by(agent_queues.c.queue))).mappings().all()
        by_agent: dict[str, list[Membership]] = {}
        for m in memberships:
            by_agent.setdefault(m["agent_id"], []).append(Membership(m["queue"], m["penalty"]))
        return [AgentProfile(id=r["id"], name=r["name"], enabled=r["enabled"],
                             languages=tuple(r["languages"].split(",")),
                             queues=tuple(by_agent.get(r["id"], ())))
                for r in rows]

    async def get(self, agent_id: str) -> AgentProfile:
        for profile in await self.all(include_disabled=True):
            if profile.id == agent_id:
                return profile
        raise RosterError("AGENT_UNKNOWN", f"no agent {agent_id}")

    async def add(self, profile: AgentProfile) -> None:
        async with self.engine.begin() as conn:
            exists = (await conn.execute(select(agents.c.id).where(
                agents.c.id == profile.id))).first()
            if exists:
                raise RosterError("AGENT_EXISTS", f"agent {profile.id} already exists")
            await conn.execute(insert(agents).values(
                id=profile.id, name=profile.name, languages=",".join(profile.languages),
                enabled=profile.enabled, created_at=time.time()))
            await self._write_queues(conn, profile)

    async def update(self, profile: AgentProfile) -> None:
        async with self.engine.begin() as conn:
            done = await conn.execute(update(agents).where(agents.c.id == profile.id).values(
                name=profile.name, languages=",".join(profile.languages),
                enabled=profile.enabled))
            if done.rowcount == 0:
                raise RosterError("AGENT_UNKNOWN", f"no agent {profile.id}")
            await conn.execute(delete(agent_queues).where(agent_queues.c.agent_id == profile.id))
            await self._write_queues(conn, profile)

    async def remove(self, agent_id: str) -> None:
        """Take the agent off the roster (their calls' records keep the id)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(agent_queues).where(agent_queues.c.agent_id == agent_id))
            done = await conn.execute(delete(agents).where(agents.c.id == agent_id))
            if done.rowcount == 0:
                raise RosterError("AGENT_UNKNOWN", f"no agent {agent_id}")

    @staticmethod
    async def _write_queues(conn, profile: AgentProfile) -> None:
        if profile.queues:
            await conn.execute(insert(agent_queues), [
                {"agent_id": profile.id, "queue": m.queue, "penalty": m.penalty}
                for m in profile.queues])
