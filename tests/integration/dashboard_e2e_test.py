#!/usr/bin/python3
"""End-to-end test of provd's web dashboard in headless Chromium (Selenium + chromedriver).

A real provd process serves the dashboard on a free loopback port; prov-eval-gen writes a small
scenario (compute tiers scaled down); provctl imports its identities with the admin token from
<data-dir>/admin.token and issues an analyst and a viewer token. Then, with the page open:
  - an anonymous visitor sees only the login form and the API answers 401;
  - the flag queue is empty; prov-sim replays the scenario; a bundle crossing a compute tier
    appears in the queue without a reload (a marker set on window survives);
  - the overview shows the fleet's real node count; the flag's detail page shows its evidence
    chain, graph and timeline; an analyst acknowledges it;
  - a viewer sees the case read-only and gets 403 when trying to change it anyway.
Screenshots (PNG) of each view go to --artifacts. Bounded: the whole run aborts after 170 s, and
every subprocess (provd, prov-sim, chromium) is stopped on the way out.

  tests/integration/dashboard_e2e_test.py --bin-dir build/release/bin \
      --artifacts build/release/test-artifacts/dashboard
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

DEADLINE_S = 170
START = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - START:6.1f}s] {msg}", flush=True)


class Run:
    def __init__(self, args):
        self.args = args
        self.bin = args.bin_dir
        self.tmp = tempfile.mkdtemp(prefix="prov_dashboard_")
        self.data = os.path.join(self.tmp, "data")
        self.procs = []
        self.driver = None
        self.shots = []
        os.makedirs(args.artifacts, exist_ok=True)

    # ---- processes -------------------------------------------------------------------------
    def spawn(self, argv, log_name):
        out = open(os.path.join(self.tmp, log_name), "w")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        return p

    def run(self, argv, timeout=60):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def provctl(self, *args, token_file=None):
        argv = [os.path.join(self.bin, "provctl"), "--server", self.grpc, "--insecure",
                "--token-file", token_file or self.admin_token_file, *args]
        return self.run(argv)

    def start_provd(self):
        scenario = os.path.join(self.tmp, "scenario")
        self.run([os.path.join(self.bin, "prov-eval-gen"), "--out", scenario, "--preset", "small",
                  "--no-traces"])
        self.scenario = scenario
        port_file = os.path.join(self.tmp, "provd.port")
        self.provd_log = os.path.join(self.tmp, "provd.log")
        self.provd = self.spawn([os.path.join(self.bin, "provd"), "--data-dir", self.data,
                                 "--insecure", "--listen", "127.0.0.1:0", "--port-file", port_file,
                                 "--metrics-listen", "", "--web-listen", "127.0.0.1:0",
                                 "--policy", os.path.join(scenario, "policy.yaml"),
                                 # prov-sim replays at 240x: credit the reports' own timeline
                                 "--ledger-clock", "report"], "provd.log")
        deadline = time.monotonic() + 20
        web = None
        while time.monotonic() < deadline and self.provd.poll() is None:
            text = open(self.provd_log).read()
            m = re.search(r"dashboard on http://([0-9.]+):(\d+)/", text)
            if m and os.path.exists(port_file) and open(port_file).read().strip():
                web = int(m.group(2))
                break
            time.sleep(0.05)
        if web is None:
            raise AssertionError("provd did not start:\n" + open(self.provd_log).read())
        self.grpc = "127.0.0.1:" + open(port_file).read().strip()
        self.url = f"http://127.0.0.1:{web}/"
        self.admin_token_file = os.path.join(self.data, "admin.token")
        log(f"provd serving gRPC {self.grpc}, dashboard {self.url}")
        self.provctl("accounts", "import", os.path.join(scenario, "accounts.csv"))
        self.provctl("screening", "import", os.path.join(scenario, "csl.csv"))
        self.tokens = {}
        for name, role in (("alice", "analyst"), ("bob", "viewer")):
            issued = json.loads(self.provctl("tokens", "issue", name, "--role", role, "-o", "json"))
            self.tokens[role] = issued["token"]
        with open(os.path.join(scenario, "scenario.json")) as f:
            self.node_count = len(json.load(f)["nodes"])

    def start_sim(self):
        return self.spawn([os.path.join(self.bin, "prov-sim"), "--server", self.grpc, "--insecure",
                           "--scenario", os.path.join(self.scenario, "scenario.json"),
                           "--time-scale", "240"], "prov-sim.log")

    # ---- browser ---------------------------------------------------------------------------
    def start_browser(self):
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--window-size=1366,768", "--force-device-scale-factor=1", "--lang=en-US"):
            opts.add_argument(a)
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        self.driver.set_script_timeout(20)
        self.wait = WebDriverWait(self.driver, 30)

    def shot(self, name):
        """A full-page PNG (Chrome DevTools capture beyond the viewport)."""
        d = self.driver
        time.sleep(0.3)  # let the last render and the highlight animation start paint
        size = d.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = d.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000),
                     "scale": 1}})
        path = os.path.join(self.args.artifacts, f"{len(self.shots) + 1:02d}-{name}.png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        self.shots.append(path)
        log(f"screenshot {path}")

    def element_shot(self, selector, name):
        el = self.driver.find_element(By.CSS_SELECTOR, selector)
        # The sticky header would cover the element's top edge: take it out of the flow meanwhile.
        self.driver.execute_script("document.getElementById('topbar').style.position = 'static';"
                                   "arguments[0].scrollIntoView()", el)
        path = os.path.join(self.args.artifacts, f"{len(self.shots) + 1:02d}-{name}.png")
        el.screenshot(path)
        self.driver.execute_script("document.getElementById('topbar').style.position = ''")
        self.shots.append(path)
        log(f"screenshot {path}")

    def js_text(self, selector):
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''", selector)

    def fetch(self, path, token=None, method="GET", body=None):
        """fetch() from inside the page; returns [status, text]."""
        return self.driver.execute_async_script("""
            const [path, token, method, body, done] = arguments;
            const headers = token ? {Authorization: 'Bearer ' + token} : {};
            if (body) headers['Content-Type'] = 'application/json';
            fetch(path, {method, headers, body: body || undefined})
              .then(async r => done([r.status, await r.text()]))
              .catch(e => done([0, String(e)]));""", path, token, method, body)

    def css(self, selector, timeout=30):
        return WebDriverWait(self.driver, timeout).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, selector)))

    def login(self, token):
        d = self.driver
        d.get(self.url)
        field = self.css("#token-input")
        field.send_keys(token)
        d.find_element(By.ID, "login-button").click()
        self.css("#overview")

    def sign_out(self):
        self.driver.find_element(By.ID, "sign-out").click()
        self.css("#token-input")

    # ---- the test ----------------------------------------------------------------------------
    def test(self):
        self.start_provd()
        self.start_browser()
        d = self.driver

        # Anonymous: the login form, no data; the API refuses.
        d.get(self.url)
        self.css("#token-input")
        assert not d.find_elements(By.ID, "overview"), "overview shown without a token"
        status, text = self.fetch("/api/overview")
        assert status == 401 and "UNAUTHENTICATED" in text and "nodes" not in text, (status, text)
        status, _ = self.fetch("/api/events")
        assert status == 401, status
        status, _ = self.fetch("/api/flags", token="prov_" + "0" * 64)
        assert status == 401, status
        self.shot("login")

        # Analyst: an empty queue, then prov-sim pushes a bundle across a compute tier.
        self.login(self.tokens["analyst"])
        self.wait.until(lambda _: "live" == d.find_element(By.ID, "live-state").text)
        self.css("#stat-nodes")
        self.shot("overview-empty")
        d.get(self.url + "#/flags")
        self.css("#flag-queue, #flag-queue-page .empty")  # the screening import's flags, or none
        assert "compute_tier:" not in d.find_element(By.ID, "flag-queue-page").text
        d.execute_script("window.__noReload = 'still here'")
        sim = self.start_sim()
        log("prov-sim started; waiting for a compute-tier flag in the open queue")
        # The table is redrawn on every pushed flag, so read the row's id in one script call.
        flag_id = WebDriverWait(d, 60).until(lambda _: d.execute_script("""
            for (const tr of document.querySelectorAll('#flag-queue tbody tr'))
              if (tr.textContent.includes('compute_tier:')) return tr.dataset.flagId;
            return null;"""))
        assert d.execute_script("return window.__noReload") == "still here", "the page reloaded"
        log(f"{flag_id} appeared in the queue without a reload")
        self.shot("flag-queue-live")
        if sim.wait(timeout=60) != 0:
            raise AssertionError("prov-sim failed:\n" + open(os.path.join(self.tmp, "prov-sim.log")).read())

        # Overview with real numbers (the live feed's overview ticks keep it current).
        d.find_element(By.CSS_SELECTOR, "[data-nav=overview]").click()
        WebDriverWait(d, 20).until(lambda _: d.find_element(
            By.CSS_SELECTOR, "#stat-nodes .value").text == str(self.node_count))
        accel = d.find_element(By.CSS_SELECTOR, "#stat-accelerators .value").text
        assert int(accel.replace(",", "")) > 0, accel
        assert d.find_elements(By.CSS_SELECTOR, "#datacenters tbody tr"), "no data centres"
        self.shot("overview")

        # The flag's detail page: evidence chain, graph, timeline, compute range.
        d.get(self.url + f"#/flag/{flag_id}")
        self.css("#evidence-chain li")
        kinds = {li.get_attribute("data-kind") for li in d.find_elements(By.CSS_SELECTOR, "#evidence-chain li")}
        assert "compute" in kinds and "link" in kinds, kinds
        nodes = d.find_elements(By.CSS_SELECTOR, "#evidence-graph g.node")
        edges = d.find_elements(By.CSS_SELECTOR, "#evidence-graph line.edge")
        assert len(nodes) >= 2 and edges, (len(nodes), len(edges))
        self.css("#evidence-timeline rect.tl-bar")
        assert "FLOP" in d.find_element(By.ID, "compute-range").text
        assert d.find_elements(By.CSS_SELECTOR, "#accounts-kyc tbody tr")
        self.shot("flag-detail")
        self.element_shot("#graph-card", "evidence-graph")
        self.element_shot("#timeline-card", "evidence-timeline")

        # Analyst works the case.
        d.find_element(By.ID, "case-note").send_keys("looking into the shared job")
        d.find_element(By.CSS_SELECTOR, "[data-action=acknowledge]").click()
        # Live updates redraw parts of the page, so read what is shown in one script call each.
        WebDriverWait(d, 20).until(lambda _: "acknowledged" in self.js_text("#case-status"))
        WebDriverWait(d, 20).until(lambda _: "token:alice" in self.js_text("#case-history"))
        self.shot("flag-acknowledged")

        # Bundle, account and hardware views.
        bundle = d.execute_script(
            "return document.querySelector('#flag-detail a[href^=\"#/bundle/\"]').getAttribute('href')")
        d.get(self.url + bundle)
        self.css("#bundle-detail #evidence-graph")
        self.shot("bundle")
        account = self.js_text("#accounts-kyc tbody tr a")
        d.get(self.url + f"#/account/{account}")
        self.css("#usage-card svg rect")
        self.css("#identity-card dl")
        self.shot("account")
        d.get(self.url + "#/hardware")
        self.css("#restricted-card tbody tr")
        assert d.find_elements(By.CSS_SELECTOR, "#model-table .tag-restricted"), "restricted model not marked"
        d.find_element(By.XPATH, "//table[@id='model-table']//tr[.//span[contains(@class,'tag-restricted')]]").click()
        self.css("#device-list table tbody tr")
        assert "19e5" in d.find_element(By.ID, "device-list").text.lower()
        self.shot("hardware")

        # Viewer: reads the case, cannot change it (no buttons, and provd says 403 anyway).
        self.sign_out()
        self.login(self.tokens["viewer"])
        d.get(self.url + f"#/flag/{flag_id}")
        self.css("#case-readonly")
        assert not d.find_elements(By.CSS_SELECTOR, "[data-action]"), "viewer sees case actions"
        status, text = self.fetch(f"/api/cases/{flag_id}", token=self.tokens["viewer"], method="POST",
                                  body=json.dumps({"action": "escalate"}))
        assert status == 403 and "PERMISSION_DENIED" in text, (status, text)
        status, text = self.fetch(f"/api/flags/{flag_id}", token=self.tokens["viewer"])
        assert status == 200 and "FLAG_STATUS_ACKNOWLEDGED" in text, (status, text[:200])
        self.shot("viewer-flag-detail")

    def close(self):
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if self.procs and self.provd.returncode not in (0, None):
            log(f"provd exited with {self.provd.returncode}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    for tool in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.path.exists(tool):
            print(f"FAIL: {tool} is missing (Debian packages chromium, chromium-driver)")
            return 1

    def on_alarm(*_):
        raise TimeoutError(f"dashboard test exceeded {DEADLINE_S} s")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(DEADLINE_S)
    run = Run(args)
    ok = False
    try:
        run.test()
        ok = True
    except Exception as e:  # noqa: BLE001 - report any failure, then clean up
        print(f"FAIL: {type(e).__name__}: {e}")
        if run.driver is not None:
            try:
                run.shot("failure")
            except Exception:  # noqa: BLE001
                pass
        if os.path.exists(os.path.join(run.tmp, "provd.log")):
            print("---- provd.log (tail) ----")
            print(open(os.path.join(run.tmp, "provd.log")).read()[-4000:])
    finally:
        signal.alarm(0)
        run.close()
        if not args.keep:
            shutil.rmtree(run.tmp, ignore_errors=True)
    print("screenshots:")
    for s in run.shots:
        print("  " + s)
    log("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
