"""People and roles (issue #24): accounts and the CLI that manages them, sign-in (cookie, expiry,
throttling, no hint whether a name exists), what each role may do (checked by the store, not only
by hidden buttons), an agent's own week and nothing else, history by account, the workbook's
复核人 mapped to accounts, and no password or hash in logs, pages or output."""

import json
import logging
import re
import sqlite3
import time

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from audit.cli import cli
from audit.workspace import accounts
from audit.workspace.store import Store
from tests.test_web import TOKEN, WEEK, app_for, csrf, db, flag_rows, web_night, web_ws  # noqa: F401 (fixtures)

PASSWORDS = {"王质检": "reviewer-pass-1", "李主管": "lead-pass-22", "赵主管": "other-lead-3", "钱七": "admin-pass-44"}


def cli_run(ws, *args, input=None, ok=True):
    res = CliRunner().invoke(cli, [*args, "--config", str(ws / "audit.toml")], input=input)
    assert (res.exit_code == 0) == ok, res.output
    return res.output


def a_flag(ws, where="1=1"):
    """(flag_key, call_id, agent_id, team) of a counted flag."""
    return db(ws).execute(f"""SELECT f.flag_key, f.call_id, c.agent_id, c.team FROM flags f JOIN calls c USING (call_id)
                              WHERE f.review_only = 0 AND {where} ORDER BY f.call_id, f.start LIMIT 1""").fetchone()


def people(ws, agent_id, team):
    """A reviewer, a lead of the flag's team, a lead of another team, an admin, and the agent; their passwords."""
    pw = dict(PASSWORDS, 座席甲=f"agent-{agent_id}-pw")
    with Store(ws / "callaudit.db") as store:
        accounts.add_account(store, "王质检", "reviewer", pw["王质检"])
        accounts.add_account(store, "李主管", "lead", pw["李主管"], team=team)
        accounts.add_account(store, "赵主管", "lead", pw["赵主管"], team="另一班")
        accounts.add_account(store, "钱七", "admin", pw["钱七"])
        accounts.add_account(store, "座席甲", "agent", pw["座席甲"], agent_id=agent_id)
    return pw


def sign_in(client, name, password, **kw):
    token = csrf(client.get("/signin", **kw).get_data(as_text=True))
    return client.post("/signin", data={"name": name, "password": password, "csrf_token": token}, **kw)


def signed_in(ws, name, password, app=None):
    client = (app or app_for(ws)).test_client()
    res = sign_in(client, name, password)
    assert res.status_code == 303, res.get_data(as_text=True)
    return client


def post(client, key, call_id, action, reason="理由", **extra):
    token = csrf(client.get(f"/calls/{call_id}").get_data(as_text=True))
    return client.post(f"/flags/{key}/review", data={"action": action, "reason": reason, "csrf_token": token, **extra})


def events(ws, key):
    return db(ws).execute("SELECT action, by, role, account_id FROM review_events WHERE flag_key = ? ORDER BY id", (key,)).fetchall()


# ---------------------------------------------------------------- the CLI


def test_users_add_list_passwd_disable(web_ws):
    out = cli_run(web_ws, "users", "add", "王质检", "--role", "reviewer", input="s3cret-password\ns3cret-password\n")
    assert "s3cret-password" not in out and "added 王质检: reviewer" in out  # a prompt, never echoed
    cli_run(web_ws, "users", "add", "座席甲", "--role", "agent", "--agent-id", "1002", "--team", "一班", "--password-stdin",
            input="agent-password\n")
    assert "needs --agent-id" in cli_run(web_ws, "users", "add", "x", "--role", "agent", "--password-stdin", input="longenough\n", ok=False)
    assert "at least 8 characters" in cli_run(web_ws, "users", "add", "y", "--role", "lead", "--password-stdin", input="short\n", ok=False)
    assert "exists already" in cli_run(web_ws, "users", "add", "王质检", "--role", "lead", "--password-stdin", input="longenough\n", ok=False)
    assert "--password" not in cli_run(web_ws, "users", "add", "--help").replace("--password-stdin", "")  # no password argument
    listed = json.loads(cli_run(web_ws, "users", "list", "--json"))
    assert listed == [{"name": "座席甲", "role": "agent", "agent_id": "1002", "team": "一班", "disabled": False},
                      {"name": "王质检", "role": "reviewer", "agent_id": None, "team": None, "disabled": False}]
    (stored,) = db(web_ws).execute("SELECT password_hash FROM accounts WHERE name = '王质检'").fetchone()
    assert stored.startswith("$argon2id$") and "s3cret-password" not in stored

    with Store(web_ws / "callaudit.db") as store:
        assert accounts.sign_in(store, "王质检", "s3cret-password", "127.0.0.1").name == "王质检"
        session = accounts.open_session(store, accounts.find(store, "王质检"))
        cli_run(web_ws, "users", "passwd", "王质检", "--password-stdin", input="a-new-password\n")
        assert accounts.session_account(store, session) is None  # a new password ends the sessions
        with pytest.raises(accounts.SignInRefused):
            accounts.sign_in(store, "王质检", "s3cret-password", "127.0.0.1")
        assert accounts.sign_in(store, "王质检", "a-new-password", "127.0.0.1")
        session = accounts.open_session(store, accounts.find(store, "王质检"))
        assert "(disabled)" in cli_run(web_ws, "users", "disable", "王质检")
        assert accounts.session_account(store, session) is None
        with pytest.raises(accounts.SignInRefused, match=accounts.REFUSED):
            accounts.sign_in(store, "王质检", "a-new-password", "127.0.0.1")
    assert "no account named '谁'" in cli_run(web_ws, "users", "passwd", "谁", "--password-stdin", input="whatever12\n", ok=False)
    # the CLI stays the trusted local path, and says so
    for group in ("review", "users"):
        assert "trusted local" in CliRunner().invoke(cli, [group, "--help"]).output
    key, *_ = a_flag(web_ws)
    cli_run(web_ws, "review", "decide", key, "dismiss", "--by", "本地组长")
    assert events(web_ws, key) == [("dismiss", "本地组长", "local", None)]


# ---------------------------------------------------------------- who may look


def test_single_user_on_loopback_until_accounts_exist_then_anonymous_requests_are_refused(web_ws):
    key, call_id, agent_id, team = a_flag(web_ws)
    client = app_for(web_ws).test_client()
    html = client.get("/queue").get_data(as_text=True)
    assert "单人模式" in html and "callaudit users add NAME --role" in html  # works as today, says how to add accounts
    people(web_ws, agent_id, team)
    anonymous = app_for(web_ws).test_client()
    for url in ("/", "/queue", f"/calls/{call_id}", f"/agents/{agent_id}", "/clips"):
        res = anonymous.get(url)
        assert res.status_code == 303 and res.headers["Location"].endswith("/signin"), url
    assert anonymous.get(f"/audio/{call_id}").status_code == 401
    assert anonymous.get("/nowhere").status_code == 401
    assert anonymous.post(f"/flags/{key}/review", data={"action": "dismiss", "by": "x", "reason": "y"}).status_code == 401
    assert client.get("/queue").status_code == 303  # the single-user page ends with the first account
    with Store(web_ws / "callaudit.db") as store:
        for a in accounts.list_accounts(store):
            accounts.set_disabled(store, a.name)
    assert client.get("/queue").status_code == 303  # and does not come back when every account is disabled
    assert db(web_ws).execute("SELECT COUNT(*) FROM review_events").fetchone()[0] == 0
    page = anonymous.get("/signin")
    assert page.status_code == 200 and 'name="password"' in page.get_data(as_text=True)
    assert anonymous.get("/static/review.css").status_code == 200


def test_beyond_loopback_sign_in_is_required_even_before_any_account_and_the_token_stays_outside(web_ws):
    from audit.workspace.config import load_config
    from audit.web import create_app

    app = create_app(load_config(web_ws / "audit.toml"), TOKEN, host="0.0.0.0")
    app.config["TESTING"] = True
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/signin").status_code == 401  # the token first: without it not even the sign-in page
    res = client.get("/queue", headers=bearer)
    assert res.status_code == 303 and res.headers["Location"].endswith("/signin")
    assert "callaudit users add" in client.get("/signin", headers=bearer).get_data(as_text=True)
    key, call_id, agent_id, team = a_flag(web_ws)
    pw = people(web_ws, agent_id, team)
    token = csrf(client.get("/signin", headers=bearer).get_data(as_text=True))
    assert client.post("/signin", data={"name": "王质检", "password": pw["王质检"], "csrf_token": token}).status_code == 401
    res = client.post("/signin", headers=bearer, data={"name": "王质检", "password": pw["王质检"], "csrf_token": token})
    assert res.status_code == 303
    assert client.get("/queue", headers=bearer).status_code == 200
    assert client.get("/queue").status_code == 401  # a session without the token: still refused at the gate


def test_session_cookie_sign_out_and_expiry(web_ws):
    key, call_id, agent_id, team = a_flag(web_ws)
    pw = people(web_ws, agent_id, team)
    client = app_for(web_ws).test_client()
    res = sign_in(client, "王质检", pw["王质检"])
    cookie = next(c for c in res.headers.getlist("Set-Cookie") if c.startswith("callaudit_signin_"))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert res.headers["Location"].endswith("/queue")
    html = client.get("/queue").get_data(as_text=True)
    assert "王质检 · 质检员" in html and "单人模式" not in html
    stored = db(web_ws).execute("SELECT token_hash FROM sessions").fetchall()
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(stored) == 1 and value not in stored[0][0]  # only a hash of the token is kept
    # sign-out ends the session on the server, not only in this browser
    token = csrf(html)
    assert client.post("/signout", data={"csrf_token": token}).status_code == 303
    assert client.get("/queue").status_code == 303
    replay = app_for(web_ws).test_client()
    replay.set_cookie(cookie.split("=", 1)[0], value)
    assert replay.get("/queue").status_code == 303
    # over TLS the cookie is Secure
    tls = app_for(web_ws).test_client()
    res = sign_in(tls, "王质检", pw["王质检"], base_url="https://localhost", headers={"Referer": "https://localhost/signin"})
    assert any("Secure" in c for c in res.headers.getlist("Set-Cookie") if c.startswith("callaudit_signin_"))
    # sessions expire: after a working day, and after two idle hours
    with Store(web_ws / "callaudit.db") as store:
        me = accounts.find(store, "王质检")
        t0 = time.time()
        s = accounts.open_session(store, me, clock=lambda: t0)
        assert accounts.session_account(store, s, clock=lambda: t0 + 3600) == me
        assert accounts.session_account(store, s, clock=lambda: t0 + 3600 + accounts.IDLE_MINUTES * 60 + 1) is None
        s = accounts.open_session(store, me, clock=lambda: t0)
        for hour in range(1, accounts.SESSION_HOURS):  # kept busy all day
            assert accounts.session_account(store, s, clock=lambda: t0 + hour * 3600) == me
        assert accounts.session_account(store, s, clock=lambda: t0 + accounts.SESSION_HOURS * 3600 + 1) is None
    live = signed_in(web_ws, "王质检", pw["王质检"])
    with sqlite3.connect(web_ws / "callaudit.db") as con:
        con.execute("UPDATE sessions SET expires = ?", (time.time() - 1,))
    assert live.get("/queue").status_code == 303


def test_sign_in_is_throttled_per_name_and_address_and_says_nothing_of_the_name(web_ws):
    key, call_id, agent_id, team = a_flag(web_ws)
    pw = people(web_ws, agent_id, team)
    app = app_for(web_ws)
    here = {"environ_base": {"REMOTE_ADDR": "10.0.0.7"}}

    def attempt(client, name, password, **kw):
        res = sign_in(client, name, password, **kw)
        body = res.get_data(as_text=True).replace(name, "NAME")
        return res.status_code, re.sub(r'value="[^"]{40,}"', "", body)  # without the CSRF token

    client = app.test_client()
    wrong = attempt(client, "王质检", "not-the-password", **here)
    unknown = attempt(client, "无此人", "not-the-password", **here)
    assert wrong[0] == unknown[0] == 401 and wrong[1] == unknown[1] and accounts.REFUSED in wrong[1]
    with Store(web_ws / "callaudit.db") as store:
        accounts.set_disabled(store, "钱七")
    disabled = attempt(client, "钱七", pw["钱七"], **here)
    assert disabled == wrong  # a disabled account looks the same too
    for _ in range(5 - 1):  # 5 failures in 15 minutes, as the README says
        assert attempt(client, "王质检", "guess", **here)[0] == 401
    status, body = attempt(client, "王质检", pw["王质检"], **here)  # the right password, but throttled
    assert status == 429 and "次数过多" in body
    res = sign_in(client, "王质检", pw["王质检"], **here)
    assert res.status_code == 429 and int(res.headers["Retry-After"]) > 60
    for _ in range(5):  # an unknown name is throttled the same way
        attempt(client, "无此人", "guess", **here)
    assert attempt(client, "无此人", "guess", **here)[0] == 429
    # another address, or another name from this address, is not held back
    assert sign_in(app.test_client(), "王质检", pw["王质检"], environ_base={"REMOTE_ADDR": "10.0.0.8"}).status_code == 303
    assert sign_in(app.test_client(), "李主管", pw["李主管"], **here).status_code == 303
    # and the window passes
    with Store(web_ws / "callaudit.db") as store:
        later = time.time() + 15 * 60 + 1
        assert accounts.sign_in(store, "王质检", pw["王质检"], "10.0.0.7", clock=lambda: later).name == "王质检"


# ---------------------------------------------------------------- what each role may do


def test_roles_are_checked_by_the_server_even_with_a_forged_form(web_ws):
    key, call_id, agent_id, team = a_flag(web_ws)
    pw = people(web_ws, agent_id, team)
    reviewer = signed_in(web_ws, "王质检", pw["王质检"])
    agent = signed_in(web_ws, "座席甲", pw["座席甲"])
    lead = signed_in(web_ws, "李主管", pw["李主管"])
    other_lead = signed_in(web_ws, "赵主管", pw["赵主管"])
    admin = signed_in(web_ws, "钱七", pw["钱七"])

    assert post(agent, key, call_id, "dismiss").status_code == 403  # an agent cannot dismiss their own flag
    assert post(admin, key, call_id, "confirm").status_code == 403
    # the typed name is ignored: the event is the signed-in account's
    assert post(reviewer, key, call_id, "confirm", by="李主管").status_code == 303
    assert post(reviewer, key, call_id, "appeal").status_code == 403  # only the agent appeals
    page = agent.get(f"/agents/{agent_id}").get_data(as_text=True)
    assert re.search(rf'action="/flags/{key}/review".*?value="appeal"', page, re.S)
    token = csrf(page)
    res = agent.post(f"/flags/{key}/review", data={"action": "appeal", "reason": "客户先挂断", "seen": "confirmed", "back": "agent",
                                                   "csrf_token": token})
    assert res.status_code == 303 and f"/agents/{agent_id}" in res.headers["Location"]
    # the reviewer is offered no settling, and a forged form to settle is refused by the server
    card = reviewer.get(f"/calls/{call_id}").get_data(as_text=True).split(f'id="flag-{key}"')[1].split("</article>")[0]
    assert "申诉中" in card and 'value="upheld"' not in card and 'value="overturned"' not in card
    res = post(reviewer, key, call_id, "upheld", seen="appealed")
    assert res.status_code == 403 and "a reviewer account may not settle an appeal" in res.get_data(as_text=True)
    assert post(other_lead, key, call_id, "overturned").status_code == 403  # a lead of another team
    assert db(web_ws).execute("SELECT state FROM reviews WHERE flag_key = ?", (key,)).fetchone()[0] == "appealed"
    card = lead.get(f"/calls/{call_id}").get_data(as_text=True).split(f'id="flag-{key}"')[1].split("</article>")[0]
    assert 'value="overturned"' in card and 'name="by"' not in card
    assert post(lead, key, call_id, "overturned", reason="录音末尾客户已挂断").status_code == 303
    # the history: each step by its account, with the role it had then
    ids = dict(db(web_ws).execute("SELECT name, id FROM accounts").fetchall())
    assert events(web_ws, key) == [("confirm", "王质检", "reviewer", ids["王质检"]), ("appeal", "座席甲", "agent", ids["座席甲"]),
                                   ("overturned", "李主管", "lead", ids["李主管"])]
    html = lead.get(f"/calls/{call_id}").get_data(as_text=True)
    assert "王质检</span> <span class=\"role\">(质检员)" in html and "座席甲</span> <span class=\"role\">(座席)" in html
    history = json.loads(cli_run(web_ws, "review", "history", key, "--json"))["history"]
    assert [(e["by"], e["role"]) for e in history] == [("王质检", "reviewer"), ("座席甲", "agent"), ("李主管", "lead")]


def test_the_store_refuses_what_a_role_may_not_do():
    from audit.workspace.review_states import ReviewForbidden, authorize

    authorize("k", "confirm", "reviewer", None, None, "1002", "一班")
    authorize("k", "upheld", "lead", None, "一班", "1002", "一班")
    authorize("k", "appeal", "agent", "1002", None, "1002", "一班")
    for args in (("upheld", "reviewer", None, None), ("appeal", "reviewer", None, None), ("dismiss", "agent", "1002", None),
                 ("appeal", "agent", "1003", None), ("confirm", "admin", None, None), ("overturned", "lead", None, "二班"),
                 ("confirm", "nobody", None, None)):
        with pytest.raises(ReviewForbidden):
            authorize("k", args[0], args[1], args[2], args[3], "1002", "一班")


def test_an_agent_sees_only_their_own_week_and_calls(web_ws):
    key, call_id, agent_id, team = a_flag(web_ws)
    pw = people(web_ws, agent_id, team)
    mine = {r[0] for r in db(web_ws).execute("SELECT call_id FROM calls WHERE agent_id = ?", (agent_id,))}
    other_call, other_agent = db(web_ws).execute(
        "SELECT c.call_id, c.agent_id FROM calls c JOIN call_scores USING (call_id) WHERE c.agent_id != ? LIMIT 1", (agent_id,)).fetchone()
    client = app_for(web_ws).test_client()
    res = sign_in(client, "座席甲", pw["座席甲"])
    assert res.headers["Location"].endswith(f"/agents/{agent_id}")  # lands on their own week
    assert client.get("/").headers["Location"].endswith(f"/agents/{agent_id}")
    week = client.get(f"/agents/{agent_id}").get_data(as_text=True)
    assert 'id="agent-total"' in week and "<polyline" in week and "我的一周" in week
    shown = set(re.findall(r'href="/calls/([^"#]+)', week))
    assert shown and shown <= mine
    assert "复核队列" not in week and "案例库" not in week
    assert client.get(f"/calls/{call_id}").status_code == 200
    missing = client.get("/calls/no-such-call")
    other = client.get(f"/calls/{other_call}")
    assert other.status_code == missing.status_code == 404
    assert other.get_data(as_text=True).replace(other_call, "X") == missing.get_data(as_text=True).replace("no-such-call", "X")
    assert client.get(f"/audio/{other_call}").status_code == 404
    assert client.get(f"/agents/{other_agent}").status_code == 404
    other_flag = db(web_ws).execute("SELECT flag_key FROM flags WHERE call_id = ?", (other_call,)).fetchone()
    if other_flag:
        token = csrf(week)
        assert client.post(f"/flags/{other_flag[0]}/review", data={"action": "appeal", "reason": "x", "csrf_token": token}).status_code == 404
    assert client.get("/queue").status_code == 403 and client.get("/clips").status_code == 403
    # a reviewer still sees everyone
    reviewer = signed_in(web_ws, "王质检", pw["王质检"])
    assert reviewer.get(f"/calls/{other_call}").status_code == 200 and reviewer.get("/queue").status_code == 200


# ---------------------------------------------------------------- the workbook's 复核人


def test_workbook_import_maps_reviewers_to_accounts_and_refuses_unknown_names(web_ws):
    key, call_id, agent_id, team = a_flag(web_ws)
    people(web_ws, agent_id, team)
    path = json.loads(cli_run(web_ws, "weekly", "--week", WEEK, "--no-clips", "--json"))["path"]
    wb = load_workbook(path)
    sheet = wb["问题明细"]
    head = [c.value for c in sheet[1]]
    rows = {sheet.cell(r, head.index("flag_key") + 1).value: r for r in range(2, sheet.max_row + 1)}
    keys = list(rows)[:5]
    for k, who in zip(keys, ("王质检", "李主管", "外人", "", "座席甲")):
        sheet.cell(rows[k], head.index("复核") + 1).value = "驳回"
        sheet.cell(rows[k], head.index("复核人") + 1).value = who
    wb.save(path)
    out = json.loads(cli_run(web_ws, "review", "import", path, "--json"))
    assert out["updated"] == 2
    skipped = "\n".join(out["skipped"])
    assert f"row {rows[keys[2]]}: 复核人 '外人' is not an account" in skipped
    assert f"row {rows[keys[3]]}: 复核人 is empty" in skipped
    assert f"row {rows[keys[4]]}: flag {keys[4]}: an agent account may not dismiss a flag" in skipped
    assert events(web_ws, keys[0])[0][1:3] == ("王质检", "reviewer") and events(web_ws, keys[1])[0][1:3] == ("李主管", "lead")
    assert events(web_ws, keys[2]) == events(web_ws, keys[3]) == events(web_ws, keys[4]) == []


# ---------------------------------------------------------------- secrets stay secret


def test_no_password_or_hash_in_logs_pages_or_output(web_ws, caplog):
    caplog.set_level(logging.DEBUG)
    key, call_id, agent_id, team = a_flag(web_ws)
    outputs = [cli_run(web_ws, "users", "add", "王质检", "--role", "reviewer", input="reviewer-pass-1\nreviewer-pass-1\n"),
               cli_run(web_ws, "users", "add", "座席甲", "--role", "agent", "--agent-id", agent_id, "--password-stdin",
                       input="agent-secret-9\n"),
               cli_run(web_ws, "users", "passwd", "王质检", "--password-stdin", input="reviewer-pass-2\n")]
    outputs += [cli_run(web_ws, "users", "list"), cli_run(web_ws, "users", "list", "--json"), cli_run(web_ws, "users", "disable", "座席甲"),
                cli_run(web_ws, "users", "disable", "座席甲", "--enable")]
    app = app_for(web_ws)
    client = app.test_client()
    pages = [sign_in(client, "王质检", "reviewer-pass-1"), sign_in(client, "reviewer-pass-2", "reviewer-pass-2"),
             sign_in(client, "王质检", "reviewer-pass-2")]
    pages += [client.get(u) for u in ("/queue", f"/calls/{call_id}", f"/agents/{agent_id}", "/clips?kind=flagged")]
    pages.append(post(client, key, call_id, "confirm"))
    agent = signed_in(web_ws, "座席甲", "agent-secret-9")
    pages += [agent.get(f"/agents/{agent_id}"), agent.get(f"/calls/{call_id}")]
    hashes = [h for (h,) in db(web_ws).execute("SELECT password_hash FROM accounts")]
    secrets = ["reviewer-pass-1", "reviewer-pass-2", "agent-secret-9", *hashes, *(h.split("$")[-1] for h in hashes)]
    seen = outputs + [p.get_data(as_text=True) + str(p.headers) for p in pages] + [caplog.text]
    assert "signed in" in caplog.text and "sign-in refused" in caplog.text  # logged, but without what was typed
    for text in seen:
        for secret in secrets:
            assert secret not in text
    assert all("$argon2" not in text for text in seen)
