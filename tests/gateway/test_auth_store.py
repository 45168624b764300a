"""Passwords, lock-out and session expiry on a real database (SQLite and PostgreSQL),
with a clock the test moves."""

from __future__ import annotations

import pytest

from acd.adapters.db.access_log import AccessLog
from acd.adapters.db.engine import make_engine
from acd.adapters.db.migrate import upgrade
from acd.adapters.db.sessions import SessionStore
from acd.adapters.db.users import SignInRefused, UserError, UserStore
from acd.auth.passwords import hash_password, password_problems, verify_password
from acd.auth.policy import AuthPolicy

STRONG = "kousoku-tsuushin-2026"


@pytest.mark.parametrize("weak", [
    "short", "password1234", "Password1234!", "qwertyuiop12", "aaaaaaaaaaaa",
    "abcabcabcabc", "123456789012", "234567890123", "!!!!!!!!!!!!", "1212121212121212",
    "yamada-hanako-99",
])
def test_weak_passwords_are_refused(weak):
    assert password_problems(weak, login="yamada", name="hanako")


@pytest.mark.parametrize("strong", [STRONG, "correct horse battery staple",
                                    "窓口の合言葉は青い海です", "Tr0mbone-Kettle-7"])
def test_strong_passwords_pass(strong):
    assert password_problems(strong, login="yamada", name="山田花子") == []


def test_hash_is_argon2id_and_verifies():
    digest = hash_password(STRONG)
    assert digest.startswith("$argon2id$")
    assert verify_password(digest, STRONG) and not verify_password(digest, STRONG + "x")


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def stores(database_url):
    await upgrade(database_url)
    engine = make_engine(database_url)
    clock = Clock()
    policy = AuthPolicy()
    access = AccessLog(engine, clock)
    yield UserStore(engine, policy, access, clock), SessionStore(engine, policy, clock), \
        access, clock
    await engine.dispose()


async def test_five_wrong_passwords_lock_the_account_from_that_source_for_15_minutes(stores):
    users, _sessions, access, clock = stores
    await users.add("yamada", "山田花子", "agent", STRONG, agent_id="1001")
    for attempt in range(4):
        with pytest.raises(SignInRefused) as refused:
            await users.sign_in("yamada", f"wrong-password-{attempt}", "127.0.0.9")
        assert refused.value.error_id == "BAD_CREDENTIALS"
    with pytest.raises(SignInRefused) as refused:
        await users.sign_in("yamada", "wrong-password-5", "127.0.0.9")
    assert refused.value.error_id == "LOCKED"
    clock.t += 14 * 60  # still locked there: even the right password is refused
    with pytest.raises(SignInRefused) as refused:
        await users.sign_in("yamada", STRONG, "127.0.0.9")
    assert refused.value.error_id == "LOCKED"
    assert await users.locked_logins() == {"yamada"}
    # the owner at their own desk is not locked out by whoever guessed elsewhere
    assert (await users.sign_in("yamada", STRONG, "127.0.0.10")).id == "yamada"
    clock.t += 61  # 15 min later it opens again
    assert (await users.sign_in("yamada", STRONG, "127.0.0.9")).id == "yamada"
    assert await users.locked_logins() == set()
    actions = [e["action"] for e in reversed(await access.recent())]
    assert actions == ["user_added", *["sign_in_failed"] * 5, "locked", "sign_in_locked",
                       "sign_in", "sign_in"]
    # a success resets the count: 4 more failures do not lock
    for _ in range(4):
        with pytest.raises(SignInRefused):
            await users.sign_in("yamada", "wrong-again-wrong", "127.0.0.9")
    assert (await users.sign_in("yamada", STRONG, "127.0.0.9")).id == "yamada"


async def test_a_source_guessing_many_accounts_is_refused_for_every_account(stores):
    users, _sessions, access, clock = stores
    await users.add("yamada", "山田花子", "agent", STRONG, agent_id="1001")
    for n in range(19):
        with pytest.raises(SignInRefused) as refused:
            await users.sign_in(f"guess{n}", "hunter22hunter22", "127.0.0.7")
        assert refused.value.error_id == "BAD_CREDENTIALS"
    with pytest.raises(SignInRefused) as refused:
        await users.sign_in("guess19", "hunter22hunter22", "127.0.0.7")
    assert refused.value.error_id == "SOURCE_LOCKED"
    with pytest.raises(SignInRefused) as refused:  # even a right password from there
        await users.sign_in("yamada", STRONG, "127.0.0.7")
    assert refused.value.error_id == "SOURCE_LOCKED"
    assert (await users.sign_in("yamada", STRONG, "127.0.0.8")).id == "yamada"
    assert await users.locked_logins() == set()  # no account is locked by it
    locks = await access.recent(action="locked")
    assert [e["detail"] for e in locks] == ["source: 20 wrong sign-ins"]
    clock.t += 15 * 60
    assert (await users.sign_in("yamada", STRONG, "127.0.0.7")).id == "yamada"


async def test_failures_older_than_the_lockout_time_are_forgotten(stores):
    users, _sessions, _access, clock = stores
    await users.add("yamada", "山田花子", "agent", STRONG, agent_id="1001")
    for _ in range(12):  # a typing mistake every 20 minutes, all day, never locks
        with pytest.raises(SignInRefused) as refused:
            await users.sign_in("yamada", "typo-typo-typo", "127.0.0.9")
        assert refused.value.error_id == "BAD_CREDENTIALS"
        clock.t += 20 * 60


async def test_unknown_and_disabled_users_fail_like_a_wrong_password(stores):
    users, _sessions, access, _clock = stores
    await users.add("sato", "佐藤", "viewer", STRONG)
    await users.set_enabled("sato", False)
    for login in ("nobody", "sato"):
        with pytest.raises(SignInRefused) as refused:
            await users.sign_in(login, STRONG)
        assert refused.value.error_id == "BAD_CREDENTIALS"
    details = [e["detail"] for e in await access.recent(action="sign_in_failed")]
    assert sorted(details) == ["disabled", "unknown login"]


async def test_admin_unlock_and_user_rules(stores):
    users, _sessions, _access, _clock = stores
    await users.add("suzuki", "鈴木", "supervisor", STRONG, extension="2001")
    for _ in range(5):
        with pytest.raises(SignInRefused):
            await users.sign_in("suzuki", "not-the-password")
    with pytest.raises(SignInRefused) as refused:
        await users.sign_in("suzuki", STRONG)
    assert refused.value.error_id == "LOCKED"
    await users.unlock("suzuki")
    assert (await users.sign_in("suzuki", STRONG)).extension == "2001"
    with pytest.raises(UserError) as exists:
        await users.add("suzuki", "x", "viewer", STRONG)
    assert exists.value.error_id == "USER_EXISTS"
    with pytest.raises(UserError) as weak:
        await users.add("kato", "加藤", "viewer", "password1234")
    assert weak.value.error_id == "WEAK_PASSWORD"
    with pytest.raises(UserError) as no_agent:
        await users.add("kato", "加藤", "agent", STRONG)
    assert no_agent.value.error_id == "AGENT_ID"
    with pytest.raises(UserError) as current:
        await users.set_password("suzuki", "another-long-secret", current="wrong")
    assert current.value.error_id == "BAD_CURRENT_PASSWORD"
    await users.set_password("suzuki", "another-long-secret", current=STRONG)
    assert (await users.sign_in("suzuki", "another-long-secret")).id == "suzuki"


async def test_sessions_expire_when_idle_and_after_12_hours(stores):
    users, sessions, _access, clock = stores
    user = await users.add("yamada", "山田花子", "agent", STRONG, agent_id="1001")
    token, session = await sessions.create(user)
    assert len(token) >= 40 and session.token_hash != token  # only the hash is kept
    clock.t += 29 * 60
    assert (await sessions.lookup(token)).user.id == "yamada"  # a use keeps it alive
    clock.t += 29 * 60
    assert await sessions.lookup(token) is not None
    clock.t += 30 * 60 + 1  # idle 30 min: gone
    assert await sessions.lookup(token) is None
    assert await sessions.lookup(token) is None  # and removed

    token, second = await sessions.create(user)
    for _ in range(12 * 4):  # used every 15 min, it still ends 12 h after sign-in
        clock.t += 15 * 60
        if await sessions.lookup(token) is None:
            break
    assert clock.t - second.created_at == pytest.approx(12 * 3600)
    token, _third = await sessions.create(user)
    await users.set_enabled("yamada", False)
    assert await sessions.lookup(token) is None  # a disabled user has no session
