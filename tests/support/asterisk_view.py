"""What Asterisk itself says, asked on its console (``asterisk -rx``): the queue members
(and whether paused) and the live channels -- to compare with the controller's view after
a fault."""

from __future__ import annotations

import re

from tests.support.asterisk_pid import asterisk_console
from tests.support.stack import RunningStack
from tests.support.waiting import until

#: Agent states in which Asterisk must not offer the agent a call (member paused).
PAUSED_STATES = frozenset({"away", "missed", "wrapup"})
_MEMBER = re.compile(r"\(PJSIP/(?P<agent>[^)]+)\)(?P<flags>.*)$")


async def asterisk_view(stack: RunningStack) -> tuple[set[tuple[str, str, bool]], int]:
    """(queue, agent, paused) of every member of the queues, and the live channels."""
    members: set[tuple[str, str, bool]] = set()
    queue = None
    for line in (await asterisk_console(stack.state_dir, "queue show")).splitlines():
        if line and not line.startswith(" "):
            queue = line.split(" ", 1)[0]
        found = _MEMBER.search(line)
        if found and queue:
            members.add((queue, found["agent"], "(paused" in found["flags"]))
    channels = await asterisk_console(stack.state_dir, "core show channels count")
    count = re.search(r"(\d+) active channels?", channels)
    assert count is not None, channels
    return members, int(count.group(1))


async def _agrees(stack: RunningStack) -> str | None:
    members, channels = await asterisk_view(stack)
    states = {s["id"]: s for s in await stack.api("GET", "/api/agents")}
    expected = {(q["queue"], agent, state["status"] in PAUSED_STATES)
                for agent, state in states.items() if state["status"] != "logged_out"
                for q in state["queues"]}
    ours = {m for m in members if m[1] in states}
    if channels or ours != expected:
        return None
    return f"Asterisk agrees: {len(ours)} members as the controller says, no channel left"


async def settled(stack: RunningStack, timeout: float = 30) -> str:
    """Wait until Asterisk agrees with the controller: every logged-in agent is a member
    of its queues, paused exactly when the agent may not take a call, and no channel is
    left. A description of what was checked."""
    return await until(lambda: _agrees(stack), timeout,
                       "Asterisk's members and channels agreeing with the controller")
