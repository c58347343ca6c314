"""The review page: a Flask app over one workspace (`callaudit serve`).

Who may reach it: on the loopback address anyone on this machine (requests naming another host
are refused, so a web page elsewhere cannot reach it through DNS rebinding); on any other
address only requests carrying the token (`Authorization: Bearer`, or `?token=` once, which
leaves an HttpOnly cookie): the team's outer gate.

Who someone is: once the workspace has accounts (`callaudit users add`), or when served beyond
loopback, everyone signs in (audit/workspace/accounts.py: a session cookie, HttpOnly,
SameSite=Strict, Secure over TLS; sessions expire; failed sign-ins throttled per name and
address). Their role decides what pages show and what they may do, and the store's transition
checks it again, so a forged form changes nothing. On loopback with no accounts the page is for
one person on this machine, as the CLI is: they type their name, and the page says how to add
accounts. An agent sees only their own calls, flags and scores (another agent's call is 404).

Every form carries a CSRF token (Flask-WTF), and Jinja2 escapes every text. Decisions go through
`Store.transition`, the same flow as `callaudit review`, one SQLite connection per request (WAL,
busy timeout), so two reviewers deciding at once both land.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote, unquote, urlencode

from flask import Flask, abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from audit.workspace.config import Config
from audit.errors import AuditError, AudioError
from audit.text.masking import mask_numbers
from audit.workspace import accounts
from audit.workspace.accounts import ROLE_LABELS, Account, SignInRefused
from audit.workspace.review_states import ReviewConflict, ReviewError, ReviewForbidden
from audit.detect.rules import RulePack, load_pack
from audit.workspace.store import Store
from audit.web.media import playable_audio
from audit.web.pages import (
    ACTION_LABELS, STATE_LABELS, ClipFilters, QueueFilters, agent_page, call_page, clip_library, queue_page,
)

log = logging.getLogger("audit")

TOKEN_COOKIE = "callaudit_token"  # + the port: browsers send a host's cookies to all its ports
MIN_TOKEN_LENGTH = 16
REVIEWER_COOKIE = "callaudit_reviewer"
SIGNIN_COOKIE = "callaudit_signin"  # + the port, as the token's
PUBLIC_ENDPOINTS = ("signin", "static")  # what an anonymous request may reach once sign-in is required
ADD_ACCOUNTS = "callaudit users add NAME --role reviewer|lead|agent|admin"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# a reason is asked for every step but a plain confirmation (the history keeps it)
REASON_REQUIRED = ("dismiss", "case", "appeal", "upheld", "overturned")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS


def check_binding(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token (AuditError saying why)."""
    if not is_loopback(host) and not token:
        raise AuditError(f"--host {host} lets other machines reach the recordings and decisions: "
                         "give --token TOKEN (or set CALLAUDIT_TOKEN); every request must then carry it")


@dataclass
class Site:
    config: Config
    token: str | None
    host: str = "127.0.0.1"  # the address served: beyond loopback, sign-in is required even before any account exists
    _pack: tuple[tuple | None, RulePack | None] = field(default=(None, None))
    pack_error: str | None = None

    def pack(self) -> RulePack | None:
        """The workspace's rule pack, reloaded when a rule file changes (None if it does not load)."""
        folder = self.config.rules
        stamp = tuple((f.name, f.stat().st_mtime_ns) for f in sorted(Path(folder).glob("*.y*ml")))
        if stamp != self._pack[0]:
            try:
                self._pack, self.pack_error = (stamp, load_pack(folder, [])), None
            except AuditError as exc:
                log.warning("review page: rule pack not loaded (%s); scores shown as the machine gave them", exc)
                self._pack, self.pack_error = (stamp, None), str(exc)
        return self._pack[1]

    @property
    def audio_cache(self) -> Path:
        return self.config.database.parent / ".callaudit-audio"


def create_app(config: Config, token: str | None = None, host: str = "127.0.0.1") -> Flask:
    """The review app for the workspace of `config`, served on `host`. With a token, every request
    must carry it; with accounts (or beyond loopback), every request but the sign-in page needs a session."""
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise AuditError(f"the token must be at least {MIN_TOKEN_LENGTH} characters (e.g. `openssl rand -hex 16`)")
    if not Path(config.database).exists():
        raise AuditError(f"no workspace database at {config.database}: run `callaudit nightly` first")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),  # per start: sessions and CSRF tokens end with the server
        SESSION_COOKIE_NAME="callaudit_session", SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None, MAX_CONTENT_LENGTH=256 * 1024,
    )
    site = Site(config, token or None, host)
    app.extensions["callaudit"] = site
    app.jinja_env.globals.update(ACTION_LABELS=ACTION_LABELS, STATE_LABELS=STATE_LABELS, ROLE_LABELS=ROLE_LABELS,
                                 ADD_ACCOUNTS=ADD_ACCOUNTS, clock=clock)
    app.jinja_env.filters["clock"] = clock

    @app.context_processor
    def pack_state():
        return {"pack_error": site.pack_error, "me": g.get("account"), "single_user": g.get("single_user", False)}

    @app.before_request
    def guard():
        if site.token is None:
            host = hostname(request.host or "")
            if not is_loopback(host):
                abort(400, f"this review page answers only to localhost, not to {host!r}")
            return None
        given = _bearer() or request.cookies.get(_token_cookie())
        query = request.args.get("token")
        if query is not None and hmac.compare_digest(query.encode(), site.token.encode()) and request.method in ("GET", "HEAD"):
            args = {k: v for k, v in request.args.items(multi=False) if k != "token"}
            # back to this same path on this site: the request's own path, never a URL from the query
            resp = redirect("/" + request.path.lstrip("/") + ("?" + urlencode(args) if args else ""), 303)
            resp.set_cookie(_token_cookie(), site.token, httponly=True, samesite="Strict")
            return resp
        if given is None or not hmac.compare_digest(given.encode(), site.token.encode()):
            abort(401, "this review page needs its token: open the address `callaudit serve` printed (…?token=…)")
        return None

    @app.before_request
    def who():
        """After the outer gate: the signed-in account, or the single local user, or a refusal."""
        st = store()
        g.single_user = is_loopback(site.host) and not accounts.accounts_exist(st)
        g.account = None if g.single_user else accounts.session_account(st, request.cookies.get(_signin_cookie()))
        if g.single_user or g.account is not None or request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if request.method in ("GET", "HEAD") and request.endpoint not in ("audio", None):
            return redirect(url_for("signin"), 303)
        abort(401, "请先登录 (sign in first)")

    CSRFProtect(app)  # after the token check: a request without the token is refused before anything else

    @app.teardown_appcontext
    def close_store(_exc):
        store = g.pop("store", None)
        if store is not None:
            store.close()

    @app.errorhandler(CSRFError)
    def csrf_refused(exc):
        return render_template("error.html", code=400, message=f"表单已失效或来自别的网站 ({exc.description})；请刷新页面再提交。"), 400

    for code in (400, 401, 403, 404, 409, 429):  # the error page says nothing of the workspace (pack_error=None)
        app.register_error_handler(code, lambda exc, code=code: (
            render_template("error.html", code=code, message=getattr(exc, "description", str(exc)), pack_error=None), code))

    @app.after_request
    def security_headers(resp):
        # only this site's own script, styles, audio; never framed (inline style attributes place the timeline)
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    @app.get("/")
    def home():
        return redirect(home_url())

    @app.route("/signin", methods=["GET", "POST"])
    def signin():
        if g.single_user:
            return render_template("signin.html", refused=None)
        if g.account is not None and request.method == "GET":
            return redirect(home_url())
        if request.method == "GET":
            return render_template("signin.html", refused=None)
        name, password = request.form.get("name", "").strip(), request.form.get("password", "")
        st, address = store(), request.remote_addr or ""
        try:
            account = accounts.sign_in(st, name, password, address)
        except SignInRefused as exc:
            known = accounts.find(st, name)  # the log names only real accounts: never what was typed (a password?)
            log.warning("review page: sign-in refused from %s%s%s", address, f" as {known.name}" if known else "",
                        " (throttled)" if exc.retry_after else "")
            resp = app.make_response((render_template("signin.html", refused=str(exc)),
                                      429 if exc.retry_after else 401))
            if exc.retry_after:
                resp.headers["Retry-After"] = str(exc.retry_after)
            return resp
        log.info("review page: %s (%s) signed in from %s", account.name, account.role, address)
        g.account = account
        resp = redirect(home_url(), 303)
        resp.set_cookie(_signin_cookie(), accounts.open_session(st, account), httponly=True, samesite="Strict",
                        secure=request.is_secure, path="/")
        return resp

    @app.post("/signout")
    def signout():
        accounts.close_session(store(), request.cookies.get(_signin_cookie()))
        resp = redirect(url_for("signin"), 303)
        resp.delete_cookie(_signin_cookie(), path="/", httponly=True, samesite="Strict", secure=request.is_secure)
        return resp

    @app.get("/queue")
    def queue():
        not_for_agents()
        a = request.args
        filters = QueueFilters(week=a.get("week") or None, day=a.get("day") or None, team=a.get("team", ""),
                               agent=a.get("agent", ""), category=a.get("category", ""), state=a.get("state", "waiting"))
        try:
            page = queue_page(store(), site.pack(), filters, config.mask_pii)
        except (AuditError, ValueError) as exc:
            abort(400, str(exc))
        return render_template("queue.html", page=page, states=list(STATE_LABELS))

    @app.get("/calls/<path:call_id>")
    def call(call_id: str):
        known_call(call_id)
        page = call_page(store(), site.pack(), config.weights, call_id, config.mask_pii, actor=g.account)
        if page is None:
            abort(404, f"call {call_id} is not in this workspace")
        return render_template("call.html", page=page, reviewer=reviewer())

    def send_to_bank(flag_key: str, action: str, by: str) -> None:
        """The decided flag's sentence into the sentence bank (a dismissal = a hard negative); the
        decision stands whatever the bank says."""
        from audit.reports.to_bank import flag_to_bank

        try:
            sent = flag_to_bank(config, flag_key, positive=action != "dismiss", by=by)
        except AuditError as exc:
            flash(f"未加入句库: {exc}", "error")
            return
        kind = "正例" if sent.positive else "反例"
        flash(f"句库 {sent.concept}: 「{sent.text}」" + (f" 已作为{kind}加入，下次训练生效" if sent.added else f" 已是{kind}"), "ok")

    @app.post("/flags/<flag_key>/review")
    def review(flag_key: str):
        st = store()
        flag = st.flag(flag_key)
        if flag is None:
            abort(404, f"flag {flag_key} is not in this workspace")
        row = known_call(flag["call_id"], f"flag {flag_key} is not in this workspace")
        action = request.form.get("action", "")
        seen = request.form.get("seen") or None  # the state the reviewer's page showed
        reason = request.form.get("reason", "").strip()
        me: Account | None = g.account
        by = me.name if me is not None else request.form.get("by", "").strip()  # signed in: never a typed name
        if request.form.get("back") == "agent":  # back where the form was: a known page, never a URL from the form
            back = redirect(url_for("agent", agent_id=row["agent_id"], _anchor=f"flag-{flag_key}"), 303)
        else:
            back = redirect(url_for("call", call_id=flag["call_id"], _anchor=f"flag-{flag_key}"), 303)
        if action not in ACTION_LABELS:
            abort(400, f"unknown action {action!r}")
        if not by:
            flash(f"{ACTION_LABELS[action]}: 请填写复核人 (who decides is recorded)", "error")
        elif action in REASON_REQUIRED and not reason:
            flash(f"{ACTION_LABELS[action]}: 请填写理由 (the reason is kept in the history)", "error")
        else:
            try:
                state = st.transition(flag_key, action, by, reason or None, seen_state=seen, actor=me)
                flash(f"{flag_key}: {ACTION_LABELS[action]} → {STATE_LABELS.get(state, state)}", "ok")
                if request.form.get("to_bank") and action in ("confirm", "dismiss", "case"):
                    send_to_bank(flag_key, action, by)
            except ReviewForbidden as exc:  # the role may not: refused by the store, whatever the form said
                log.warning("review page: %s (%s) refused: %s", by, me.role if me else "local", exc)
                abort(403, f"{ACTION_LABELS[action]}: 您的角色不能执行此操作 ({exc})")
            except ReviewConflict as exc:
                flash(f"未保存: {exc.by} 已于 {exc.at} 把此标记改为「{STATE_LABELS.get(exc.state, exc.state)}」。"
                      f"您的「{ACTION_LABELS[action]}」" + (f"及理由「{reason}」" if reason else "") + "没有提交，请看过后再决定。", "error")
            except ReviewError as exc:
                flash(str(exc), "error")
        if by and me is None:
            back.set_cookie(REVIEWER_COOKIE, quote(by), max_age=180 * 86400, httponly=True, samesite="Strict")
        return back

    @app.get("/agents/<path:agent_id>")
    def agent(agent_id: str):
        me: Account | None = g.account
        own = me is not None and me.role == "agent"
        if own and agent_id != me.agent_id:
            abort(404, f"agent {agent_id} is not in this workspace")  # an agent sees only their own week
        try:
            page = agent_page(store(), site.pack(), config.weights, agent_id, request.args.get("week") or None, config.mask_pii,
                              actor=me)
        except AuditError as exc:
            abort(400, str(exc))
        if page.row is None and not page.calls and not own:
            abort(404, f"agent {agent_id} has no scored calls in {page.week}")
        return render_template("agent.html", page=page)

    @app.get("/clips")
    def clips():
        not_for_agents()
        a = request.args
        try:
            weeks = max(1, min(52, int(a.get("weeks", 4))))
        except ValueError:
            weeks = 4
        filters = ClipFilters(weeks=weeks, kind=a.get("kind", "case"), category=a.get("category", ""),
                              topic=a.get("topic", ""), agent=a.get("agent", ""), text=a.get("q", "").strip())
        page = clip_library(store(), site.pack(), filters, config.clip_padding, config.mask_pii)
        return render_template("clips.html", page=page)

    @app.get("/audio/<path:call_id>")
    def audio(call_id: str):
        row = known_call(call_id)  # only a known call's own file: nothing of the request becomes a path
        try:
            media = playable_audio(config.recording_root, row["audio_path"], site.audio_cache)
        except AudioError as exc:  # the detail names files (callers' numbers in file names): logged, shown masked
            log.warning("review page: audio of call %s: %s", call_id, exc)
            abort(404, f"call {call_id}: recording not playable ({mask_numbers(str(exc)) if config.mask_pii else exc})")
        # conditional: Range requests get 206 with Content-Range (seeking), ETag/Last-Modified 304s
        resp = send_file(media.path, mimetype=media.mimetype, conditional=True, max_age=3600)
        resp.cache_control.public = False
        resp.cache_control.private = True  # recordings hold personal data: no shared caches
        return resp

    return app


def home_url() -> str:
    """Where someone lands: an agent on their own week, everyone else on the queue."""
    me: Account | None = g.get("account")
    if me is not None and me.role == "agent":
        return url_for("agent", agent_id=me.agent_id)
    return url_for("queue")


def known_call(call_id: str, missing: str | None = None) -> dict:
    """The call's index row; 404 when unknown, or when a signed-in agent asks for someone else's
    (the same answer: an agent learns nothing of other agents' calls)."""
    row = store().call(call_id)
    me: Account | None = g.get("account")
    if row is None or (me is not None and me.role == "agent" and str(row["agent_id"]) != str(me.agent_id)):
        abort(404, missing or f"call {call_id} is not in this workspace")
    return row


def not_for_agents() -> None:
    me: Account | None = g.get("account")
    if me is not None and me.role == "agent":
        abort(403, "座席只能查看自己的一周：得分、通话与标记")


def store() -> Store:
    if "store" not in g:
        g.store = Store(current_site().config.database)
    return g.store


def current_site() -> Site:
    from flask import current_app

    return current_app.extensions["callaudit"]


def hostname(host_header: str) -> str:
    """'127.0.0.1:8765' -> '127.0.0.1', '[::1]:8765' -> '::1', 'localhost' -> 'localhost'."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def reviewer() -> str:
    return unquote(request.cookies.get(REVIEWER_COOKIE, ""))


def _signin_cookie() -> str:
    return f"{SIGNIN_COOKIE}_{request.environ.get('SERVER_PORT', '')}"


def _token_cookie() -> str:
    return f"{TOKEN_COOKIE}_{request.environ.get('SERVER_PORT', '')}"


def _bearer() -> str | None:
    auth = request.headers.get("Authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def clock(seconds) -> str:
    if seconds is None:
        return ""
    s = float(seconds)
    return f"{int(s // 60):02d}:{s % 60:04.1f}"


AUDIO_CACHE_DAYS = 7


def prune_audio_cache(folder: Path, days: int = AUDIO_CACHE_DAYS) -> None:
    """Decoded copies are for listening now, not an archive: drop those unused for a week
    (they never outlive the retention of the recordings by more than that). Use touches them."""
    import time

    if folder.is_dir():
        for f in folder.glob("*.wav"):
            if time.time() - f.stat().st_mtime > days * 86400:
                f.unlink(missing_ok=True)


def serve(config: Config, host: str, port: int, token: str | None, threads: int = 4,
          announce: Callable[[int], None] = lambda port: None) -> None:
    """Run the app with waitress (a production WSGI server: threads, no debug hooks) until Ctrl-C.
    `announce(port)` is called once the port is bound (port 0 = any free one)."""
    from waitress.server import create_server

    check_binding(host, token)
    app = create_app(config, token, host)
    prune_audio_cache(app.extensions["callaudit"].audio_cache)
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="callaudit")
    except OSError as exc:
        raise AuditError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); is another server using it? try --port") from exc
    announce(server.effective_port)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
