#!/usr/bin/env python3
"""The dashboard's location pages (#/locations, #/location/<node>) in headless Chromium, against a
stand-in for provd's JSON gateway: this script serves dashboards/web/ and answers /api/whoami,
/api/locations and /api/locations/<node> with fixed NodeLocation messages in the gateway's
proto3 JSON (field names as in location.proto, enums by name). It checks what the browser really
draws: the fleet list (most serious first, the verdict filter reaching the API), the node page's
verdict and reason, and the SVG map (one disk per landmark coloured by inside/outside, dashed
when stale, landmark points, the declared site, the legend), and saves screenshots.

provd's real LocationService lands on another branch of issue 11; the same checks against a real
provd belong in tests/integration/ after the merge (see dashboards/README.md).

  /usr/bin/python3 tests/web/location_view_browser_test.py --web-dir dashboards/web \
      --artifacts build/release/test-artifacts/location-view
"""
import argparse
import base64
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

TOKEN = "prov_viewer_test"


def disk(landmark, lat, lon, rtt, radius, distance, inside, fresh=True):
    return {"landmark_id": landmark, "center": {"lat_deg": lat, "lon_deg": lon},
            "rtt_min_ms": rtt, "speed_km_per_ms": 200.0, "radius_km": radius,
            "distance_to_site_km": distance, "contains_site": inside, "fresh": fresh,
            "measured_at": "2026-12-05T23:59:00Z"}


def node(node_id, verdict, reason, disks, **extra):
    n = {"node_id": node_id, "datacenter": "fra1", "region": "eu-central",
         "declared_site": {"lat_deg": 50.10, "lon_deg": 8.70}, "site_known": True,
         "verdict": f"LOCATION_VERDICT_{verdict.upper()}", "reason": reason, "disks": disks,
         "needed_landmark_id": "", "needed_landmark_distance_km": 0, "proof_required": False,
         "evaluated_at": "2026-12-06T00:00:00Z", "policy_version": "p-7"}
    n.update(extra)
    return n


NODES = {
    "gpu-1": node("gpu-1", "verified", "landmark lm-fra measured 1.000 ms: within 100 km",
                  [disk("lm-fra", 50.11, 8.68, 1.0, 100, 1.7, True),
                   disk("lm-par", 48.86, 2.35, 6.0, 600, 478, True)]),
    "gpu-2": node("gpu-2", "contradicted",
                  "landmark lm-nyc measured 2.000 ms: the node is within 200 km of it, but the "
                  "declared site is 6205 km away",
                  [disk("lm-nyc", 40.71, -74.01, 2.0, 200, 6205, False),
                   disk("lm-fra", 50.11, 8.68, 70.0, 7000, 1.7, True, fresh=False)]),
    "gpu-3": node("gpu-3", "unverified", "no fresh disk small enough", [],
                  needed_landmark_id="lm-fra", needed_landmark_distance_km=1.7,
                  proof_required=True),
}


class FakeGateway(http.server.BaseHTTPRequestHandler):
    web_dir = ""
    calls = []

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path.startswith("/api/"):
            FakeGateway.calls.append(self.path)
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self.reply(401, {"error": {"code": "UNAUTHENTICATED", "message": "token"}})
            q = urllib.parse.parse_qs(url.query)
            if url.path == "/api/whoami":
                return self.reply(200, {"actor": "vera", "role": "ROLE_VIEWER"})
            if url.path == "/api/locations":
                want = q.get("verdict", [""])[0]
                nodes = [n for n in NODES.values() if not want or n["verdict"] == want]
                return self.reply(200, {"nodes": nodes, "next_after_node_id": ""})
            if url.path.startswith("/api/locations/"):
                n = NODES.get(urllib.parse.unquote(url.path[len("/api/locations/"):]))
                if n:
                    return self.reply(200, n)
                return self.reply(404, {"error": {"code": "NOT_FOUND", "message": "no node"}})
            return self.reply(503, {"error": {"code": "UNAVAILABLE", "message": "not faked"}})
        rel = url.path.lstrip("/") or "index.html"
        path = os.path.realpath(os.path.join(self.web_dir, rel))
        if not path.startswith(os.path.realpath(self.web_dir)) or not os.path.isfile(path):
            return self.reply(404, b"not found", "text/plain")
        ctype = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                 ".svg": "image/svg+xml"}.get(os.path.splitext(path)[1], "application/octet-stream")
        with open(path, "rb") as f:
            return self.reply(200, f.read(), ctype)


class Test:
    def __init__(self, args):
        self.args = args
        self.shots = []
        FakeGateway.web_dir = args.web_dir
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeGateway)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/"
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--window-size=1400,1000", "--force-device-scale-factor=1", "--lang=en-US"):
            opts.add_argument(a)
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)

    def css(self, selector, timeout=20):
        return WebDriverWait(self.driver, timeout).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, selector)))

    def count(self, selector):
        return self.driver.execute_script(
            "return document.querySelectorAll(arguments[0]).length", selector)

    def text(self, selector):
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''",
            selector)

    def shot(self, name):
        time.sleep(0.3)
        os.makedirs(self.args.artifacts, exist_ok=True)
        data = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})["data"]
        path = os.path.join(self.args.artifacts, f"{len(self.shots) + 1:02d}-{name}.png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        self.shots.append(path)

    def run(self):
        d = self.driver
        d.get(self.base)
        self.css("#token-input").send_keys(TOKEN)
        d.find_element(By.ID, "login-button").click()
        self.css("#topbar:not([hidden])")

        # Fleet list: contradicted first, links to the node's page.
        d.get(self.base + "#/locations")
        self.css("#locations-table")
        rows = d.find_elements(By.CSS_SELECTOR, "#locations-table tbody tr")
        order = [r.find_element(By.CSS_SELECTOR, "[data-verdict]").get_attribute("data-verdict")
             for r in rows]
        assert order == ["contradicted", "unverified", "verified"], order
        assert "/api/locations?limit=1000" in FakeGateway.calls, FakeGateway.calls
        self.shot("locations")
        Select(d.find_element(By.ID, "locations-verdict")).select_by_value("contradicted")
        WebDriverWait(d, 10).until(
            lambda _: self.count("#locations-table tbody tr") == 1)
        assert any("verdict=LOCATION_VERDICT_CONTRADICTED" in c for c in FakeGateway.calls)
        d.find_element(By.LINK_TEXT, "gpu-2").click()

        # The contradicted node: verdict, reason, map, table.
        self.css("svg.location-map")
        assert "contradicted" in self.text("#location-verdict"), self.text("#location-verdict")
        assert "6205 km away" in self.text("#location-reason")
        assert self.count("svg.location-map path.disk[data-landmark]") == 2
        assert self.count("svg.location-map path.disk-outside[data-landmark='lm-nyc']") == 1
        assert self.count("svg.location-map path.disk-inside.disk-stale[data-landmark='lm-fra']") == 1
        assert self.count("svg.location-map .landmark-point") == 2
        assert self.count("svg.location-map .site-marker") == 1
        assert "disk excludes the declared site" in self.text("svg.location-map .map-legend")
        # Every landmark point and the site are drawn inside the map.
        inside = d.execute_script("""
          const svg = document.querySelector('svg.location-map');
          const box = svg.getBoundingClientRect();
          return [...svg.querySelectorAll('.landmark-point, .site-marker path')].every((e) => {
            const r = e.getBoundingClientRect();
            return r.width > 0 && r.left >= box.left - 1 && r.right <= box.right + 1 &&
                   r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
          });""")
        assert inside, "a landmark or the site is drawn outside the map"
        assert "OUTSIDE" in self.text("#location-disks")
        self.shot("location-contradicted")

        # A verified node and an unverified one with nothing measured.
        d.get(self.base + "#/location/gpu-1")
        WebDriverWait(d, 10).until(lambda _: "verified" in self.text("#location-verdict"))
        self.css("svg.location-map")
        assert self.count("svg.location-map path.disk-inside[data-landmark]") == 2
        self.shot("location-verified")
        d.get(self.base + "#/location/gpu-3")
        WebDriverWait(d, 10).until(lambda _: "lm-fra" in self.text("#location-verdict"))
        assert "No measurements yet" in self.text("#location-disks")
        self.shot("location-unverified")

    def close(self):
        self.driver.quit()
        self.server.shutdown()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--web-dir", default="dashboards/web")
    p.add_argument("--artifacts", default="build/release/test-artifacts/location-view")
    t = Test(p.parse_args())
    try:
        t.run()
    finally:
        t.close()
    print("location view: all checks passed; screenshots:")
    for s in t.shots:
        print(f"  {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
