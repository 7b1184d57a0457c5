#!/usr/bin/env python3
"""Writes provenance-overview.json and provenance-compliance.json (Grafana dashboards) next to it.

    dashboards/grafana/generate.py            # rewrite both files
    dashboards/grafana/generate.py --check    # exit 1 if a file differs from what it would write

The JSON files are what people import; this script is their source, so every panel follows the same
conventions (the ${datasource} variable on every query, a job filter, units, no-data text). Edit
here, rerun, commit both. The monitoring_dashboards_current ctest entry runs --check.
Only the Python standard library is used.
"""
import json
import os
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
J = 'job=~"$job"'  # every selector carries the job filter


def target(expr, legend="", ref="A", instant=False):
    t = {"refId": ref, "datasource": DS, "expr": expr, "legendFormat": legend or "__auto",
         "range": not instant, "instant": instant}
    return t


def panel(kind, title, description, targets, pos, unit="short", options=None, extra_defaults=None,
          no_value="no data: is provd scraped?"):
    """no_value: what Grafana shows for an empty result. "0" where an absent series means none
    (no flag and no rejection yet: those families have no samples until the first one)."""
    defaults = {"unit": unit, "noValue": no_value,
                "color": {"mode": "palette-classic" if kind == "timeseries" else "thresholds"},
                "thresholds": {"mode": "absolute", "steps": [{"value": 0, "color": "green"}]}}
    if kind == "timeseries":
        defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                              "showPoints": "never", "spanNulls": True}
    defaults.update(extra_defaults or {})
    p = {"type": kind, "title": title, "description": description, "datasource": DS,
         "gridPos": {"x": pos[0], "y": pos[1], "w": pos[2], "h": pos[3]},
         "targets": [target(*t) if isinstance(t, tuple) else t for t in targets],
         "fieldConfig": {"defaults": defaults, "overrides": []},
         "options": options or {}}
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto",
                        "justifyMode": "auto", "orientation": "auto", **(options or {})}
    if kind == "bargauge":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "orientation": "horizontal", "displayMode": "gradient",
                        "showUnfilled": True, **(options or {})}
    if kind == "table":  # one row per series, labels as columns, no time column
        for t in p["targets"]:
            t["format"] = "table"
        p["transformations"] = [{"id": "organize",
                                 "options": {"excludeByName": {"Time": True}}}]
    if kind == "timeseries":
        p["options"] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}, **(options or {})}
    return p


def red_above(value, color="red"):
    return {"thresholds": {"mode": "absolute", "steps": [{"value": 0, "color": "green"},
                                                         {"value": value, "color": color}]}}


def row(title, y, pid):
    return {"type": "row", "title": title, "collapsed": False, "id": pid, "panels": [],
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}}


def var_datasource():
    return {"type": "datasource", "name": "datasource", "label": "Data source",
            "query": "prometheus", "refresh": 1, "hide": 0,
            "current": {"text": "Prometheus", "value": "prometheus"}}


def var_query(name, label, query, include_all=True):
    v = {"type": "query", "name": name, "label": label, "datasource": DS, "query": query,
         "refresh": 2, "sort": 1, "multi": True, "includeAll": include_all, "hide": 0,
         "current": {"text": "All", "value": "$__all"}}
    if include_all:
        v["allValue"] = ".*"
    return v


def dashboard(uid, title, description, tags, variables, panels):
    pid = 1
    for p in panels:
        p["id"] = pid
        pid += 1
    return {
        "uid": uid, "title": title, "description": description, "tags": tags,
        "timezone": "utc", "editable": True, "graphTooltip": 1, "refresh": "30s",
        "schemaVersion": 39, "version": 1, "time": {"from": "now-6h", "to": "now"},
        "timepicker": {"hidden": False,
                       "refresh_intervals": ["10s", "30s", "1m", "5m", "15m", "1h"],
                       "time_options": ["15m", "1h", "6h", "24h", "7d"]},
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "links": [{"title": "Provenance dashboards", "type": "dashboards", "icon": "dashboard",
                   "tooltip": "", "tags": ["provenance"], "asDropdown": False,
                   "targetBlank": False, "includeVars": True, "keepTime": True}],
        "templating": {"list": variables},
        "panels": panels,
    }


def rate(metric, sel=J, window="$__rate_interval"):
    return f"rate({metric}{{{sel}}}[{window}])"


def overview():
    dc = J + ',datacenter=~"$datacenter"'
    ingested = f"sum({rate('prov_reports_ingested_total')})"
    rejected = f"sum({rate('prov_reports_rejected_total')})"
    p = [
        row("Ingest", 0, 0),
        panel("stat", "provd targets up", "Prometheus scrape targets of provd that answered the "
              "last scrape (the `up` series of the selected jobs).",
              [(f"sum(up{{{J}}})", "up")], (0, 1, 4, 4)),
        panel("stat", "Reports ingested / s", "Agent reports validated and stored per second.",
              [(ingested, "ingested")], (4, 1, 4, 4), unit="reqps"),
        panel("stat", "Rejection ratio", "Rejected reports as a share of all reports received "
              "(stored + rejected). Anything above zero means agents send reports provd refuses; "
              "see Rejections by field.",
              [(f"{rejected} / clamp_min({ingested} + {rejected}, 1e-9)", "rejected")],
              (8, 1, 4, 4), unit="percentunit", extra_defaults=red_above(0.01), no_value="0"),
        panel("stat", "Open agent streams", "Agent report streams connected now.",
              [(f"sum(prov_ingest_streams{{{J}}})", "streams")], (12, 1, 4, 4)),
        panel("stat", "Nodes reporting", "Nodes whose newest report is younger than provd's "
              "--silent-after, in the selected data centres.",
              [(f"sum(prov_nodes_reporting{{{dc}}})", "reporting")], (16, 1, 4, 4)),
        panel("stat", "Nodes silent", "Nodes that have reported before but not within "
              "--silent-after: agent down, node down, or network cut.",
              [(f"sum(prov_nodes_silent{{{dc}}})", "silent")], (20, 1, 4, 4),
              extra_defaults=red_above(1, "orange")),
        panel("timeseries", "Reports per second", "Stored, resent duplicates (acknowledged, not "
              "stored again) and rejected reports per second.",
              [(ingested, "stored", "A"),
               (f"sum({rate('prov_reports_duplicate_total')})", "duplicate", "B"),
               (rejected, "rejected", "C")], (0, 5, 12, 8), unit="reqps"),
        panel("timeseries", "Rejections by field", "Rejected reports per second by the field the "
              "validator named (the agent log shows the full message).",
              [(f"sum by (field) ({rate('prov_reports_rejected_total')})", "{{field}}")],
              (12, 5, 12, 8), unit="reqps", no_value="no rejections"),
        panel("timeseries", "Ingest queue", "Validated reports waiting for the writer, against "
              "the queue's capacity; streams park (stop reading) when it is full.",
              [(f"sum(prov_ingest_queue_depth{{{J}}})", "depth", "A"),
               (f"sum(prov_ingest_queue_capacity{{{J}}})", "capacity", "B"),
               (f"sum(prov_ingest_parked_streams{{{J}}})", "parked streams", "C")],
              (0, 13, 8, 8)),
        panel("timeseries", "Back-pressure events / s", "Times a stream paused reading because "
              "the ingest queue was full.",
              [(f"sum({rate('prov_ingest_parks_total')})", "parks")], (8, 13, 8, 8), unit="ops"),
        panel("timeseries", "Commit failures / s", "SQLite batch transactions that failed; their "
              "reports are not acknowledged and the agents resend them.",
              [(f"sum({rate('prov_commit_failures_total')})", "failures")], (16, 13, 8, 8),
              unit="ops"),
        panel("timeseries", "Commit latency", "Duration of one SQLite transaction committing a "
              "batch (quantiles of prov_commit_latency_seconds).",
              [(f"histogram_quantile({q}, sum by (le) "
                f"({rate('prov_commit_latency_seconds_bucket')}))", f"p{int(q * 100)}", r)
               for q, r in ((0.5, "A"), (0.9, "B"), (0.99, "C"))], (0, 21, 12, 8), unit="s"),
        panel("timeseries", "Reports per commit", "Mean group-commit batch size.",
              [(f"sum({rate('prov_commit_batch_reports_sum')}) / "
                f"clamp_min(sum({rate('prov_commit_batch_reports_count')}), 1e-9)", "mean"),
               (f"sum({rate('prov_acks_sent_total')})", "acks / s", "B")], (12, 21, 12, 8)),
        row("Fleet", 29, 0),
        panel("timeseries", "Nodes reporting by data centre", "",
              [(f"sum by (datacenter) (prov_nodes_reporting{{{dc}}})", "{{datacenter}}")],
              (0, 30, 12, 8)),
        panel("timeseries", "Nodes silent by data centre", "Silent: no report collected within "
              "--silent-after (prov_silent_after_seconds).",
              [(f"sum by (datacenter) (prov_nodes_silent{{{dc}}})", "{{datacenter}}")],
              (12, 30, 12, 8)),
        panel("bargauge", "Accelerators by vendor and model", "Accelerators in provd's "
              "inventory (every accelerator ever seen on a node).",
              [(f"sum by (vendor, model) (prov_accelerators{{{J}}})", "{{vendor}} {{model}}",
                "A", True)], (0, 38, 12, 9)),
        panel("stat", "Nodes known", "Nodes that ever reported.",
              [(f"sum(prov_nodes{{{J}}})", "nodes")], (12, 38, 4, 4)),
        panel("stat", "Silent after", "provd's --silent-after threshold.",
              [(f"max(prov_silent_after_seconds{{{J}}})", "silent after")], (16, 38, 4, 4),
              unit="s"),
        panel("stat", "provd uptime", "Time since the newest provd process started.",
              [(f"time() - max(prov_start_time_seconds{{{J}}})", "uptime")], (20, 38, 4, 4),
              unit="s"),
        panel("stat", "Store read errors / s", "Failed store reads at scrape time; the fleet "
              "panels go blank while they happen.",
              [(f"sum({rate('prov_store_read_errors_total')})", "errors")], (12, 42, 6, 5),
              unit="ops", extra_defaults=red_above(0.0001)),
        panel("table", "provd versions", "Running provd processes and their versions.",
              [(f"sum by (instance, version) (prov_build_info{{{J}}})", "", "A", True)],
              (18, 42, 6, 5)),
    ]
    return dashboard(
        "provenance-overview", "Provenance: fleet and ingest",
        "provd's health for on-call: ingest and rejection rates, streams, queue, commit latency, "
        "nodes reporting and silent per data centre, accelerators by vendor and model.",
        ["provenance", "provd"],
        [var_datasource(), var_query("job", "Job", "label_values(prov_build_info, job)"),
         var_query("datacenter", "Data centre",
                   "label_values(prov_nodes_reporting, datacenter)")], p)


def compliance():
    f = J + ',status=~"$status",severity=~"$severity",rule=~"$rule"'
    open_ = J + ',status="open",severity=~"$severity",rule=~"$rule"'
    analysed = f"sum({rate('prov_analysis_reports_total')})"
    p = [
        row("Flags", 0, 0),
        panel("stat", "Open flags", "Flags waiting for a compliance analyst (status open), in "
              "the selected severities and rules.",
              [(f"sum(prov_flags{{{open_}}})", "open")], (0, 1, 6, 4),
              extra_defaults=red_above(1, "orange"), no_value="0"),
        panel("bargauge", "Open flags by severity", "",
              [(f"sum by (severity) (prov_flags{{{open_}}})", "{{severity}}", "A", True)],
              (6, 1, 9, 8), no_value="no open flags"),
        panel("bargauge", "Open flags by rule", "Rule families: compute_tier, projection, "
              "restricted_party_training, screening_hit, restricted_hardware.",
              [(f"sum by (rule) (prov_flags{{{open_}}})", "{{rule}}", "A", True)],
              (15, 1, 9, 8), no_value="no open flags"),
        panel("stat", "Flags (any status)", "All flags in the selected statuses.",
              [(f"sum(prov_flags{{{f}}})", "flags")], (0, 5, 6, 4), no_value="0"),
        panel("table", "Flags by severity, rule and status", "",
              [(f"sum by (severity, rule, status) (prov_flags{{{f}}})", "", "A", True)],
              (0, 9, 12, 8), no_value="no flags"),
        panel("timeseries", "Flags by status over time", "",
              [(f"sum by (status) (prov_flags{{{f}}})", "{{status}}")], (12, 9, 12, 8),
              no_value="no flags"),
        row("Bundles", 17, 0),
        panel("stat", "Bundles", "Suspected training lineages: accounts joined by evidence.",
              [(f"sum(prov_bundles{{{J},kind=\"all\"}})", "bundles")], (0, 18, 6, 4)),
        panel("stat", "Multi-account bundles", "Bundles that join two or more accounts.",
              [(f"sum(prov_bundles{{{J},kind=\"multi_account\"}})", "multi-account")],
              (6, 18, 6, 4)),
        panel("stat", "Bundles near a tier", "Bundles whose estimated training compute is within "
              "10x below their next compute tier.",
              [(f"sum(prov_bundles_near_tier{{{J}}})", "near tier")], (12, 18, 6, 4),
              extra_defaults=red_above(1, "orange")),
        panel("stat", "Evidence links", "Evidence links between accounts held by provd.",
              [(f"sum(prov_analysis_links{{{J}}})", "links")], (18, 18, 6, 4)),
        panel("timeseries", "Bundles over time", "",
              [(f"sum by (kind) (prov_bundles{{{J}}})", "{{kind}}", "A"),
               (f"sum(prov_bundles_near_tier{{{J}}})", "near tier", "B")], (0, 22, 24, 8)),
        row("Analysis", 30, 0),
        panel("timeseries", "Analysis queue", "Reports committed but not yet analysed, against "
              "the queue's bound (the ingest writer waits when it is full).",
              [(f"sum(prov_analysis_pending_reports{{{J}}})", "pending", "A"),
               (f"sum(prov_analysis_queue_capacity{{{J}}})", "capacity", "B")], (0, 31, 8, 8)),
        panel("timeseries", "Analysis lag", "Reports stored minus reports analysed per second "
              "(above zero: falling behind), and the time to drain the pending queue at the "
              "current analysis rate.",
              [(f"sum({rate('prov_reports_ingested_total')}) - {analysed}",
                "stored - analysed / s", "A"),
               (f"sum(prov_analysis_pending_reports{{{J}}}) / clamp_min({analysed}, 0.001)",
                "drain time (s)", "B")], (8, 31, 8, 8)),
        panel("timeseries", "Analysis thread busy", "Share of wall time the analysis thread "
              "spends analysing and saving (1 = saturated).",
              [(f"sum({rate('prov_analysis_busy_seconds_total')})", "busy")], (16, 31, 8, 8),
              unit="percentunit"),
        panel("timeseries", "Reports analysed / s", "",
              [(analysed, "analysed", "A"),
               (f"sum({rate('prov_analysis_save_failures_total')})", "save failures / s", "B")],
              (0, 39, 24, 7), unit="reqps"),
    ]
    return dashboard(
        "provenance-compliance", "Provenance: compliance",
        "What the compliance team and on-call need about flags and bundles: open flags by "
        "severity and rule, bundles, bundles near a compute tier, and whether analysis keeps up.",
        ["provenance", "compliance"],
        [var_datasource(), var_query("job", "Job", "label_values(prov_build_info, job)"),
         var_query("severity", "Severity", "label_values(prov_flags, severity)"),
         var_query("rule", "Rule", "label_values(prov_flags, rule)"),
         var_query("status", "Status", "label_values(prov_flags, status)")], p)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    check = "--check" in sys.argv[1:]
    stale = []
    for name, board in (("provenance-overview.json", overview()),
                        ("provenance-compliance.json", compliance())):
        text = json.dumps(board, indent=2, ensure_ascii=False) + "\n"
        path = os.path.join(here, name)
        if check:
            current = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
            if current != text:
                stale.append(name)
        else:
            with open(path, "w", encoding="utf-8") as out:
                out.write(text)
    if stale:
        print("out of date (run dashboards/grafana/generate.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
