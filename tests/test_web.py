"""The review page (`callaudit serve`): token rule, localhost only without one, CSRF, range
requests, no path from the request, escaping and masking, concurrent decisions, and decisions
that land where the CLI's do (score --json, the weekly workbook)."""

import http.cookiejar
import json
import re
import shutil
import sqlite3
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from audit.cli import cli
from audit.workspace.config import load_config
from audit.web import create_app
from tests.conftest import copy_demo, scripted_night, spaced

DAY, WEEK = "2026-11-19", "2026-W47"
TOKEN = "0123456789abcdef0123"
PAYLOAD = "<script>alert('x')</script>"
PHONE = "13812345678"
# two hedges and a brush-off (flags), a line that tries to inject markup, and a phone number
LINES = ["应该是吧，我估计明天就好了。", "这不归我们管，你找物业去。", f"我的电话是{PHONE}，{PAYLOAD}<img src=x onerror=alert(1)>",
         "兴许是线路问题吧，我也说不准。", "好的，谢谢您的来电，再见。"]


@pytest.fixture(scope="module")
def web_night(tmp_path_factory):
    """The demo workspace after one night of scripted transcripts (every call sampled and scored); made once."""
    return scripted_night(copy_demo(tmp_path_factory.mktemp("web") / "demo"), spaced(LINES, every=12.0))


@pytest.fixture
def web_ws(web_night, tmp_path):
    """A private copy of that night, for a test that decides or edits."""
    return Path(shutil.copytree(web_night, tmp_path / "demo"))


def app_for(ws, token=None):
    app = create_app(load_config(ws / "audit.toml"), token)
    app.config["TESTING"] = True
    return app


def db(ws):
    return sqlite3.connect(ws / "callaudit.db")


def flag_rows(ws, where="1=1"):
    return db(ws).execute(f"SELECT flag_key, call_id, category, rule_id FROM flags WHERE {where} ORDER BY call_id, start").fetchall()


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def score_of(ws, call_id):
    res = CliRunner().invoke(cli, ["score", "--call", call_id, "--json", "--config", str(ws / "audit.toml")])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)[0]


# ---------------------------------------------------------------- who may look


def test_other_address_needs_a_token_and_then_every_request_carries_it(web_ws):
    res = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--config", str(web_ws / "audit.toml")], env={"CALLAUDIT_TOKEN": ""})
    assert res.exit_code == 2 and "--token" in res.output
    res = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--token", "short", "--config", str(web_ws / "audit.toml")])
    assert res.exit_code != 0 and "at least 16 characters" in res.output
    client = app_for(web_ws, token=TOKEN).test_client()
    for url in ("/queue", "/audio/20261119-0008", "/static/review.js", "/calls/20261119-0008", "/nowhere"):
        res = client.get(url)
        assert res.status_code == 401, url
        assert "未能加载" not in res.get_data(as_text=True)  # a refusal tells nothing of the workspace
    assert client.post(f"/flags/{flag_rows(web_ws)[0][0]}/review", data={"action": "dismiss"}).status_code == 401
    assert client.get("/queue?token=wrong").status_code == 401
    assert client.get("/queue", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/queue", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    first = client.get(f"/queue?token={TOKEN}&state=all")  # the printed address: leaves a cookie, drops the token from the URL
    assert first.status_code == 303 and "token" not in first.headers["Location"] and "state=all" in first.headers["Location"]
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith("callaudit_token_") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/queue").status_code == 200  # now by cookie
    assert client.get("/static/review.js").status_code == 200
    for trick in ("//evil.example/x", "/%2F%2Fevil.example/x", "/\\evil.example/x"):
        away = app_for(web_ws, token=TOKEN).test_client().get(f"{trick}?token={TOKEN}")
        if away.status_code == 303:  # the redirect stays on this site: a path, never another host
            target = urllib.parse.urlsplit(away.headers["Location"])
            assert target.netloc in ("", "localhost") and not target.path.startswith("//"), away.headers["Location"]


def test_without_a_token_only_localhost_names_are_answered(web_ws):
    client = app_for(web_ws).test_client()
    assert client.get("/queue").status_code == 200
    assert client.get("/queue", headers={"Host": "127.0.0.1:8765"}).status_code == 200
    assert client.get("/queue", headers={"Host": "[::1]:8765"}).status_code == 200
    assert client.get("/queue", headers={"Host": "localhost"}).status_code == 200
    assert client.get("/queue", headers={"Host": "attacker.example:8765"}).status_code == 400  # DNS rebinding


def test_a_form_without_its_csrf_token_changes_nothing(web_ws):
    client = app_for(web_ws).test_client()
    key, call_id, *_ = flag_rows(web_ws)[0]
    res = client.post(f"/flags/{key}/review", data={"action": "dismiss", "by": "x", "reason": "y"})
    assert res.status_code == 400
    assert db(web_ws).execute("SELECT COUNT(*) FROM review_events").fetchone()[0] == 0
    token = csrf(client.get(f"/calls/{call_id}").get_data(as_text=True))
    res = client.post(f"/flags/{key}/review", data={"action": "dismiss", "by": "王组长", "reason": "客户先挂断", "csrf_token": token})
    assert res.status_code == 303 and res.headers["Location"].endswith(f"#flag-{key}")
    assert db(web_ws).execute("SELECT state FROM reviews WHERE flag_key = ?", (key,)).fetchone()[0] == "dismissed"


# ---------------------------------------------------------------- audio


def test_audio_is_served_with_range_requests(web_ws):
    client = app_for(web_ws).test_client()
    whole = client.get("/audio/20261119-0008")
    assert whole.status_code == 200 and whole.headers["Accept-Ranges"] == "bytes"
    assert whole.mimetype in ("audio/wav", "audio/mpeg") and "private" in whole.headers["Cache-Control"]
    body = whole.get_data()
    part = client.get("/audio/20261119-0008", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(body)}"
    assert part.get_data() == body[1000:2000]
    tail = client.get("/audio/20261119-0008", headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.get_data() == body[-500:]
    assert client.get("/audio/20261119-0008", headers={"Range": f"bytes={len(body) + 10}-"}).status_code == 416


def test_non_browser_codecs_are_decoded_to_pcm_wav_once(web_ws):
    import wave

    call_id, path = db(web_ws).execute("SELECT call_id, audio_path FROM calls WHERE audio_path LIKE '%.wav' LIMIT 1").fetchone()
    client = app_for(web_ws).test_client()
    res = client.get(f"/audio/{call_id}")
    assert res.status_code == 200 and res.mimetype == "audio/wav"
    import io

    with wave.open(io.BytesIO(res.get_data())) as w:  # a playable PCM WAV, whatever the recording's codec
        assert w.getsampwidth() == 2 and w.getnframes() > w.getframerate()  # more than a second of audio


def test_no_path_is_taken_from_the_request(web_ws, tmp_path):
    client = app_for(web_ws).test_client()
    for url in ("/audio/..%2F..%2Fetc%2Fpasswd", "/audio/../../etc/passwd", "/audio/%2Fetc%2Fpasswd", "/audio/dev04.wav",
                "/audio/recordings/dev04.wav", "/audio/nope"):
        res = client.get(url, follow_redirects=True)  # (a doubled slash is first merged by a redirect)
        assert res.status_code == 404, url
        assert b"root:" not in res.get_data()
    secret = web_ws.parent / "secret.wav"  # outside the recording root
    secret.write_bytes((web_ws / "recordings" / "dev04.wav").read_bytes())
    with db(web_ws) as con:  # a tampered index row pointing out of the root is refused too
        con.execute("UPDATE calls SET audio_path = '../secret.wav' WHERE call_id = '20261119-0008'")
    res = client.get("/audio/20261119-0008")
    assert res.status_code == 404 and b"outside the recording root" in res.get_data()


# ---------------------------------------------------------------- what the pages show


def test_every_text_is_escaped_and_numbers_are_masked(web_ws):
    client = app_for(web_ws).test_client()
    key, call_id, *_ = flag_rows(web_ws, "category = 'answer.hedging'")[0]
    page = client.get(f"/calls/{call_id}")
    token = csrf(page.get_data(as_text=True))
    client.post(f"/flags/{key}/review", data={"action": "dismiss", "by": "<b>组长</b>", "reason": "<script>steal()</script>",
                                              "csrf_token": token})
    for url in (f"/calls/{call_id}", "/clips?kind=flagged&q=电话", "/queue?state=all", f"/agents/{_agent(web_ws, call_id)}"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html and "<script>steal" not in html, url
        assert "<b>组长" not in html, url
        assert PHONE not in html, url
    html = client.get(f"/calls/{call_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # shown as text
    assert "&lt;script&gt;steal()&lt;/script&gt;" in html and "&lt;b&gt;组长&lt;/b&gt;" in html
    assert "138******78" in html  # masked as in the workbook
    assert re.search(r"<script[^>]*>", html.replace('<script src="/static/review.js">', "")) is None
    clips = client.get("/clips?kind=flagged&q=电话").get_data(as_text=True)
    assert "138******78" in clips and 'id="clip-' in clips


def test_unmasked_when_configured(web_ws):
    cfg = web_ws / "audit.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("mask_pii = true", "mask_pii = false"), encoding="utf-8")
    call_id = flag_rows(web_ws)[0][1]
    assert PHONE in app_for(web_ws).test_client().get(f"/calls/{call_id}").get_data(as_text=True)


def _agent(ws, call_id):
    return db(ws).execute("SELECT agent_id FROM calls WHERE call_id = ?", (call_id,)).fetchone()[0]


def test_queue_filters_and_order_match_the_cli(web_ws):
    client = app_for(web_ws).test_client()
    res = CliRunner().invoke(cli, ["review", "queue", "--week", WEEK, "--limit", "0", "--json", "--config", str(web_ws / "audit.toml")])
    cli_keys = [f["flag_key"] for f in json.loads(res.output)["flags"]]
    html = client.get(f"/queue?week={WEEK}").get_data(as_text=True)
    assert re.findall(r'#flag-([0-9a-f]+)"', html) == cli_keys
    team = db(web_ws).execute("SELECT team FROM calls WHERE call_id = (SELECT call_id FROM flags LIMIT 1)").fetchone()[0]
    one_team = client.get(f"/queue?week={WEEK}&team={urllib.parse.quote(team)}").get_data(as_text=True)
    shown = re.findall(r'/calls/([^#"]+)#flag-', one_team)
    teams = {r[0] for r in db(web_ws).execute(f"SELECT team FROM calls WHERE call_id IN ({','.join('?' * len(shown))})", shown)}
    assert shown and teams == {team} and len(shown) < len(cli_keys)
    hedges = client.get(f"/queue?week={WEEK}&category=answer.hedging").get_data(as_text=True)
    assert len(re.findall(r"#flag-", hedges)) == len(flag_rows(web_ws, "category = 'answer.hedging'"))
    assert "#flag-" not in client.get(f"/queue?week={WEEK}&state=dismissed").get_data(as_text=True)
    assert client.get("/queue?week=nonsense").status_code == 400


def test_decisions_follow_the_review_flow_and_land_in_score_and_workbook(web_ws):
    client = app_for(web_ws).test_client()
    rows = flag_rows(web_ws, "category = 'answer.hedging'")
    key, call_id, *_ = rows[0]
    before = score_of(web_ws, call_id)["total"]
    token = csrf(client.get(f"/calls/{call_id}").get_data(as_text=True))

    def post(action, by="王组长", reason="录音核实"):
        return client.post(f"/flags/{key}/review", data={"action": action, "by": by, "reason": reason, "csrf_token": token},
                           follow_redirects=True).get_data(as_text=True)

    assert "请填写理由" in post("dismiss", reason="")  # a dismissal needs a reason
    assert "only a confirmed flag" in post("appeal")  # refused by the flow, and said why
    assert db(web_ws).execute("SELECT COUNT(*) FROM review_events").fetchone()[0] == 0
    html = post("dismiss", reason="客户先挂断")
    assert "已驳回" in html and "客户先挂断" in html
    after = score_of(web_ws, call_id)
    assert after["total"] > before
    assert next(f for f in after["flags"] if f["flag_key"] == key)["decision"] == "dismiss"
    path = json.loads(CliRunner().invoke(cli, ["weekly", "--week", WEEK, "--no-clips", "--json",
                                               "--config", str(web_ws / "audit.toml")]).output)["path"]
    sheet = load_workbook(path)["问题明细"]
    head = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[head.index("flag_key")] == key)
    assert row[head.index("复核")] == "驳回"
    # confirm, appeal by the agent, overturned by a lead: each button only where the state allows it
    post("confirm")
    html = post("appeal", by="1002", reason="客户已挂断")
    assert "申诉中" in html and 'value="overturned"' in html and 'value="dismiss"' not in html.split(f'id="flag-{key}"')[1].split("</article>")[0]
    post("overturned", by="李主管", reason="末尾客户已挂断")
    assert [e["action"] for e in json.loads(CliRunner().invoke(cli, ["review", "history", key, "--json", "--config",
            str(web_ws / "audit.toml")]).output)["history"]] == ["dismiss", "confirm", "appeal", "overturned"]


def test_agent_page_shows_the_weeks_scores_gap_and_flags(web_ws):
    client = app_for(web_ws).test_client()
    agent = _agent(web_ws, flag_rows(web_ws)[0][1])
    html = client.get(f"/agents/{agent}?week={WEEK}").get_data(as_text=True)
    assert 'id="agent-total"' in html and "与团队差" in html and "<polyline" in html
    n_flags = db(web_ws).execute("SELECT COUNT(*) FROM flags f JOIN calls c USING (call_id) WHERE c.agent_id = ?", (agent,)).fetchone()[0]
    assert html.count('<tr class="pending">') == n_flags
    assert client.get("/agents/nobody").status_code == 404


def test_case_library_lists_typical_cases_searchable(web_ws):
    client = app_for(web_ws).test_client()
    assert 'id="clip-' not in client.get("/clips").get_data(as_text=True)  # no typical case yet
    key, call_id, category, _ = flag_rows(web_ws, "category = 'etiquette.forbidden'")[0]
    token = csrf(client.get(f"/calls/{call_id}").get_data(as_text=True))
    client.post(f"/flags/{key}/review", data={"action": "case", "by": "培训师", "reason": "推诿的典型", "csrf_token": token})
    html = client.get("/clips").get_data(as_text=True)
    assert re.findall(r'id="clip-([0-9a-f]+)"', html) == [key]
    assert re.search(rf'src="/audio/{call_id}#t=[0-9.]+,[0-9.]+"', html)  # playable around the moment
    assert 'id="clip-' not in client.get("/clips?category=answer.hedging").get_data(as_text=True)
    assert key in client.get(f"/clips?category={category}&agent={_agent(web_ws, call_id)}").get_data(as_text=True)
    assert key not in client.get("/clips?q=不存在的词").get_data(as_text=True)


# ---------------------------------------------------------------- concurrency


def test_two_reviewers_deciding_at_once_lose_nothing(web_ws):
    """A real threaded server, many reviewers posting at the same moment: every decision is kept."""
    from waitress.server import create_server

    server = create_server(app_for(web_ws), host="127.0.0.1", port=0, threads=6)
    port = server.effective_port
    def run():
        try:
            server.run()
        except OSError:  # the listening socket closed under the loop at the end of the test
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        flags = flag_rows(web_ws)[:8]
        barrier = threading.Barrier(len(flags) + 1)
        errors: list[str] = []

        answers: dict[str, str] = {}

        def reviewer(name, key, call_id, action):
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            html = opener.open(f"http://127.0.0.1:{port}/calls/{call_id}", timeout=60).read().decode()
            data = urllib.parse.urlencode({"action": action, "by": name, "reason": f"{name} 的理由", "csrf_token": csrf(html),
                                           "seen": "pending"}).encode()
            barrier.wait(timeout=60)
            try:
                answers[name] = opener.open(f"http://127.0.0.1:{port}/flags/{key}/review", data=data, timeout=60).read().decode()
            except urllib.error.HTTPError as exc:  # pragma: no cover - reported below
                errors.append(f"{name}: {exc.code}")

        jobs = [threading.Thread(target=reviewer, args=(f"r{i}", k, c, "dismiss" if i % 2 else "confirm"))
                for i, (k, c, *_) in enumerate(flags[1:], start=1)]
        # and two reviewers on the same flag at the same moment, both having seen it pending:
        # one decision lands, the other is refused and told who decided (not silently overwritten)
        same_key, same_call = flags[0][0], flags[0][1]
        jobs += [threading.Thread(target=reviewer, args=(n, same_key, same_call, a)) for n, a in (("甲", "dismiss"), ("乙", "case"))]
        for j in jobs:
            j.start()
        for j in jobs:
            j.join(timeout=120)
        assert not errors
        con = db(web_ws)
        for i, (key, *_) in enumerate(flags[1:], start=1):
            expected = "dismissed" if i % 2 else "confirmed"
            assert con.execute("SELECT state FROM reviews WHERE flag_key = ?", (key,)).fetchone() == (expected,), key
        by = [r[0] for r in con.execute("SELECT by FROM review_events WHERE flag_key = ? ORDER BY id", (same_key,))]
        assert len(by) == 1 and by[0] in ("甲", "乙")
        loser = "乙" if by[0] == "甲" else "甲"
        assert f"未保存: {by[0]}" in answers[loser] and f"{loser} 的理由" in answers[loser]
        assert con.execute("SELECT COUNT(*) FROM review_events").fetchone()[0] == len(flags)
    finally:
        server.close()


# ---------------------------------------------------------------- what the review flow allows, on the page


def test_buttons_offered_are_exactly_what_the_review_flow_allows():
    from audit.workspace.review_states import STATES, ReviewError, next_state
    from audit.web.pages import ACTION_LABELS, actions_for

    for state in STATES:
        allowed = set()
        for action in ACTION_LABELS:
            try:
                if next_state("k", state, action) != state:  # deciding what it already is: no button
                    allowed.add(action)
            except ReviewError:
                pass
        assert set(actions_for(state)) == allowed, state


def test_a_page_loaded_before_a_colleagues_decision_does_not_overwrite_it(web_ws):
    alice, bob = app_for(web_ws).test_client(), app_for(web_ws).test_client()
    key, call_id, *_ = flag_rows(web_ws)[0]
    a_token = csrf(alice.get(f"/calls/{call_id}").get_data(as_text=True))
    b_token = csrf(bob.get(f"/calls/{call_id}").get_data(as_text=True))  # both see it pending
    alice.post(f"/flags/{key}/review", data={"action": "confirm", "by": "甲", "seen": "pending", "csrf_token": a_token})
    html = bob.post(f"/flags/{key}/review", data={"action": "dismiss", "by": "乙", "reason": "我觉得不算", "seen": "pending",
                                                   "csrf_token": b_token}, follow_redirects=True).get_data(as_text=True)
    assert "未保存: 甲" in html and "我觉得不算" in html
    assert db(web_ws).execute("SELECT state FROM reviews WHERE flag_key = ?", (key,)).fetchone()[0] == "confirmed"
    # having seen the confirmation, bob may change it: nothing is locked, only blind overwrites are refused
    bob.post(f"/flags/{key}/review", data={"action": "dismiss", "by": "乙", "reason": "听过录音", "seen": "confirmed",
                                           "csrf_token": b_token})
    assert db(web_ws).execute("SELECT state FROM reviews WHERE flag_key = ?", (key,)).fetchone()[0] == "dismissed"


def test_enter_in_a_field_submits_no_decision(web_ws):
    """The first submit button of each decision form is disabled: Enter (implicit submission) does nothing."""
    html = app_for(web_ws).test_client().get(f"/calls/{flag_rows(web_ws)[0][1]}").get_data(as_text=True)
    forms = re.findall(r'<form class="decide".*?</form>', html, re.S)
    assert forms
    for form in forms:
        first = re.search(r"<button[^>]*>", form).group(0)
        assert "disabled" in first and 'name="action"' not in first


def test_markup_in_index_fields_cannot_break_out_of_attributes(web_ws):
    evil = '"><script>alert(2)</script><a x="'
    with db(web_ws) as con:
        con.execute("UPDATE calls SET agent_name = ?, team = ?", (evil, evil))
        con.execute("UPDATE call_scores SET topic = ?", (evil,))
    client = app_for(web_ws).test_client()
    call_id = flag_rows(web_ws)[0][1]
    for url in ("/queue", f"/calls/{call_id}", f"/agents/{_agent(web_ws, call_id)}", "/clips?kind=flagged"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert(2)" not in html and '"><a x="' not in html, url
        assert "&#34;&gt;&lt;script&gt;alert(2)" in html, url


def test_security_headers_and_no_outside_resources(web_ws):
    client = app_for(web_ws).test_client()
    res = client.get(f"/calls/{flag_rows(web_ws)[0][1]}")
    csp = res.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert res.headers["X-Content-Type-Options"] == "nosniff" and res.headers["X-Frame-Options"] == "DENY"
    html = res.get_data(as_text=True)
    assert not re.search(r'(src|href)="(https?:)?//', html)  # works offline: nothing from elsewhere


def test_queue_day_agent_and_state_filters(web_ws):
    client = app_for(web_ws).test_client()
    every = len(re.findall(r"#flag-", client.get(f"/queue?week={WEEK}").get_data(as_text=True)))
    assert len(re.findall(r"#flag-", client.get(f"/queue?day={DAY}").get_data(as_text=True))) == every  # one scored day
    assert "#flag-" not in client.get("/queue?day=2026-11-20").get_data(as_text=True)
    agent = _agent(web_ws, flag_rows(web_ws)[0][1])
    mine = client.get(f"/queue?week={WEEK}&agent={agent}").get_data(as_text=True)
    n_mine = db(web_ws).execute("SELECT COUNT(*) FROM flags JOIN calls USING (call_id) WHERE agent_id = ?", (agent,)).fetchone()[0]
    assert len(re.findall(r"#flag-", mine)) == n_mine < every
    key, call_id, *_ = flag_rows(web_ws)[0]
    token = csrf(client.get(f"/calls/{call_id}").get_data(as_text=True))
    client.post(f"/flags/{key}/review", data={"action": "confirm", "by": "甲", "csrf_token": token})
    assert f"#flag-{key}" not in client.get(f"/queue?week={WEEK}").get_data(as_text=True)  # no longer waits
    assert re.findall(r"#flag-([0-9a-f]+)", client.get(f"/queue?week={WEEK}&state=confirmed").get_data(as_text=True)) == [key]
    assert len(re.findall(r"#flag-", client.get(f"/queue?week={WEEK}&state=all").get_data(as_text=True))) == every


def test_clip_library_windows_topics_and_cases_through_an_appeal(web_ws):
    client = app_for(web_ws).test_client()
    config = load_config(web_ws / "audit.toml")
    html = client.get("/clips?kind=flagged").get_data(as_text=True)
    windows = re.findall(r'id="clip-([0-9a-f]+)".*?src="/audio/([^#"]+)#t=([0-9.]+),([0-9.]+)"', html, re.S)
    timed = db(web_ws).execute("SELECT COUNT(*) FROM flags WHERE start IS NOT NULL").fetchone()[0]
    assert len(windows) == min(timed, 100) and len(windows) > 5
    pad = config.clip_padding
    for key, call_id, a, b in windows:  # the flag's moment with the configured padding, inside the call
        start, end, duration = db(web_ws).execute(
            "SELECT f.start, COALESCE(f.end, f.start), c.duration FROM flags f JOIN calls c USING (call_id) WHERE flag_key = ?",
            (key,)).fetchone()
        assert float(a) == pytest.approx(max(0.0, start - pad), abs=0.01)
        assert float(b) == pytest.approx(min(duration, end + pad), abs=0.01)
    topic = db(web_ws).execute("SELECT topic FROM call_scores WHERE call_id = (SELECT call_id FROM flags LIMIT 1)").fetchone()[0]
    of_topic = client.get(f"/clips?kind=flagged&topic={urllib.parse.quote(topic)}").get_data(as_text=True)
    shown = set(re.findall(r'src="/audio/([^#"]+)#t=', of_topic))
    topics = {r[0] for r in db(web_ws).execute(f"SELECT topic FROM call_scores WHERE call_id IN ({','.join('?' * len(shown))})", list(shown))}
    assert shown and topics == {topic}
    # a typical case stays in the library through an appeal the lead upholds, and leaves when overturned
    key, call_id, *_ = flag_rows(web_ws, "category = 'etiquette.forbidden'")[0]
    token = csrf(client.get(f"/calls/{call_id}").get_data(as_text=True))
    for action, by in (("case", "培训师"), ("appeal", "1002"), ("upheld", "李主管")):
        client.post(f"/flags/{key}/review", data={"action": action, "by": by, "reason": "r", "csrf_token": token})
    assert re.findall(r'id="clip-([0-9a-f]+)"', client.get("/clips").get_data(as_text=True)) == [key]


def test_decoded_audio_is_made_once_and_reused(web_ws):
    call_id = db(web_ws).execute("SELECT call_id FROM calls WHERE audio_path LIKE '%.wav' LIMIT 1").fetchone()[0]
    app = app_for(web_ws)
    client = app.test_client()
    first = client.get(f"/audio/{call_id}").get_data()
    cache = list((web_ws / ".callaudit-audio").glob("*.wav"))
    assert len(cache) == 1
    made = cache[0].stat().st_ino
    assert client.get(f"/audio/{call_id}").get_data() == first
    assert [p.stat().st_ino for p in (web_ws / ".callaudit-audio").glob("*.wav")] == [made]  # not written again


def test_a_broken_rule_pack_is_said_on_every_page(web_ws, tmp_path):
    cfg = web_ws / "audit.toml"
    empty = tmp_path / "no-rules"
    empty.mkdir()
    text = re.sub(r'rules = "[^"]*"', f'rules = "{empty}"', cfg.read_text(encoding="utf-8"))
    cfg.write_text(text, encoding="utf-8")
    html = app_for(web_ws).test_client().get("/queue").get_data(as_text=True)
    assert "规则包未能加载" in html and "no rule files" in html


def test_serve_prints_its_address_answers_and_says_when_the_port_is_taken(web_ws):
    import subprocess
    import sys

    cmd = [sys.executable, "-c", "from audit.cli import main; main()", "serve", "--port", "0", "--config", str(web_ws / "audit.toml")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert url, line + proc.stderr.read() if proc.poll() is not None else line
        with urllib.request.urlopen(f"{url.group(0)}queue", timeout=30) as res:
            assert res.status == 200 and "复核队列" in res.read().decode()
        taken = CliRunner().invoke(cli, ["serve", "--port", url.group(1), "--config", str(web_ws / "audit.toml")])
        assert taken.exit_code == 1 and f"cannot listen on 127.0.0.1:{url.group(1)}" in taken.output
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_dismissal_on_the_page_can_send_its_sentence_to_the_bank(web_ws):
    from audit.detect.bank import load_bank
    from tests.conftest import own_rules_copy

    own_rules_copy(web_ws)  # the workspace's own bank, never the repository's
    key, call_id, *_ = flag_rows(web_ws, "rule_id = 'etiquette.forbidden.brushoff' AND review_only = 0")[0]
    client = app_for(web_ws).test_client()
    page = client.get(f"/calls/{call_id}").get_data(as_text=True)
    assert 'name="to_bank"' in page
    before = len(load_bank(web_ws / "rules" / "bank").concepts["brushoff"].sentences)
    res = client.post(f"/flags/{key}/review", data={"action": "dismiss", "by": "王组长", "reason": "正当转介", "to_bank": "1",
                                                    "csrf_token": csrf(page)}, follow_redirects=True)
    assert "句库 brushoff" in res.get_data(as_text=True)
    after = load_bank(web_ws / "rules" / "bank").concepts["brushoff"].sentences
    assert len(after) == before + 1 and not after[-1].positive and after[-1].by.startswith("review:王组长@")
