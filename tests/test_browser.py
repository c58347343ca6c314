"""The review page in a real headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium; nothing downloaded): queue -> call -> the audio loads -> clicking a turn moves
playback -> dismiss a flag with a reason -> reload, the decision is there -> the agent's week
score went up. Also takes the README's screenshot (CALLAUDIT_SCREENSHOT=PATH copies it there)."""

import os
import shutil
import sqlite3
import threading

import pytest

from tests.test_web import app_for, web_night, web_ws  # noqa: F401 (fixtures: a scored demo workspace)

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="no Chromium/chromedriver on this machine (apt-get install chromium chromium-driver; "
                              "as root scripts/ci-system-deps.sh installs them)"),
]


@pytest.fixture
def server(web_ws):  # noqa: F811
    from waitress.server import create_server

    srv = create_server(app_for(web_ws), host="127.0.0.1", port=0, threads=4)

    def run():
        try:
            srv.run()
        except OSError:  # socket closed at teardown
            pass

    threading.Thread(target=run, daemon=True).start()
    yield f"http://127.0.0.1:{srv.effective_port}", web_ws
    srv.close()


@pytest.fixture
def browser(tmp_path):
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio",
                "--window-size=1440,1100", "--autoplay-policy=no-user-gesture-required", "--lang=zh-CN",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):  # its profile goes with the test
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for(driver, condition, timeout=30.0, what="condition"):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d), message=f"waited for {what}")


def test_review_in_the_browser(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    base, ws = server
    db = sqlite3.connect(ws / "callaudit.db")
    # a flag whose dismissal changes the week's score: a guess (two per call: under the per-rule cap)
    key, call_id, agent = db.execute(
        """SELECT f.flag_key, f.call_id, c.agent_id FROM flags f JOIN calls c USING (call_id)
           WHERE f.category = 'answer.hedging' AND f.review_only = 0 ORDER BY f.call_id, f.start LIMIT 1""").fetchone()

    browser.get(f"{base}/agents/{agent}")
    week_total_before = float(browser.find_element(By.ID, "agent-total").text)

    # the queue, then the call from its row
    browser.get(f"{base}/queue")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
    assert len(rows) > 3
    browser.find_element(By.CSS_SELECTOR, f'a.call-link[href$="#flag-{key}"]').click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "player"), what="the call page")
    assert call_id in browser.title

    # the audio element loads (range requests let it read the header and seek)
    duration = wait_for(browser, lambda d: d.execute_script(
        "const p = document.getElementById('player'); return p.readyState >= 1 && p.duration > 0 ? p.duration : null;"),
        what="audio metadata")
    assert duration > 10

    # clicking a turn moves playback to it
    turns = browser.find_elements(By.CSS_SELECTOR, "li.turn[data-start]")
    target = max(turns, key=lambda t: float(t.get_attribute("data-start")))
    start = float(target.get_attribute("data-start"))
    assert start > 5
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", target)
    target.find_element(By.CSS_SELECTOR, ".text").click()
    now = wait_for(browser, lambda d: (lambda t: t if t >= start - 0.5 else None)(
        d.execute_script("return document.getElementById('player').currentTime;")), what="playback to move")
    assert start - 0.5 <= now <= start + 5
    assert browser.execute_script("return document.getElementById('player').error") is None

    # a flag's ▶ and its mark on the timeline play from the flag
    card = browser.find_element(By.ID, f"flag-{key}")
    flag_start = float(card.find_element(By.CSS_SELECTOR, "button.play").get_attribute("data-start"))
    for where in (card.find_element(By.CSS_SELECTOR, "button.play"), browser.find_element(By.CSS_SELECTOR, f'a.mark[href="#flag-{key}"]')):
        browser.execute_script("document.getElementById('player').pause(); document.getElementById('player').currentTime = 0;")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", where)
        where.click()
        wait_for(browser, lambda d: abs(d.execute_script("return document.getElementById('player').currentTime;") - flag_start) < 3
                 and d.execute_script("return document.getElementById('player').currentTime;") >= flag_start - 0.5,
                 what="playback at the flag")

    # Enter in the reason field decides nothing (a decision is a button); then dismiss with a reason
    assert card.find_element(By.CSS_SELECTOR, ".state").get_attribute("data-state") == "pending"
    card.find_element(By.NAME, "by").clear()
    card.find_element(By.NAME, "by").send_keys("王组长")
    card.find_element(By.NAME, "reason").send_keys("坐席给了明确时限, 不算含糊\n")
    browser.execute_script("return new Promise(r => setTimeout(r, 800));")
    assert not browser.find_elements(By.CSS_SELECTOR, ".notice")
    assert db.execute("SELECT COUNT(*) FROM review_events").fetchone()[0] == 0
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", card)
    card.find_element(By.CSS_SELECTOR, 'button[value="dismiss"]').click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".notice.ok"), what="the decision's notice")

    # reload: the decision is stored, with who and why
    browser.refresh()
    card = wait_for(browser, lambda d: d.find_element(By.ID, f"flag-{key}"), what="the flag after reload")
    assert card.find_element(By.CSS_SELECTOR, ".state").get_attribute("data-state") == "dismissed"
    assert "王组长" in card.text and "坐席给了明确时限" in card.text
    assert db.execute("SELECT state FROM reviews WHERE flag_key = ?", (key,)).fetchone()[0] == "dismissed"

    # the screenshot for the README: the call page, the flags beside the transcript
    browser.execute_script("window.scrollTo(0, 0);")
    shot = tmp_path / "review-page.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    if os.environ.get("CALLAUDIT_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["CALLAUDIT_SCREENSHOT"])

    # the week's score changed
    browser.get(f"{base}/agents/{agent}")
    assert float(browser.find_element(By.ID, "agent-total").text) > week_total_before


def _sign_in(driver, base, name, password):
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base}/signin")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "signed-in-as"), what=f"{name} signed in")
    assert driver.find_element(By.ID, "signed-in-as").text.startswith(name)


def _sign_out(driver):
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, "button.signout").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "form.signin"), what="the sign-in page")


def test_appeal_by_people_and_roles_in_the_browser(server, browser):
    """A reviewer confirms; the agent signs in, sees only their calls and appeals; a reviewer cannot
    settle it (no button, and a forged one is refused); a lead settles it; the history names all three."""
    from selenium.webdriver.common.by import By

    from audit.workspace import accounts
    from audit.workspace.store import Store

    base, ws = server
    db = sqlite3.connect(ws / "callaudit.db")
    key, call_id, agent, team = db.execute(
        """SELECT f.flag_key, f.call_id, c.agent_id, c.team FROM flags f JOIN calls c USING (call_id)
           WHERE f.review_only = 0 ORDER BY f.call_id, f.start LIMIT 1""").fetchone()
    mine = {r[0] for r in db.execute("SELECT call_id FROM calls WHERE agent_id = ?", (agent,))}
    with Store(ws / "callaudit.db") as store:
        accounts.add_account(store, "王质检", "reviewer", "reviewer-pass-1")
        accounts.add_account(store, "李主管", "lead", "lead-pass-22", team=team)
        accounts.add_account(store, "座席甲", "agent", "agent-pass-333", agent_id=agent)

    # anonymous: the sign-in page, nothing else
    browser.get(f"{base}/queue")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "form.signin"), what="the sign-in page")

    # the reviewer confirms the flag
    _sign_in(browser, base, "王质检", "reviewer-pass-1")
    browser.get(f"{base}/calls/{call_id}")
    card = browser.find_element(By.ID, f"flag-{key}")
    assert not card.find_elements(By.NAME, "by")  # who decides is the account, not a typed name
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", card)
    card.find_element(By.CSS_SELECTOR, 'button[value="confirm"]').click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".notice.ok"), what="the confirmation")
    _sign_out(browser)

    # the agent lands on their own week, sees only their calls, appeals the confirmed flag
    _sign_in(browser, base, "座席甲", "agent-pass-333")
    assert browser.current_url.rstrip("/").endswith(f"/agents/{agent}")
    assert browser.find_element(By.ID, "agent-total").text
    shown = {a.get_attribute("href").split("/calls/")[1].split("#")[0]
             for a in browser.find_elements(By.CSS_SELECTOR, 'a[href*="/calls/"]')}
    assert shown and shown <= mine
    other = db.execute("SELECT call_id FROM calls WHERE agent_id != ? LIMIT 1", (agent,)).fetchone()[0]
    browser.get(f"{base}/calls/{other}")
    assert "404" in browser.find_element(By.TAG_NAME, "h1").text
    browser.get(f"{base}/agents/{agent}")
    row = browser.find_element(By.ID, f"flag-{key}").find_element(By.XPATH, "..")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", row)
    row.find_element(By.NAME, "reason").send_keys("客户已先挂断，不是我没说结束语")
    row.find_element(By.CSS_SELECTOR, 'button[value="appeal"]').click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".notice.ok"), what="the appeal")
    assert db.execute("SELECT state FROM reviews WHERE flag_key = ?", (key,)).fetchone()[0] == "appealed"
    _sign_out(browser)

    # the reviewer is offered no settling; a forged button is refused by the server
    _sign_in(browser, base, "王质检", "reviewer-pass-1")
    browser.get(f"{base}/calls/{call_id}")
    card = browser.find_element(By.ID, f"flag-{key}")
    assert card.find_element(By.CSS_SELECTOR, ".state").get_attribute("data-state") == "appealed"
    assert not card.find_elements(By.CSS_SELECTOR, 'button[value="upheld"], button[value="overturned"]')
    form_html = browser.execute_script(
        """const card = arguments[0]; const f = document.createElement('form'); f.method = 'post';
           f.action = '/flags/' + card.dataset.flag + '/review';
           f.innerHTML = '<input name="csrf_token"><input name="action" value="upheld"><input name="reason" value="伪造">';
           f.querySelector('[name=csrf_token]').value = document.querySelector('input[name=csrf_token]').value;
           document.body.appendChild(f); f.submit(); return f.getAttribute('action');""", card)
    assert key in form_html
    wait_for(browser, lambda d: "403" in d.find_element(By.TAG_NAME, "h1").text, what="the refusal")
    assert db.execute("SELECT state FROM reviews WHERE flag_key = ?", (key,)).fetchone()[0] == "appealed"
    browser.get(f"{base}/calls/{call_id}")
    _sign_out(browser)

    # the lead settles it
    _sign_in(browser, base, "李主管", "lead-pass-22")
    browser.get(f"{base}/calls/{call_id}")
    card = browser.find_element(By.ID, f"flag-{key}")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", card)
    card.find_element(By.NAME, "reason").send_keys("录音末尾客户已挂断")
    card.find_element(By.CSS_SELECTOR, 'button[value="overturned"]').click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".notice.ok"), what="the settlement")
    card = browser.find_element(By.ID, f"flag-{key}")
    assert card.find_element(By.CSS_SELECTOR, ".state").get_attribute("data-state") == "overturned"
    history = [li.text for li in card.find_elements(By.CSS_SELECTOR, "ul.history li")]
    assert len(history) == 3
    for line, who in zip(history, ("王质检 (质检员)", "座席甲 (座席)", "李主管 (质检主管)")):
        assert who in line, history
    assert [r[0] for r in db.execute("SELECT by FROM review_events WHERE flag_key = ? ORDER BY id", (key,))] == ["王质检", "座席甲", "李主管"]
