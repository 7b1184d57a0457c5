#!/usr/bin/python3
"""The hardware page's inventory view and the node view in headless Chromium (issue 10).

A real provd process serves the dashboard on a free loopback port. The real prov-agent reports the
committed example node (tests/fixtures/agent/example-node) with serials on its cards (its second
H100 turned into an Ascend 910B) and an SMBIOS identity; then it reports again from "another
machine" (new system UUID and board serial, new boot) under the same node id. provctl imports a
declared inventory (the two cards, a card that never reports, and 230 cards of a rack elsewhere
so the rows take three pages). With a viewer token in the browser:
  - the inventory card lists the data centre with its counts; a click shows its racks, its rows
    (the relabelled card observed as an Ascend 910B on its node, with the differences) and pages
    through 100-row pages; a rack click narrows the rows;
  - the node view shows the SMBIOS identity and the change old -> new;
  - the flag-linking module, run inside the page, links rows to open hardware_* flags by subject
    (accelerator:<serial>, node:<declared or observed node>), never to resolved or other rules.
Screenshots go to --artifacts. Bounded: the run aborts after 150 s; every process is stopped.

  tests/integration/dashboard_inventory_e2e_test.py --bin-dir build/release/bin \
      --source-dir . --artifacts build/release/test-artifacts/dashboard-inventory
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

DEADLINE_S = 150
START = time.monotonic()
NODE_ID = "4c6f1e2d9a8b7c6d5e4f3a2b1c0d9e8f"  # the example node's machine-id
UUID_OLD = "4c4c4544-0042-3510-8052-b4c04f384d32"
UUID_NEW = "9b2e7c1a-5d4f-4e3a-8c2b-1f0e9d8c7b6a"


def log(msg):
    print(f"[{time.monotonic() - START:6.1f}s] {msg}", flush=True)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.remove(path)
    with open(path, "w") as f:
        f.write(text)


class Run:
    def __init__(self, args):
        self.args = args
        self.bin = args.bin_dir
        self.tmp = tempfile.mkdtemp(prefix="prov_dash_inventory_")
        self.data = os.path.join(self.tmp, "data")
        self.procs = []
        self.driver = None
        self.shots = []
        os.makedirs(args.artifacts, exist_ok=True)

    def spawn(self, argv, log_name):
        out = open(os.path.join(self.tmp, log_name), "w")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=15)

    def run(self, argv, timeout=60, ok_codes=(0,)):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if r.returncode not in ok_codes:
            raise AssertionError(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def provctl(self, *args):
        return self.run([os.path.join(self.bin, "provctl"), "--server", self.grpc, "--insecure",
                         "--token-file", os.path.join(self.data, "admin.token"), *args])

    def start_provd(self):
        port_file = os.path.join(self.tmp, "provd.port")
        self.provd_log = os.path.join(self.tmp, "provd.log")
        self.provd = self.spawn([os.path.join(self.bin, "provd"), "--data-dir", self.data,
                                 "--insecure", "--listen", "127.0.0.1:0", "--port-file", port_file,
                                 "--metrics-listen", "", "--web-listen", "127.0.0.1:0"], "provd.log")
        deadline = time.monotonic() + 20
        web = None
        while time.monotonic() < deadline and self.provd.poll() is None:
            m = re.search(r"dashboard on http://([0-9.]+):(\d+)/", open(self.provd_log).read())
            if m and os.path.exists(port_file) and open(port_file).read().strip():
                web = int(m.group(2))
                break
            time.sleep(0.05)
        if web is None:
            raise AssertionError("provd did not start:\n" + open(self.provd_log).read())
        self.grpc = "127.0.0.1:" + open(port_file).read().strip()
        self.url = f"http://127.0.0.1:{web}/"
        log(f"provd serving gRPC {self.grpc}, dashboard {self.url}")

    def reports_stored(self):
        nodes = json.loads(self.provctl("nodes", "-o", "json")).get("nodes", [])
        return sum(int(n.get("reports_stored", 0)) for n in nodes if n["node_id"] == NODE_ID)

    def report_from(self, node, system_uuid, board_serial, boot_id):
        """Runs the real prov-agent on the fixture tree until provd stored one more report."""
        write(os.path.join(node, "sys/class/dmi/id/product_uuid"), system_uuid.upper() + "\n")
        write(os.path.join(node, "sys/class/dmi/id/board_serial"), board_serial + "\n")
        write(os.path.join(node, "proc/sys/kernel/random/boot_id"), boot_id + "\n")
        before = self.reports_stored()
        agent = self.spawn([os.path.join(self.bin, "prov-agent"), "--server", self.grpc,
                            "--insecure", "--interval=1s",
                            "--spool-dir", os.path.join(self.tmp, "spool"),
                            "--sysfs-root", os.path.join(node, "sys"),
                            "--procfs-root", os.path.join(node, "proc"),
                            "--machine-id-file", os.path.join(node, "etc/machine-id"),
                            "--datacenter", "fra1",
                            "--nvml-library", "/nonexistent/libnvidia-ml.so.1"], "agent.log")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.reports_stored() <= before:
            time.sleep(0.2)
        self.stop(agent)
        if self.reports_stored() <= before:
            raise AssertionError("the agent's report was not stored:\n" +
                                 open(os.path.join(self.tmp, "agent.log")).read())

    def seed(self):
        node = os.path.join(self.tmp, "node")
        shutil.copytree(os.path.join(self.args.source_dir, "tests/fixtures/agent/example-node"),
                        node, symlinks=True)
        pci = os.path.join(node, "sys/bus/pci/devices")
        write(os.path.join(pci, "0000:18:00.0/serial_number"), "SN-H100-0001\n")
        write(os.path.join(pci, "0000:3b:00.0/vendor"), "0x19e5\n")
        write(os.path.join(pci, "0000:3b:00.0/device"), "0xd802\n")
        write(os.path.join(pci, "0000:3b:00.0/serial_number"), "SN-ASC-0002\n")
        self.report_from(node, UUID_OLD, "BRD-OLD-1", "11111111-2222-3333-4444-555555555555")
        self.report_from(node, UUID_NEW, "BRD-NEW-2", "66666666-7777-8888-9999-000000000000")
        log("the agent reported from two machines under one node id")
        csv = os.path.join(self.tmp, "netbox.csv")
        lines = ["serial,declared_model,vendor_id,device_id,node_id,datacenter,rack,account,status",
                 f"SN-H100-0001,H100 SXM5 80GB,0x10de,0x2330,{NODE_ID},fra1,r12,acme,in_service",
                 f"SN-ASC-0002,A100 SXM4 80GB,0x10de,0x20b2,{NODE_ID},fra1,r12,acme,in_service",
                 "SN-DARK-0003,H100 SXM5 80GB,0x10de,0x2330,node-dark,fra1,r13,,in_service"]
        lines += [f"SN-R20-{i:04d},H100 SXM5 80GB,0x10de,0x2330,node-r20-{i // 8:03d},fra1,r20,,spare"
                  for i in range(230)]
        write(csv, "\n".join(lines) + "\n")
        out = self.provctl("inventory", "import", csv)
        assert "233 rows accepted" in out, out
        issued = json.loads(self.provctl("tokens", "issue", "vera", "--role", "viewer", "-o", "json"))
        self.viewer = issued["token"]

    def start_browser(self):
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--window-size=1500,900", "--force-device-scale-factor=1", "--lang=en-US"):
            opts.add_argument(a)
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        self.driver.set_script_timeout(20)

    def shot(self, name):
        d = self.driver
        time.sleep(0.3)
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

    def css(self, selector, timeout=30):
        return WebDriverWait(self.driver, timeout).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, selector)))

    def text(self, selector):
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''", selector)

    def click(self, el):
        """Clicks like a user, after scrolling the element clear of the sticky header."""
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.click()

    def until_text(self, selector, needle, timeout=20):
        WebDriverWait(self.driver, timeout).until(lambda _: needle in self.text(selector))

    def test(self):
        self.start_provd()
        self.seed()
        self.start_browser()
        d = self.driver
        d.get(self.url)
        self.css("#token-input").send_keys(self.viewer)
        d.find_element(By.ID, "login-button").click()
        self.css("#overview")

        # Data centres: declared vs observed counts.
        d.get(self.url + "#/hardware")
        row = self.css("#inventory-dcs tr[data-dc='fra1']")
        cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        # Data centre, declared, in service, nodes, observed, seen elsewhere, in service unseen.
        assert cells[:7] == ["fra1", "233", "3", "31", "2", "0", "1"], cells
        self.shot("inventory-datacentres")
        self.click(row)

        # One data centre: racks, rows with where each was observed and as what, pages.
        self.css("#inventory-racks tbody tr")
        racks = [tr.find_element(By.TAG_NAME, "td").text
                 for tr in d.find_elements(By.CSS_SELECTOR, "#inventory-racks tbody tr")]
        assert racks == ["r12", "r13", "r20"], racks
        self.until_text("#inventory-page", "page 1")
        asc = self.css("#inventory-rows tr[data-serial='SN-ASC-0002']")
        text = asc.text
        assert "Ascend 910B" in text and "19e5:d802" in text, text
        assert "pci_id: declared 10de:20b2" in text, text
        assert NODE_ID in text, text
        dark = d.find_element(By.CSS_SELECTOR, "#inventory-rows tr[data-serial='SN-DARK-0003']").text
        assert "never" in dark, dark
        assert "dc=fra1" in d.current_url, d.current_url
        self.shot("inventory-datacentre")
        seen = set(self.driver.execute_script(
            "return [...document.querySelectorAll('#inventory-rows tr[data-serial]')].map(r => r.dataset.serial)"))
        assert len(seen) == 100, len(seen)
        for page in (2, 3):
            self.click(d.find_element(By.ID, "inventory-next"))
            self.until_text("#inventory-page", f"page {page}")
            serials = self.driver.execute_script(
                "return [...document.querySelectorAll('#inventory-rows tr[data-serial]')].map(r => r.dataset.serial)")
            assert not seen & set(serials), "a row on two pages"
            seen |= set(serials)
        assert len(seen) == 233, len(seen)
        assert d.find_element(By.ID, "inventory-next").get_attribute("disabled") is not None
        self.click(d.find_element(By.ID, "inventory-prev"))
        self.until_text("#inventory-page", "page 2")
        self.click(d.find_element(By.XPATH, "//table[@id='inventory-racks']//tr[td[1][text()='r12']]"))
        WebDriverWait(d, 20).until(lambda _: len(d.find_elements(
            By.CSS_SELECTOR, "#inventory-rows tr[data-serial]")) == 2)
        assert "rack=r12" in d.current_url, d.current_url
        self.shot("inventory-rack")

        # The node view: SMBIOS identity and its change under the same node id.
        self.click(d.find_element(By.CSS_SELECTOR, f"#inventory-rows a[href='#/node/{NODE_ID}']"))
        self.css("#node-hardware-changes tbody tr")
        assert self.text("#node-system-uuid") == UUID_NEW, self.text("#node-system-uuid")
        changes = self.text("#node-hardware-changes")
        assert f"{UUID_OLD} → {UUID_NEW}" in changes, changes
        assert "BRD-OLD-1 → BRD-NEW-2" in changes, changes
        assert "2 identity changes" in self.text("#node-hardware-changed")
        assert "Ascend 910B" in self.text("#node-accelerators")
        # The reconciliation rules' flags on this node (issue 10 §3), linked from its view: the
        # Ascend the inventory declares as an A100 is a critical hardware_relabelled.
        flags = self.text("#node-flags")
        assert "hardware_relabelled" in flags and "accelerator:SN-ASC-0002" in flags, flags
        assert "CRITICAL" in flags.upper(), flags
        self.shot("node-view")

        # Linking rows to flags (the contract of the hardware_* rules), in the browser itself.
        linked = d.execute_async_script("""
            const done = arguments[0];
            import('/js/views/inventory_flags.js').then((m) => {
              const flags = [
                {flag_id: 'F-1', rule: 'hardware_relabelled', subject: 'accelerator:SN-ASC-0002',
                 severity: 'SEVERITY_CRITICAL', status: 'FLAG_STATUS_OPEN'},
                {flag_id: 'F-2', rule: 'hardware_moved', subject: 'accelerator:SN-ASC-0002',
                 severity: 'SEVERITY_HIGH', status: 'FLAG_STATUS_RESOLVED'},
                {flag_id: 'F-3', rule: 'hardware_undeclared', subject: 'node:n-obs',
                 severity: 'SEVERITY_MEDIUM', status: 'FLAG_STATUS_ACKNOWLEDGED'},
                {flag_id: 'F-4', rule: 'restricted_hardware:ascend', subject: 'accelerator:SN-ASC-0002',
                 severity: 'SEVERITY_HIGH', status: 'FLAG_STATUS_OPEN'},
                {flag_id: 'F-5', rule: 'hardware_silent', subject: 'node:n-decl',
                 severity: 'SEVERITY_HIGH', status: 'FLAG_STATUS_OPEN'},
                {flag_id: 'F-6', rule: 'hardware_silent', subject: 'accelerator:OTHER',
                 severity: 'SEVERITY_HIGH', status: 'FLAG_STATUS_OPEN'}];
              const index = m.indexBySubject(flags);
              const row = {entry: {declared: {serial: 'SN-ASC-0002', node_id: 'n-decl'}},
                           last_observed: {node_id: 'n-obs'}};
              done(m.flagsForRow(index, row).map((f) => f.flag_id));
            }).catch((e) => done(String(e)));""")
        assert linked == ["F-1", "F-5", "F-3"], linked

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    for tool in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.path.exists(tool):
            print(f"FAIL: {tool} is missing (Debian packages chromium, chromium-driver)")
            return 1

    def on_alarm(*_):
        raise TimeoutError(f"dashboard inventory test exceeded {DEADLINE_S} s")
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
