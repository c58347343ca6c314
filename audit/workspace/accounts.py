"""People on the review page: accounts, their roles, passwords, sign-in sessions, throttling.

An account has a name, a role (reviewer 质检员, lead 质检主管/座席主管, agent 座席, admin 管理员),
for an agent the agent id (工号) whose calls are theirs, and optionally a team (班组: a lead with a
team settles only that team's appeals). What each role may do to a flag is the review flow's rule
(`review_states.authorize`, applied in `Store.transition`); this module says who someone is.

Passwords are hashed with Argon2id (argon2-cffi) and never kept, logged or shown in clear. A
session is a random token in an HttpOnly cookie; only its SHA-256 is stored, so a copy of the
database opens no session. Sessions end on sign-out, after SESSION_HOURS, after IDLE_MINUTES
without a request, and when the account's password changes or it is disabled. Failed sign-ins
are counted per name and address: after MAX_FAILURES within THROTTLE_MINUTES that pair is refused
(even with the right password) until the oldest failure ages out. An unknown name, a disabled
account and a wrong password get the same answer and take the same time.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from audit.errors import AuditError
from audit.workspace.review_states import LOCAL_ROLE, ROLE_ACTIONS
from audit.workspace.store import Store

ROLES = tuple(ROLE_ACTIONS)  # reviewer, lead, agent, admin
ROLE_LABELS = {"reviewer": "质检员", "lead": "质检主管", "agent": "座席", "admin": "管理员", LOCAL_ROLE: "本机"}
MIN_PASSWORD = 8
SESSION_HOURS = 12  # a working day, then sign in again
IDLE_MINUTES = 120
MAX_FAILURES = 5
THROTTLE_MINUTES = 15
REFUSED = "用户名或密码不正确"  # the one answer to a failed sign-in: nothing says whether the name exists

_hasher = PasswordHasher()  # Argon2id, the library's current defaults


class SignInRefused(AuditError):
    """A sign-in that did not succeed; the message is the same whatever the cause."""

    def __init__(self, message: str = REFUSED, retry_after: int = 0):
        self.retry_after = retry_after  # seconds, when throttled
        super().__init__(message)


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    agent_id: str | None = None
    team: str | None = None
    disabled: bool = False

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def to_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "agent_id": self.agent_id, "team": self.team, "disabled": self.disabled}


def _account(row: dict | None) -> Account | None:
    if row is None:
        return None
    return Account(int(row["id"]), row["name"], row["role"], row["agent_id"], row["team"], bool(row["disabled"]))


# ---------------------------------------------------------------- accounts (the CLI manages them)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuditError(f"a password needs at least {MIN_PASSWORD} characters")


def add_account(store: Store, name: str, role: str, password: str, agent_id: str | None = None,
                team: str | None = None) -> Account:
    name = (name or "").strip()
    if not name:
        raise AuditError("an account needs a name")
    if role not in ROLES:
        raise AuditError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role == "agent" and not (agent_id or "").strip():
        raise AuditError("an agent account needs --agent-id (the 工号 whose calls are theirs)")
    check_password(password)
    with store.tx():
        account_id = store.add_account(name, role, (agent_id or "").strip() or None, (team or "").strip() or None,
                                       _hasher.hash(password))
    return Account(account_id, name, role, (agent_id or "").strip() or None, (team or "").strip() or None)


def list_accounts(store: Store) -> list[Account]:
    return [_account(r) for r in store.accounts()]


def find(store: Store, name: str) -> Account | None:
    return _account(store.account((name or "").strip()))


def _existing(store: Store, name: str) -> Account:
    account = find(store, name)
    if account is None:
        raise AuditError(f"no account named {name!r} (callaudit users list)")
    return account


def set_password(store: Store, name: str, password: str) -> Account:
    """A new password; the account's open sessions end."""
    account = _existing(store, name)
    check_password(password)
    with store.tx():
        store.update_account(account.id, password_hash=_hasher.hash(password))
        store.end_sessions(account_id=account.id)
    return account


def set_disabled(store: Store, name: str, disabled: bool = True) -> Account:
    """Disable (or enable again) an account; a disabled one cannot sign in and its sessions end.
    Its past decisions stay in the history under its name."""
    account = _existing(store, name)
    with store.tx():
        store.update_account(account.id, disabled=disabled)
        store.end_sessions(account_id=account.id)
    return _existing(store, name)


def accounts_exist(store: Store) -> bool:
    """Whether any account was ever made: from then on the review page requires sign-in (disabling
    every account does not bring back the single-user page)."""
    return store.count_accounts() > 0


# ---------------------------------------------------------------- sign-in and sessions


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return _hasher.hash(secrets.token_hex(16))


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _decoy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def sign_in(store: Store, name: str, password: str, address: str, clock=time.time) -> Account:
    """The account whose name and password these are; SignInRefused otherwise (the same message
    for every cause), or when this name and address failed MAX_FAILURES times in THROTTLE_MINUTES."""
    key, at = (name or "").strip(), clock()
    window = THROTTLE_MINUTES * 60
    failures = store.signin_failures(key.casefold(), address, at - window)
    if len(failures) >= MAX_FAILURES:
        wait = int(failures[-MAX_FAILURES] + window - at) + 1
        raise SignInRefused(f"登录失败次数过多，请 {max(1, (wait + 59) // 60)} 分钟后再试", retry_after=wait)
    account = find(store, key)
    stored = store.password_hash(account.id) if account is not None else None
    ok = _verify(stored, password or "")  # an unknown name costs the same hashing as a known one
    if not ok or account is None or account.disabled:
        with store.tx():
            store.record_signin_failure(key.casefold(), address, at)
            store.clear_signin_failures(before=at - window)  # old failures are no longer needed
        raise SignInRefused()
    with store.tx():
        store.clear_signin_failures(key.casefold(), address)
        if _hasher.check_needs_rehash(stored):
            store.update_account(account.id, password_hash=_hasher.hash(password))
    return account


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(store: Store, account: Account, clock=time.time) -> str:
    """A new session for the account: the token for its cookie (only its hash is stored)."""
    token, at = secrets.token_urlsafe(32), clock()
    with store.tx():
        store.end_sessions(before=at - IDLE_MINUTES * 60)  # and forget those that ended meanwhile
        store.add_session(_token_hash(token), account.id, at, at + SESSION_HOURS * 3600)
    return token


def session_account(store: Store, token: str | None, clock=time.time) -> Account | None:
    """The account signed in with this session token, or None (unknown, expired, idle too long, disabled)."""
    if not token:
        return None
    digest, at = _token_hash(token), clock()
    row = store.session(digest)
    if row is None:
        return None
    if row["expires"] <= at or row["last_seen"] + IDLE_MINUTES * 60 <= at or row["disabled"]:
        with store.tx():
            store.end_sessions(token_hash=digest)
        return None
    if at - row["last_seen"] > 60:  # at most one write a minute per session
        with store.tx():
            store.touch_session(digest, at)
    return _account(row)


def close_session(store: Store, token: str | None) -> None:
    if token:
        with store.tx():
            store.end_sessions(token_hash=_token_hash(token))
