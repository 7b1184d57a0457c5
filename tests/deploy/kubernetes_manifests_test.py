#!/usr/bin/env python3
"""The Kubernetes manifests in deploy/kubernetes/ parse, carry the fields their kinds require, agree
with each other (selectors, ports, volumes, config maps), keep the security settings the docs
promise, and their flag files are accepted by the real binaries.

  tests/deploy/kubernetes_manifests_test.py DEPLOY_DIR PROV_AGENT PROVD
"""
import glob
import os
import subprocess
import sys
import tempfile
import unittest

import yaml

DEPLOY_DIR = PROV_AGENT = PROVD = None

# Required fields per kind (a path of keys from the document root).
REQUIRED = {
    "Namespace": [],
    "ServiceAccount": ["metadata.namespace"],
    "ConfigMap": ["metadata.namespace", "data"],
    "PersistentVolumeClaim": ["metadata.namespace", "spec.accessModes",
                              "spec.resources.requests.storage"],
    "DaemonSet": ["metadata.namespace", "spec.selector.matchLabels", "spec.template.metadata.labels",
                  "spec.template.spec.containers"],
    "Deployment": ["metadata.namespace", "spec.selector.matchLabels",
                   "spec.template.metadata.labels", "spec.template.spec.containers"],
    "Service": ["metadata.namespace", "spec.selector", "spec.ports"],
    "Role": ["metadata.namespace", "rules"],
    "RoleBinding": ["metadata.namespace", "subjects", "roleRef.kind", "roleRef.name",
                    "roleRef.apiGroup"],
    "NetworkPolicy": ["metadata.namespace", "spec.podSelector", "spec.policyTypes"],
}
API_VERSIONS = {
    "Namespace": "v1", "ServiceAccount": "v1", "ConfigMap": "v1", "PersistentVolumeClaim": "v1",
    "Service": "v1", "DaemonSet": "apps/v1", "Deployment": "apps/v1",
    "Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}


def get(doc, path):
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def load_all():
    docs = []
    for path in sorted(glob.glob(os.path.join(DEPLOY_DIR, "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    docs.append((os.path.basename(path), doc))
    return docs


def problems(docs):
    """Every problem found, as readable strings (empty: the manifests are consistent)."""
    out = []
    by_kind = {}
    for name, doc in docs:
        kind = doc.get("kind")
        where = f"{name}: {kind} {get(doc, 'metadata.name')}"
        if kind not in REQUIRED:
            out.append(f"{where}: kind not checked by this test")
            continue
        if doc.get("apiVersion") != API_VERSIONS[kind]:
            out.append(f"{where}: apiVersion {doc.get('apiVersion')} != {API_VERSIONS[kind]}")
        if not get(doc, "metadata.name"):
            out.append(f"{where}: metadata.name missing")
        for path in REQUIRED[kind]:
            if get(doc, path) in (None, "", [], {}) and path != "spec.podSelector":
                out.append(f"{where}: {path} missing")
            elif get(doc, path) is None:
                out.append(f"{where}: {path} missing")
        by_kind.setdefault(kind, []).append(doc)
    namespaces = {get(d, "metadata.name") for d in by_kind.get("Namespace", [])}
    config_maps = {(get(d, "metadata.namespace"), get(d, "metadata.name"))
                   for d in by_kind.get("ConfigMap", [])}
    pvcs = {(get(d, "metadata.namespace"), get(d, "metadata.name"))
            for d in by_kind.get("PersistentVolumeClaim", [])}
    accounts = {(get(d, "metadata.namespace"), get(d, "metadata.name"))
                for d in by_kind.get("ServiceAccount", [])}
    for kind, docs_of_kind in by_kind.items():
        for d in docs_of_kind:
            ns = get(d, "metadata.namespace")
            if kind != "Namespace" and ns not in namespaces:
                out.append(f"{kind} {get(d, 'metadata.name')}: namespace {ns} not defined")
    for d in by_kind.get("DaemonSet", []) + by_kind.get("Deployment", []):
        name, ns = get(d, "metadata.name"), get(d, "metadata.namespace")
        sel = get(d, "spec.selector.matchLabels") or {}
        labels = get(d, "spec.template.metadata.labels") or {}
        if any(labels.get(k) != v for k, v in sel.items()):
            out.append(f"{name}: selector {sel} does not match template labels {labels}")
        pod = get(d, "spec.template.spec")
        sa = pod.get("serviceAccountName")
        if (ns, sa) not in accounts:
            out.append(f"{name}: service account {sa} not defined")
        if pod.get("automountServiceAccountToken") is not False:
            out.append(f"{name}: must not mount an API token (it never calls the API)")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for c in pod["containers"]:
            for field in ("name", "image"):
                if not c.get(field):
                    out.append(f"{name}: container without {field}")
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    out.append(f"{name}: mount {m['name']} has no volume")
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False:
                out.append(f"{name}: allowPrivilegeEscalation must be false")
            if sc.get("readOnlyRootFilesystem") is not True:
                out.append(f"{name}: readOnlyRootFilesystem must be true")
            if get(sc, "capabilities.drop") != ["ALL"]:
                out.append(f"{name}: must drop ALL capabilities")
            if get(c, "resources.limits.memory") is None:
                out.append(f"{name}: no memory limit")
        for v in volumes.values():
            if "configMap" in v and (ns, v["configMap"]["name"]) not in config_maps:
                out.append(f"{name}: volume {v['name']} names missing ConfigMap "
                           f"{v['configMap']['name']}")
            if "persistentVolumeClaim" in v and (
                    ns, v["persistentVolumeClaim"]["claimName"]) not in pvcs:
                out.append(f"{name}: volume {v['name']} names a missing claim")
    for svc in by_kind.get("Service", []):
        sel = get(svc, "spec.selector")
        targets = [w for w in by_kind.get("Deployment", []) + by_kind.get("DaemonSet", [])
                   if get(w, "metadata.namespace") == get(svc, "metadata.namespace") and
                   all(get(w, "spec.template.metadata.labels").get(k) == v
                       for k, v in sel.items())]
        if not targets:
            out.append(f"Service {get(svc, 'metadata.name')}: selects no workload")
        for t in targets:
            port_names = {p.get("name") for c in get(t, "spec.template.spec.containers")
                          for p in c.get("ports", [])}
            for p in get(svc, "spec.ports"):
                if isinstance(p.get("targetPort"), str) and p["targetPort"] not in port_names:
                    out.append(f"Service {get(svc, 'metadata.name')}: targetPort "
                               f"{p['targetPort']} is no container port")
    return out


class ManifestTest(unittest.TestCase):
    def setUp(self):
        self.docs = load_all()
        self.kinds = {}
        for _, d in self.docs:
            self.kinds.setdefault(d["kind"], []).append(d)

    def test_consistent(self):
        self.assertEqual(problems(self.docs), [])

    def test_the_checker_finds_breakage(self):
        # The same checks on deliberately broken copies must complain.
        broken = yaml.safe_load(yaml.safe_dump(self.kinds["DaemonSet"][0]))
        broken["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
        del broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]
        found = problems([("x.yaml", d) for _, d in self.docs if d["kind"] != "DaemonSet"] +
                         [("x.yaml", broken)])
        self.assertTrue(any("does not match template labels" in p for p in found), found)
        self.assertTrue(any("must drop ALL" in p for p in found), found)
        svc = yaml.safe_load(yaml.safe_dump(self.kinds["Service"][0]))
        svc["spec"]["ports"][0]["targetPort"] = "nope"
        found = problems([("x.yaml", d) for _, d in self.docs if d["kind"] != "Service"] +
                         [("x.yaml", svc)])
        self.assertTrue(any("targetPort nope" in p for p in found), found)

    def test_agent_daemonset(self):
        (ds,) = self.kinds["DaemonSet"]
        pod = ds["spec"]["template"]["spec"]
        self.assertTrue(pod["hostPID"], "the agent must see the host's processes")
        self.assertTrue(pod["hostNetwork"], "node addresses must be the machine's")
        (c,) = pod["containers"]
        self.assertEqual(sorted(c["securityContext"]["capabilities"]["add"]),
                         ["DAC_READ_SEARCH", "SYS_PTRACE"])
        self.assertNotIn("privileged", c["securityContext"])
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(
            volumes[mounts["/var/lib/kubelet/pod-resources"]]["hostPath"]["path"],
            "/var/lib/kubelet/pod-resources")
        flags = self.kinds["ConfigMap"][0]["data"]["prov-agent.flags"]
        self.assertIn("--kubelet-pod-resources-socket=/var/lib/kubelet/pod-resources/kubelet.sock",
                      flags)

    def test_provd_on_sqlite_is_one_replica_recreated(self):
        (dep,) = self.kinds["Deployment"]
        self.assertEqual(dep["spec"]["replicas"], 1)
        self.assertEqual(dep["spec"]["strategy"]["type"], "Recreate")
        sc = dep["spec"]["template"]["spec"]["securityContext"]
        self.assertTrue(sc["runAsNonRoot"])

    def test_network_policy_denies_by_default(self):
        deny = [p for p in self.kinds["NetworkPolicy"] if p["spec"]["podSelector"] == {}]
        self.assertEqual(len(deny), 1)
        self.assertEqual(sorted(deny[0]["spec"]["policyTypes"]), ["Egress", "Ingress"])
        self.assertNotIn("ingress", deny[0]["spec"])

    def test_flag_files_are_accepted_by_the_binaries(self):
        for _, d in self.docs:
            if d["kind"] != "ConfigMap":
                continue
            for key, text in d["data"].items():
                binary = {"prov-agent.flags": PROV_AGENT, "provd.flags": PROVD}.get(key)
                self.assertIsNotNone(binary, f"no binary for {key}")
                with tempfile.NamedTemporaryFile("w", suffix=".flags") as f:
                    f.write(text)
                    f.flush()
                    r = subprocess.run([binary, f"--flagfile={f.name}", "--version"],
                                       capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, f"{key}: {r.stderr}")
                self.assertNotIn("ERROR", r.stderr, f"{key}: {r.stderr}")


if __name__ == "__main__":
    DEPLOY_DIR, PROV_AGENT, PROVD = sys.argv[1:4]
    unittest.main(argv=sys.argv[:1], verbosity=2)
