"""The ring order the controller gives Asterisk: member penalties that make the agent
idle longest (or, per queue, with the fewest calls today) the one rung first."""

from __future__ import annotations

from dataclasses import replace

from acd.domain.agents import (
    RANK_SPAN,
    AddMember,
    AgentProfile,
    Agents,
    Login,
    Membership,
    QueuePolicy,
    SetAway,
    SetPenalty,
    SetReady,
    Status,
    SubmitDisposition,
    step,
)
from acd.domain.events import AgentAnswered, AgentCallEnded, AgentRinging

T0 = 1_790_000_000.0  # 2026-09-21 23:13 in Tokyo
DAY = 86_400.0


def team(strategy: str = "longest_idle", size: int = 3, skill: int = 0) -> Agents:
    profiles = [AgentProfile(str(1001 + i), f"agent{i}", (Membership("main", skill),))
                for i in range(size)]
    return Agents(policies={"main": QueuePolicy("main", 30, 20, strategy)}).with_roster(profiles)


def run(agents: Agents, *messages, at: float = T0):
    commands = []
    for offset, message in enumerate(messages):
        agents, produced = step(agents, message, at + offset)
        commands += produced
    return agents, commands


def penalties(commands) -> dict[str, int]:
    found: dict[str, int] = {}
    for command in commands:
        if isinstance(command, (AddMember, SetPenalty)):
            found[command.agent] = command.penalty
    return found


def take_call(agent: str, uniqueid: str) -> list:
    return [AgentRinging(0.0, uniqueid, "main", agent),
            AgentAnswered(0.0, uniqueid, "main", agent, 1, 1),
            AgentCallEnded(0.0, uniqueid, "main", agent, 30, "caller"),
            SubmitDisposition(agent, uniqueid, "完了")]


def test_agents_get_penalties_in_the_order_they_became_ready():
    agents, commands = run(team(), Login("1002"), Login("1003"), Login("1001"))
    assert penalties(commands) == {"1002": 0, "1003": 1, "1001": 2}


def test_an_agent_back_from_a_call_goes_behind_the_others_who_kept_waiting():
    agents, _ = run(team(), Login("1001"), Login("1002"), Login("1003"))
    agents, commands = run(agents, *take_call("1001", "c1"), at=T0 + 10)
    assert penalties(commands)["1001"] > max(a.rank for a in agents.by_id.values()
                                             if a.id != "1001")
    order = sorted(agents.by_id.values(), key=lambda a: a.rank)
    assert [a.id for a in order] == ["1002", "1003", "1001"]


def test_away_and_back_moves_the_agent_to_the_end():
    agents, _ = run(team(), Login("1001"), Login("1002"))
    agents, commands = run(agents, SetAway("1001", "break"), SetReady("1001"), at=T0 + 5)
    assert agents.by_id["1001"].rank > agents.by_id["1002"].rank
    assert agents.by_id["1001"].status is Status.READY


def test_ranks_are_compacted_in_order_before_they_leave_the_skill_band():
    agents, _ = run(team(), Login("1001"), Login("1002"), Login("1003"))
    # 1001 keeps waiting while the others take many calls
    at = T0 + 10
    for n in range(RANK_SPAN):
        agent = "1002" if n % 2 else "1003"
        agents, commands = run(agents, *take_call(agent, f"c{n}"), at=at)
        at += 10
        assert all(0 <= p < RANK_SPAN for p in penalties(commands).values())
        ranks = {a.id: a.rank for a in agents.by_id.values()}
        assert ranks["1001"] < min(ranks["1002"], ranks["1003"])  # still first
    assert max(a.rank for a in agents.by_id.values()) < RANK_SPAN


def test_compaction_lowers_penalties_from_the_first_agent_on():
    agents, _ = run(team(), Login("1001"), Login("1002"), Login("1003"))
    agents = agents.with_agent(replace(agents.by_id["1001"], rank=100))
    agents = agents.with_agent(replace(agents.by_id["1002"], rank=RANK_SPAN - 2))
    agents, commands = run(agents, SetAway("1003", "break"), SetReady("1003"), at=T0 + 50)
    assert agents.by_id["1003"].rank == 2
    changes = [c for c in commands if isinstance(c, SetPenalty)]
    assert [(c.agent, c.penalty) for c in changes] == [("1001", 0), ("1002", 1), ("1003", 2)]


def test_skill_levels_stay_apart_whatever_the_rank():
    agents, commands = run(team(skill=3), Login("1001"), Login("1002"))
    assert penalties(commands) == {"1001": 3 * RANK_SPAN, "1002": 3 * RANK_SPAN + 1}


def test_fewest_calls_orders_by_calls_answered_today():
    agents, _ = run(team("fewest_calls"), Login("1001"), Login("1002"), Login("1003"))
    agents, commands = run(agents, *take_call("1001", "a"), *take_call("1001", "b"),
                           *take_call("1002", "c"), at=T0 + 10)
    assert penalties(commands) == {"1001": 2, "1002": 1}
    assert agents.by_id["1003"].calls_on("2026-09-21") == 0


def test_calls_today_start_again_on_a_new_day_in_tokyo():
    agents, _ = run(team("fewest_calls"), Login("1001"))
    agents, _ = run(agents, *take_call("1001", "a"), at=T0 + 10)
    assert agents.by_id["1001"].calls_today == 1
    agents, commands = run(agents, SetAway("1001", "break"), SetReady("1001"), at=T0 + DAY)
    assert penalties(commands) == {"1001": 0}
    agents, _ = run(agents, *take_call("1001", "b"), at=T0 + DAY + 10)
    assert agents.by_id["1001"].calls_today == 1


def test_the_ring_order_survives_a_controller_restart():
    from acd.domain.agents import restore, snapshot

    agents, _ = run(team("fewest_calls"), Login("1001"), Login("1002"))
    agents, _ = run(agents, *take_call("1001", "a"), at=T0 + 10)
    saved = {a.id: snapshot(a) for a in agents.by_id.values()}
    restarted = restore(team("fewest_calls"), saved)
    assert {a.id: (a.rank, a.calls_today) for a in restarted.by_id.values()} == \
        {a.id: (a.rank, a.calls_today) for a in agents.by_id.values()}
    restarted, commands = run(restarted, Login("1003"), at=T0 + 20)
    assert restarted.by_id["1003"].rank > max(restarted.by_id[a].rank for a in ("1001", "1002"))
