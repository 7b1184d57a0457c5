#!/usr/bin/env python3
"""Validates every dashboards/grafana/*.json against Grafana's dashboard JSON schema, plus the
project's own conventions the schema cannot express.

    tests/monitoring/validate_dashboards.py [SOURCE_DIR]     # exit 0: all valid

Schema: tests/monitoring/schema/dashboard.jsonschema.json (see the README there for its source).
Conventions: every non-row panel has at least one target with a PromQL `expr`; every panel and
target uses the `${datasource}` variable, which the dashboard defines as a Prometheus data source
variable; panel ids are unique; panels do not overlap on the grid.
As a control, a copy of each dashboard with an unknown panel field and one with a panel 25 columns
wide must FAIL the schema, so a schema that accepts anything cannot make this test pass.
Needs python3-jsonschema (Debian package).
"""
import copy
import glob
import json
import os
import sys

import jsonschema

DS = {"type": "prometheus", "uid": "${datasource}"}


def panels_of(board):
    for p in board.get("panels", []):
        yield p
        for inner in p.get("panels", []) if p.get("type") == "row" else []:
            yield inner


def convention_errors(board):
    errors = []
    variables = {v["name"]: v for v in board["templating"].get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        errors.append("no `datasource` variable of type datasource with query prometheus")
    ids, cells = set(), {}
    for p in panels_of(board):
        title = p.get("title", "?")
        if p["id"] in ids:
            errors.append(f"panel id {p['id']} used twice")
        ids.add(p["id"])
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    errors.append(f"panel '{title}' overlaps '{cells[(x, y)]}' at ({x},{y})")
                    break
                cells[(x, y)] = title
            else:
                continue
            break
        if p["type"] == "row":
            continue
        if p.get("datasource") != DS:
            errors.append(f"panel '{title}': datasource is not {DS}")
        targets = p.get("targets", [])
        if not targets:
            errors.append(f"panel '{title}' has no query")
        for t in targets:
            if not t.get("expr", "").strip():
                errors.append(f"panel '{title}' target {t.get('refId')}: no expr")
            if t.get("datasource") != DS:
                errors.append(f"panel '{title}' target {t.get('refId')}: datasource is not {DS}")
    return errors


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../..")
    with open(os.path.join(root, "tests/monitoring/schema/dashboard.jsonschema.json")) as f:
        schema = json.load(f)
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    paths = sorted(glob.glob(os.path.join(root, "dashboards/grafana/*.json")))
    if len(paths) < 2:
        print(f"expected the two dashboards under dashboards/grafana, found {paths}")
        return 1
    failed = False
    for path in paths:
        with open(path, encoding="utf-8") as f:
            board = json.load(f)
        name = os.path.relpath(path, root)
        errors = [f"schema: /{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(board)]
        errors += convention_errors(board)
        # Controls: the schema must reject these.
        bad_field, too_wide = copy.deepcopy(board), copy.deepcopy(board)
        first = next(p for p in bad_field["panels"] if p["type"] != "row")
        first["notAGrafanaField"] = True
        next(p for p in too_wide["panels"] if p["type"] != "row")["gridPos"]["w"] = 25
        for label, mutated in (("unknown panel field", bad_field), ("panel 25 wide", too_wide)):
            if validator.is_valid(mutated):
                errors.append(f"control: the schema accepted a dashboard with a {label}")
        panels = sum(1 for p in panels_of(board) if p["type"] != "row")
        targets = sum(len(p.get("targets", [])) for p in panels_of(board))
        if errors:
            failed = True
            print(f"FAIL {name}:")
            for e in errors:
                print("  " + e)
        else:
            print(f"ok   {name}: valid against Grafana's dashboard schema; "
                  f"{panels} panels, {targets} queries")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
