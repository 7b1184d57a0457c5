#!/usr/bin/env python3
"""End to end: a real provd, a simulated fleet, a real Prometheus, and every dashboard query.

    tests/monitoring/dashboards_e2e_test.py SOURCE_DIR BIN_DIR      # ctest: monitoring_dashboards_e2e

1. starts provd (start_provd: the one place that knows its flags) with --silent-after 3s;
2. imports the small prov-eval-gen scenario's KYC records and screening list, and starts a real
   Prometheus scraping provd every second with deploy/prometheus/provenance-rules.yml loaded;
3. drives three prov-sim fleets at provd: a background fleet reporting every second for the whole
   test (streams open, nodes reporting), the eval scenario at 1000x (flags of several severities,
   bundles; its nodes then go silent), and a node whose reports provd rejects (datacenter too long);
4. runs `promtool check metrics` on provd's /metrics and requires no findings;
5. for EVERY target of EVERY panel of both dashboards, substitutes the template variables
   ($job=provd, $datacenter/$severity/$rule/$status=.*, $__rate_interval=10s) and requires a
   non-empty result from Prometheus' /api/v1/query; every variable's label_values() query must
   list values too (through /api/v1/label/<label>/values, which is what Grafana calls);
6. requires every alerting rule to evaluate without error against the real series, and the two
   this fleet must trigger (silent share, critical flag open) to be pending.
Bounded (about 40 s, hard limit 110 s); every subprocess is killed on the way out. Loopback only.
Needs: prometheus and promtool (Debian package prometheus); the built provd, provctl, prov-sim,
prov-eval-gen in BIN_DIR.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

DEADLINE = time.monotonic() + 110
VARIABLES = {"job": "provd", "datacenter": ".*", "severity": ".*", "rule": ".*", "status": ".*",
             "__rate_interval": "10s", "__interval": "2s", "__range": "1m"}
PROCS = []


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(args, out_path, **kw):
    out = open(out_path, "wb")
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kw)
    PROCS.append(p)
    return p


def stop_all():
    for p in reversed(PROCS):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in reversed(PROCS):
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def wait_for(what, check, timeout):
    end = min(time.monotonic() + timeout, DEADLINE)
    while time.monotonic() < end:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def start_provd(bin_dir, data_dir, metrics_port, policy):
    """Starts provd on loopback; returns (process, grpc_port). Add new required flags here."""
    port_file = os.path.join(data_dir, "port")
    args = [os.path.join(bin_dir, "provd"), "--insecure", "--data-dir", data_dir,
            "--listen", "127.0.0.1:0", "--port-file", port_file,
            "--metrics-listen", f"127.0.0.1:{metrics_port}", "--silent-after", "3s",
            "--policy", policy,
            # prov-sim replays at up to 1000x: credit the reports' own timeline (server/ledger/credit.h)
            "--ledger-clock", "report"]
    proc = spawn(args, os.path.join(data_dir, "provd.log"))

    def ready():
        if proc.poll() is not None:
            raise AssertionError("provd exited: " + open(os.path.join(data_dir, "provd.log")).read())
        return os.path.exists(port_file) and open(port_file).read().strip()
    return proc, int(wait_for("provd's port file", ready, 15))


def rejected_scenario(path):
    dc = "dc-" + "x" * 300  # longer than the validator's 256-byte limit for node.datacenter
    scenario = {"name": "rejected", "interval_seconds": 10, "reports_per_node": 3,
                "datacenters": [{"name": dc, "region": "r"}],
                "nodes": [{"node_id": "rejected-node-1", "datacenter": dc, "vendor_id": 4318,
                           "device_id": 9008, "accelerator_count": 1}]}
    with open(path, "w") as f:
        json.dump(scenario, f)


def prometheus_config(path, metrics_port, rules):
    with open(path, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: provd
    static_configs:
      - targets: ["127.0.0.1:{metrics_port}"]
""")


def substitute(expr):
    def var(m):
        name = m.group(1) or m.group(2)
        if name not in VARIABLES:
            raise AssertionError(f"no test value for ${name} in: {expr}")
        return VARIABLES[name]
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", var, expr)


def query(prom, expr):
    url = f"http://127.0.0.1:{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    body = json.loads(http_get(url))
    if body.get("status") != "success":
        raise AssertionError(f"query failed: {expr}: {body}")
    return body["data"]["result"]


def scraped_value(text, name):
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


def main():
    src, bin_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            print(f"{tool} not found (Debian package prometheus)")
            return 1
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="prov_monitoring_")
    passed = False
    try:
        scenario_dir = os.path.join(tmp, "scenario")
        subprocess.run([os.path.join(bin_dir, "prov-eval-gen"), "--out", scenario_dir, "--preset",
                        "small", "--no-traces", "--reports", "30"], cwd=src, check=True,
                       stdout=subprocess.DEVNULL, timeout=30)
        data_dir = os.path.join(tmp, "provd")
        os.makedirs(data_dir)
        metrics_port, prom_port = free_port(), free_port()
        _, grpc_port = start_provd(bin_dir, data_dir, metrics_port,
                                   os.path.join(scenario_dir, "policy.yaml"))
        server = f"127.0.0.1:{grpc_port}"
        log(f"provd on {server}, metrics :{metrics_port}")
        # provd's first start wrote an admin token into its data directory.
        ctl = [os.path.join(bin_dir, "provctl"), "--server", server, "--insecure",
               "--token-file", os.path.join(data_dir, "admin.token")]
        for cmd, name in (("accounts", "accounts.csv"), ("screening", "csl.csv")):
            subprocess.run(ctl + [cmd, "import", os.path.join(scenario_dir, name)], check=True,
                           stdout=subprocess.DEVNULL, timeout=30)

        prom_config = os.path.join(tmp, "prometheus.yml")
        prometheus_config(prom_config, metrics_port,
                          os.path.join(src, "deploy/prometheus/provenance-rules.yml"))
        spawn(["prometheus", f"--config.file={prom_config}",
               f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
               f"--web.listen-address=127.0.0.1:{prom_port}"], os.path.join(tmp, "prometheus.log"))

        sim = [os.path.join(bin_dir, "prov-sim"), "--server", server, "--insecure"]
        spawn(sim + ["--nodes", "6", "--datacenters", "2", "--interval", "1",
                     "--reports-per-node", "600", "--time-scale", "1"],
              os.path.join(tmp, "sim-background.log"))
        rejected_path = os.path.join(tmp, "rejected.json")
        rejected_scenario(rejected_path)
        subprocess.run(sim + ["--scenario", rejected_path, "--time-scale", "100",
                              "--wait-acks", "2"], stdout=open(os.path.join(tmp, "sim-rejected.log"),
                                                               "wb"), stderr=subprocess.STDOUT,
                       timeout=30)  # exits non-zero: its reports are rejected, not acked
        result = subprocess.run(sim + ["--scenario", os.path.join(scenario_dir, "scenario.json"),
                                       "--time-scale", "1000"], capture_output=True, text=True,
                                timeout=60)
        if result.returncode != 0:
            raise AssertionError("eval fleet failed:\n" + result.stdout + result.stderr)
        log("fleets ran: " + result.stdout.strip().splitlines()[-1])

        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"

        def fleet_state():
            text = http_get(metrics_url)
            needed = {n: scraped_value(text, n) for n in (
                "prov_nodes_silent", "prov_nodes_reporting", "prov_flags",
                "prov_reports_rejected_total", "prov_ingest_streams")}
            return text if all(v and v > 0 for v in needed.values()) else None
        text = wait_for("silent and reporting nodes, flags, rejections, open streams",
                        fleet_state, 30)
        with open(os.path.join(tmp, "metrics.txt"), "w") as f:
            f.write(text)
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                              text=True, timeout=30)
        findings = (lint.stdout + lint.stderr).strip()
        if lint.returncode != 0 or findings:
            raise AssertionError(f"promtool check metrics (rc {lint.returncode}):\n{findings}")
        log(f"promtool check metrics: clean ({len(text.splitlines())} lines)")

        # Rate windows need 10 s of 1 s scrapes after the last series appeared.
        wait_for("Prometheus ready", lambda: _ready(prom_port), 20)
        wait_for("12 s of scrapes", lambda: query(
            prom_port, 'count_over_time(up{job="provd"}[12s]) >= 12'), 30)

        exprs, variables = [], 0
        for name in ("provenance-overview", "provenance-compliance"):
            with open(os.path.join(src, "dashboards/grafana", name + ".json")) as f:
                board = json.load(f)
            for v in board["templating"]["list"]:
                if v["type"] != "query":
                    continue
                m = re.fullmatch(r"label_values\((\w+), *(\w+)\)", v["query"])
                if not m:
                    raise AssertionError(f"{name}: variable {v['name']}: unexpected {v['query']}")
                url = (f"http://127.0.0.1:{prom_port}/api/v1/label/{m.group(2)}/values?"
                       + urllib.parse.urlencode({"match[]": m.group(1)}))
                if not json.loads(http_get(url))["data"]:
                    raise AssertionError(f"{name}: variable {v['name']} ({v['query']}) is empty")
                variables += 1
            for p in board["panels"]:
                for t in p.get("targets", []):
                    exprs.append((name, p["title"], t["refId"], substitute(t["expr"])))
        empty = []
        for board, title, ref, expr in exprs:
            try:
                wait_for(f"{title}/{ref}", lambda: query(prom_port, expr), 5)
            except AssertionError:
                empty.append(f"{board} / {title} / {ref}: {expr}")
        if empty:
            raise AssertionError("panel queries with no data:\n  " + "\n  ".join(empty))
        log(f"all {len(exprs)} panel queries and {variables} variable queries of both "
            "dashboards returned data")

        # The fleet above must make these pending (their `for:` is an hour): proof that the rules'
        # selectors match the real series' names and labels, not only promtool's synthetic ones.
        expected = {"ProvSilentNodeShareHigh", "ProvCriticalFlagsUnattended"}

        def rule_states():
            rules = json.loads(http_get(f"http://127.0.0.1:{prom_port}/api/v1/rules"))
            states = {r["name"]: r for g in rules["data"]["groups"] for r in g["rules"]}
            active = {n for n, r in states.items() if r.get("state") in ("pending", "firing")}
            return states if expected <= active else None
        try:
            states = wait_for("the expected alerts to be pending", rule_states, 15)
        except AssertionError:
            raise AssertionError(f"alerts {sorted(expected)} not all pending or firing")
        bad = [f"{n}: {r.get('health')} {r.get('lastError', '')}" for n, r in states.items()
               if r.get("health") != "ok"]
        count = len(states)
        if bad or count < 10:
            raise AssertionError(f"{count} rules loaded; unhealthy: {bad}")
        active = sorted(n for n, r in states.items() if r.get("state") in ("pending", "firing"))
        log(f"{count} alerting rules evaluate cleanly against real series; active: {active}")
        log(f"PASS in {time.monotonic() - started:.1f} s")
        passed = True
        return 0
    except AssertionError as e:
        print(f"FAIL: {e}\n(logs in {tmp})")
        for name in ("provd/provd.log", "prometheus.log", "sim-background.log"):
            path = os.path.join(tmp, name)
            if os.path.exists(path):
                print(f"--- tail of {name}")
                print(open(path, errors="replace").read()[-1500:])
        return 1
    finally:
        stop_all()
        if passed and os.environ.get("PROV_KEEP_TMP") is None:
            shutil.rmtree(tmp, ignore_errors=True)  # kept on failure, for the logs


def _ready(port):
    try:
        return "Ready" in http_get(f"http://127.0.0.1:{port}/-/ready", timeout=1)
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
