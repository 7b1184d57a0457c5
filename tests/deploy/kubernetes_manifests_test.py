#!/usr/bin/env python3
"""The Kubernetes manifests in deploy/kubernetes/ parse, carry the fields their kinds require, agree
with each other (selectors, ports, probes, volumes, config maps, secrets, network policies), keep
the security settings the docs promise, and their flag files are accepted by the real binaries.

provd-*.yaml are alternatives (provd-sqlite.yaml OR provd-postgresql.yaml): each is checked together
with the shared files (namespaces, RBAC, network policy, the agent), never with the other.

  tests/deploy/kubernetes_manifests_test.py DEPLOY_DIR PROV_AGENT PROVD
"""
import glob
import os
import re
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
    "PodDisruptionBudget": ["metadata.namespace", "spec.selector.matchLabels"],
    "Service": ["metadata.namespace", "spec.selector", "spec.ports"],
    "Role": ["metadata.namespace", "rules"],
    "RoleBinding": ["metadata.namespace", "subjects", "roleRef.kind", "roleRef.name",
                    "roleRef.apiGroup"],
    "NetworkPolicy": ["metadata.namespace", "spec.podSelector", "spec.policyTypes"],
}
API_VERSIONS = {
    "Namespace": "v1", "ServiceAccount": "v1", "ConfigMap": "v1", "PersistentVolumeClaim": "v1",
    "Service": "v1", "DaemonSet": "apps/v1", "Deployment": "apps/v1",
    "PodDisruptionBudget": "policy/v1",
    "Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}
# provd's alternatives: each is checked with the shared files, never with another alternative.
ALTERNATIVES = "provd-*.yaml"


def get(doc, path):
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def load_file(path):
    with open(path, encoding="utf-8") as f:
        return [(os.path.basename(path), d) for d in yaml.safe_load_all(f) if d is not None]


def load_sets():
    """{alternative file name: the documents of the shared files plus that alternative}."""
    alternatives = sorted(glob.glob(os.path.join(DEPLOY_DIR, ALTERNATIVES)))
    shared = []
    for path in sorted(glob.glob(os.path.join(DEPLOY_DIR, "*.yaml"))):
        if path not in alternatives:
            shared += load_file(path)
    return {os.path.basename(p): shared + load_file(p) for p in alternatives}


def documented_secrets():
    """{secret name: {documented keys}} from the README's "Secrets are named, not shipped" list:
    the Secrets the operator provides (none is shipped: they hold keys and passwords)."""
    with open(os.path.join(DEPLOY_DIR, "README.md"), encoding="utf-8") as f:
        text = f.read()
    at = text.find("Secrets are named, not shipped")
    if at < 0:
        return {}
    paragraph = text[at:].split("\n\n")[0]
    return {name: set(re.findall(r"`([^`]+)`", keys))
            for name, keys in re.findall(r"`([a-z0-9.-]+)` \(([^)]*)\)", paragraph)}


def labels_match(selector, labels):
    return bool(selector) and all((labels or {}).get(k) == v for k, v in selector.items())


def flag_files(pod, container, config_maps):
    """[(path, text or None)] of each --flagfile the container's args name: the text of a
    ConfigMap key mounted there, None for a file from a Secret (operator-provided)."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    out = []
    for arg in container.get("args", []):
        if not arg.startswith("--flagfile="):
            continue
        path = arg.split("=", 1)[1]
        text = None
        for m in container.get("volumeMounts", []):
            v = volumes.get(m["name"], {})
            if "configMap" in v and m["mountPath"] == path and m.get("subPath"):
                text = (config_maps.get(v["configMap"]["name"]) or {}).get(m["subPath"])
        out.append((path, text))
    return out


def flags_of(text):
    """{flag name (dashes): value} of a flag file's text."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("--"):
            name, _, value = line[2:].partition("=")
            out[name.replace("_", "-")] = value
    return out


def workload_problems(d, namespace_objects, secrets_doc):
    """Problems of one Deployment or DaemonSet against the objects of its namespace."""
    out = []
    name, ns = get(d, "metadata.name"), get(d, "metadata.namespace")
    config_maps, pvcs, accounts, secrets = namespace_objects
    sel = get(d, "spec.selector.matchLabels") or {}
    labels = get(d, "spec.template.metadata.labels") or {}
    if any(labels.get(k) != v for k, v in sel.items()):
        out.append(f"{name}: selector {sel} does not match template labels {labels}")
    pod = get(d, "spec.template.spec")
    sa = pod.get("serviceAccountName")
    if sa not in accounts:
        out.append(f"{name}: service account {sa} not defined")
    if pod.get("automountServiceAccountToken") is not False:
        out.append(f"{name}: must not mount an API token (it never calls the API)")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    replicas = get(d, "spec.replicas") if d.get("kind") == "Deployment" else None
    for c in pod["containers"]:
        for field in ("name", "image"):
            if not c.get(field):
                out.append(f"{name}: container without {field}")
        env = {e["name"] for e in c.get("env", [])}
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        mounts = c.get("volumeMounts", [])
        for m in mounts:
            if m["name"] not in volumes:
                out.append(f"{name}: mount {m['name']} has no volume")
        # $(VAR) in args and subPathExpr is expanded by the kubelet only from the container's env.
        for text in c.get("args", []) + [m.get("subPathExpr", "") for m in mounts]:
            for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", text):
                if var not in env:
                    out.append(f"{name}: $({var}) in {text!r} is no env var of the container")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            p = c.get(probe)
            if p is None:
                continue
            for kind in ("httpGet", "tcpSocket", "grpc"):
                port = get(p, f"{kind}.port")
                if isinstance(port, str) and port not in ports:
                    out.append(f"{name}: {probe} port {port} is no container port")
                elif isinstance(port, int) and port not in ports.values():
                    out.append(f"{name}: {probe} port {port} is no container port")
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: allowPrivilegeEscalation must be false")
        if sc.get("readOnlyRootFilesystem") is not True:
            out.append(f"{name}: readOnlyRootFilesystem must be true")
        if get(sc, "capabilities.drop") != ["ALL"]:
            out.append(f"{name}: must drop ALL capabilities")
        if get(c, "resources.limits.memory") is None:
            out.append(f"{name}: no memory limit")
        # Every path a flag names lies on a mount (the root filesystem is read-only and empty),
        # and a file from a Secret is one of the keys the README says that Secret holds.
        def check_path(flag, value):
            under = [m for m in mounts if value == m["mountPath"] or
                     value.startswith(m["mountPath"].rstrip("/") + "/")]
            if not under:
                out.append(f"{name}: --{flag}={value} is on no mount")
                return
            m = max(under, key=lambda m: len(m["mountPath"]))
            secret = get(volumes.get(m["name"], {}), "secret.secretName")
            key = os.path.relpath(value, m["mountPath"])
            if secret in secrets_doc and key not in secrets_doc[secret]:
                out.append(f"{name}: --{flag} reads {key} from Secret {secret}, which the "
                           f"README says holds {sorted(secrets_doc[secret])}")

        for path, text in flag_files(pod, c, config_maps):
            check_path("flagfile", path)
            for flag, value in flags_of(text or "").items():
                if value.startswith("/"):
                    check_path(flag, value)
    for v in volumes.values():
        if "configMap" in v and v["configMap"]["name"] not in config_maps:
            out.append(f"{name}: volume {v['name']} names missing ConfigMap "
                       f"{v['configMap']['name']}")
        claim = get(v, "persistentVolumeClaim.claimName")
        if claim is not None:
            if claim not in pvcs:
                out.append(f"{name}: volume {v['name']} names a missing claim")
            elif (replicas or 1) > 1 and "ReadWriteMany" not in get(pvcs[claim],
                                                                      "spec.accessModes"):
                out.append(f"{name}: {replicas} replicas share claim {claim}, which is not "
                           "ReadWriteMany")
        secret = get(v, "secret.secretName")
        if secret is not None and secret not in secrets and secret not in secrets_doc:
            out.append(f"{name}: Secret {secret} is neither shipped nor in the README's list "
                       "of Secrets the operator provides")
    return out


def problems(docs, secrets_doc=None):
    """Every problem found, as readable strings (empty: the manifests are consistent)."""
    secrets_doc = documented_secrets() if secrets_doc is None else secrets_doc
    out = []
    by_kind = {}
    seen = set()
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
        key = (kind, get(doc, "metadata.namespace"), get(doc, "metadata.name"))
        if key in seen:
            out.append(f"{where}: defined twice")
        seen.add(key)
        for path in REQUIRED[kind]:
            if get(doc, path) in (None, "", [], {}) and path != "spec.podSelector":
                out.append(f"{where}: {path} missing")
            elif get(doc, path) is None:
                out.append(f"{where}: {path} missing")
        by_kind.setdefault(kind, []).append(doc)
    namespaces = {get(d, "metadata.name") for d in by_kind.get("Namespace", [])}

    def in_ns(kind, ns):
        return {get(d, "metadata.name"): d for d in by_kind.get(kind, [])
                if get(d, "metadata.namespace") == ns}

    for kind, docs_of_kind in by_kind.items():
        for d in docs_of_kind:
            ns = get(d, "metadata.namespace")
            if kind != "Namespace" and ns not in namespaces:
                out.append(f"{kind} {get(d, 'metadata.name')}: namespace {ns} not defined")
    workloads = by_kind.get("DaemonSet", []) + by_kind.get("Deployment", [])
    for d in workloads:
        ns = get(d, "metadata.namespace")
        objects = ({n: c.get("data") or {} for n, c in in_ns("ConfigMap", ns).items()},
                   in_ns("PersistentVolumeClaim", ns), in_ns("ServiceAccount", ns),
                   in_ns("Secret", ns))
        out += workload_problems(d, objects, secrets_doc)

    def selected(selector, ns):
        return [w for w in workloads if get(w, "metadata.namespace") == ns and
                labels_match(selector, get(w, "spec.template.metadata.labels"))]

    for pdb in by_kind.get("PodDisruptionBudget", []):
        spec = pdb["spec"]
        if ("minAvailable" in spec) == ("maxUnavailable" in spec):
            out.append(f"PodDisruptionBudget {get(pdb, 'metadata.name')}: needs exactly one of "
                       "minAvailable and maxUnavailable")
        if not selected(get(pdb, "spec.selector.matchLabels"), get(pdb, "metadata.namespace")):
            out.append(f"PodDisruptionBudget {get(pdb, 'metadata.name')}: selects no workload")
    policies = by_kind.get("NetworkPolicy", [])
    for svc in by_kind.get("Service", []):
        ns = get(svc, "metadata.namespace")
        targets = selected(get(svc, "spec.selector"), ns)
        if not targets:
            out.append(f"Service {get(svc, 'metadata.name')}: selects no workload")
        for t in targets:
            pod_labels = get(t, "spec.template.metadata.labels")
            port_numbers = {p.get("name"): p["containerPort"]
                            for c in get(t, "spec.template.spec.containers")
                            for p in c.get("ports", [])}
            # The ports a NetworkPolicy selecting the pods lets in (policies add up).
            allowed = {p.get("port") for pol in policies
                       if get(pol, "metadata.namespace") == ns and
                       labels_match(get(pol, "spec.podSelector.matchLabels"), pod_labels)
                       for rule in get(pol, "spec.ingress") or [] for p in rule.get("ports", [])}
            restricted = any(get(pol, "metadata.namespace") == ns and
                             "Ingress" in get(pol, "spec.policyTypes") and
                             (get(pol, "spec.podSelector") == {} or
                              labels_match(get(pol, "spec.podSelector.matchLabels"), pod_labels))
                             for pol in policies)
            for p in get(svc, "spec.ports"):
                target = p.get("targetPort", p["port"])
                if isinstance(target, str) and target not in port_numbers:
                    out.append(f"Service {get(svc, 'metadata.name')}: targetPort "
                               f"{target} is no container port")
                    continue
                number = port_numbers.get(target, target)
                if restricted and number not in allowed:
                    out.append(f"Service {get(svc, 'metadata.name')}: port {number} is let in "
                               "by no NetworkPolicy")
    return out


def documented_store_flags():
    """The provd-store Secret's store.flags line the README tells the operator to create."""
    with open(os.path.join(DEPLOY_DIR, "README.md"), encoding="utf-8") as f:
        found = re.findall(r"store\.flags='(--store=[^']+)'", f.read())
    return found[0] if found else None


def seconds(duration):
    """'15s', '1m', '500ms' -> seconds (the forms absl::Duration flags take)."""
    total = 0.0
    for number, unit in re.findall(r"([0-9.]+)(ms|s|m|h)", duration):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


class ManifestTest(unittest.TestCase):
    def setUp(self):
        self.sets = load_sets()

    def kinds(self, alternative):
        out = {}
        for _, d in self.sets[alternative]:
            out.setdefault(d["kind"], []).append(d)
        return out

    def test_both_alternatives_are_there(self):
        self.assertEqual(sorted(self.sets), ["provd-postgresql.yaml", "provd-sqlite.yaml"])

    def test_consistent(self):
        for alternative, docs in self.sets.items():
            with self.subTest(alternative):
                self.assertEqual(problems(docs), [])

    def test_the_checker_finds_breakage(self):
        # The same checks on deliberately broken copies must complain.
        docs = self.sets["provd-sqlite.yaml"]
        kinds = self.kinds("provd-sqlite.yaml")
        broken = yaml.safe_load(yaml.safe_dump(kinds["DaemonSet"][0]))
        broken["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
        del broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]
        found = problems([("x.yaml", d) for _, d in docs if d["kind"] != "DaemonSet"] +
                         [("x.yaml", broken)])
        self.assertTrue(any("does not match template labels" in p for p in found), found)
        self.assertTrue(any("must drop ALL" in p for p in found), found)
        svc = yaml.safe_load(yaml.safe_dump(kinds["Service"][0]))
        svc["spec"]["ports"][0]["targetPort"] = "nope"
        found = problems([("x.yaml", d) for _, d in docs if d["kind"] != "Service"] +
                         [("x.yaml", svc)])
        self.assertTrue(any("targetPort nope" in p for p in found), found)

    def test_the_checker_finds_breakage_on_postgresql(self):
        docs = self.sets["provd-postgresql.yaml"]

        def broken(change):
            copy = list(yaml.safe_load_all(yaml.safe_dump_all([d for _, d in docs])))
            change({(d["kind"], d["metadata"]["name"]): d for d in copy})
            return problems([("x.yaml", d) for d in copy])

        def pod(objs):
            return objs[("Deployment", "provd")]["spec"]["template"]["spec"]

        def container(objs):
            return pod(objs)["containers"][0]

        def store_volume(objs):
            (v,) = [v for v in pod(objs)["volumes"] if v["name"] == "store"]
            return v

        cases = {
            "Secret provd-stor is neither shipped nor in the README": lambda o: store_volume(o)[
                "secret"].__setitem__("secretName", "provd-stor"),
            "$(POD) in": lambda o: container(o)["args"].__setitem__(-1, "--replica-name=$(POD)"),
            "is not ReadWriteMany": lambda o: o[("PersistentVolumeClaim", "provd-exports")][
                "spec"].__setitem__("accessModes", ["ReadWriteOnce"]),
            "PodDisruptionBudget provd: selects no workload": lambda o: o[
                ("PodDisruptionBudget", "provd")]["spec"]["selector"]["matchLabels"].__setitem__(
                    "provenance.io/store", "sqlite"),
            "readinessProbe port gprc is no container port": lambda o: container(o)[
                "readinessProbe"]["tcpSocket"].__setitem__("port", "gprc"),
            "--flagfile=/etc/provenance/stor/store.flags is on no mount": lambda o: container(o)[
                "args"].__setitem__(1, "--flagfile=/etc/provenance/stor/store.flags"),
            "reads store.flag from Secret provd-store": lambda o: container(o)[
                "args"].__setitem__(1, "--flagfile=/etc/provenance/store/store.flag"),
            "reads tls.pem from Secret provd-tls": lambda o: o[
                ("ConfigMap", "provd-postgresql-config")]["data"].__setitem__(
                    "provd.flags", o[("ConfigMap", "provd-postgresql-config")]["data"][
                        "provd.flags"].replace("tls/tls.crt", "tls/tls.pem")),
            "port 8080 is let in by no NetworkPolicy": lambda o: o[
                ("NetworkPolicy", "provd")]["spec"]["ingress"].pop(),
        }
        for expected, change in cases.items():
            with self.subTest(expected):
                found = broken(change)
                self.assertTrue(any(expected in p for p in found), found)
        twice = problems(docs + [("y.yaml", d) for _, d in docs if d["kind"] == "Service"])
        self.assertTrue(any("Service provd: defined twice" in p for p in twice), twice)

    def test_agent_daemonset(self):
        (ds,) = self.kinds("provd-sqlite.yaml")["DaemonSet"]
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
        (cm,) = [d for d in self.kinds("provd-sqlite.yaml")["ConfigMap"]
                 if "prov-agent.flags" in d["data"]]
        self.assertIn("--kubelet-pod-resources-socket=/var/lib/kubelet/pod-resources/kubelet.sock",
                      cm["data"]["prov-agent.flags"])

    def test_agents_reach_provd_in_either_alternative(self):
        # The agent's --server and --enroll-server name a Service of either alternative.
        for alternative in self.sets:
            kinds = self.kinds(alternative)
            (cm,) = [d for d in kinds["ConfigMap"] if "prov-agent.flags" in d["data"]]
            flags = flags_of(cm["data"]["prov-agent.flags"])
            for flag in ("server", "enroll-server"):
                with self.subTest(alternative=alternative, flag=flag):
                    host, port = flags[flag].rsplit(":", 1)
                    name, ns = host.split(".")[:2]
                    services = [s for s in kinds["Service"] if s["metadata"]["name"] == name and
                                s["metadata"]["namespace"] == ns]
                    self.assertEqual(len(services), 1, f"{flag}: no Service {name}.{ns}")
                    self.assertIn(int(port), [p["port"] for p in services[0]["spec"]["ports"]])

    def test_provd_listens_where_its_ports_say(self):
        # --listen, --enroll-listen, --metrics-listen and --web-listen are the container ports
        # the Services and probes name.
        for alternative in self.sets:
            kinds = self.kinds(alternative)
            (dep,) = kinds["Deployment"]
            pod = dep["spec"]["template"]["spec"]
            (c,) = pod["containers"]
            config_maps = {d["metadata"]["name"]: d["data"] for d in kinds["ConfigMap"]}
            flags = {}
            for _, text in flag_files(pod, c, config_maps):
                flags.update(flags_of(text or ""))
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            for flag, port in (("listen", "grpc"), ("enroll-listen", "enroll"),
                               ("metrics-listen", "metrics"), ("web-listen", "web")):
                with self.subTest(alternative=alternative, flag=flag):
                    self.assertEqual(int(flags[flag].rsplit(":", 1)[1]), ports[port])

    def test_provd_on_sqlite_is_one_replica_recreated(self):
        (dep,) = self.kinds("provd-sqlite.yaml")["Deployment"]
        self.assertEqual(dep["spec"]["replicas"], 1)
        self.assertEqual(dep["spec"]["strategy"]["type"], "Recreate")
        sc = dep["spec"]["template"]["spec"]["securityContext"]
        self.assertTrue(sc["runAsNonRoot"])

    def test_provd_on_postgresql_is_several_replicas_rolled_one_at_a_time(self):
        kinds = self.kinds("provd-postgresql.yaml")
        (dep,) = kinds["Deployment"]
        replicas = dep["spec"]["replicas"]
        self.assertIn(replicas, (2, 3))
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        pod = dep["spec"]["template"]["spec"]
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        rolling = dep["spec"]["strategy"]
        self.assertEqual(rolling["type"], "RollingUpdate")
        unavailable = rolling["rollingUpdate"]["maxUnavailable"]
        surge = rolling["rollingUpdate"]["maxSurge"]
        self.assertIsInstance(unavailable, int)
        self.assertLess(unavailable, replicas, "a rollout must never take the last replica down")
        self.assertGreater(unavailable + surge, 0, "a rollout must be able to proceed")
        (term,) = pod["affinity"]["podAntiAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]
        self.assertEqual(term["topologyKey"], "kubernetes.io/hostname")
        self.assertTrue(labels_match(term["labelSelector"]["matchLabels"], pod_labels))
        # Required anti-affinity: a surge pod would need a node beyond the replicas'.
        self.assertEqual(surge, 0)
        (pdb,) = kinds["PodDisruptionBudget"]
        self.assertTrue(labels_match(pdb["spec"]["selector"]["matchLabels"], pod_labels))
        if "maxUnavailable" in pdb["spec"]:
            self.assertLess(pdb["spec"]["maxUnavailable"], replicas)
        else:
            self.assertGreaterEqual(pdb["spec"]["minAvailable"], 1)

    def test_provd_on_postgresql_configuration(self):
        kinds = self.kinds("provd-postgresql.yaml")
        (dep,) = kinds["Deployment"]
        pod = dep["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        config_maps = {d["metadata"]["name"]: d["data"] for d in kinds["ConfigMap"]}
        files = flag_files(pod, c, config_maps)
        flags = {}
        for _, text in files:
            flags.update(flags_of(text or ""))
        args = flags_of("\n".join(a for a in c["args"] if not a.startswith("--flagfile=")))
        # The replica's name is the pod's (unique, and what kubectl shows).
        env = {e["name"]: e for e in c["env"]}
        self.assertEqual(args["replica-name"], "$(POD_NAME)")
        self.assertEqual(env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name")
        # --store only from the provd-store Secret (it carries the password).
        self.assertNotIn("store", flags)
        self.assertNotIn("store", args)
        (store_file,) = [p for p, text in files if text is None]
        store_volume = volumes[mounts[os.path.dirname(store_file)]["name"]]
        self.assertEqual(store_volume["secret"]["secretName"], "provd-store")
        self.assertIn(os.path.basename(store_file), documented_secrets()["provd-store"])
        # The shared export signing key comes from a Secret.
        key = flags["export-signing-key"]
        self.assertEqual(volumes[mounts[os.path.dirname(key)]["name"]]["secret"]["secretName"],
                         "provd-export-signing")
        self.assertGreaterEqual(seconds(flags["leader-takeover"]), 1)
        # Stateless: the data directory is the pod's own emptyDir; the one claim is the shared
        # exports volume, each pod in its own folder of it.
        self.assertIn("emptyDir", volumes[mounts[flags["data-dir"]]["name"]])
        exports = mounts[flags["export-dir"]]
        self.assertIn("$(POD_NAME)", exports["subPathExpr"])
        claims = [v for v in volumes.values() if "persistentVolumeClaim" in v]
        self.assertEqual([v["name"] for v in claims], [exports["name"]])
        # Probes: the agents' port, which opens once the store is open and closes on SIGTERM.
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            self.assertEqual(c[probe]["tcpSocket"]["port"], "grpc", probe)
        # Services: agents and provctl, people, and each replica's metrics.
        services = {s["metadata"]["name"]: s for s in kinds["Service"]}
        ports = {n: sorted(p["targetPort"] for p in s["spec"]["ports"])
                 for n, s in services.items()}
        self.assertEqual(ports, {"provd": ["enroll", "grpc"], "provd-web": ["web"],
                                 "provd-metrics": ["metrics"]})
        self.assertEqual(services["provd-metrics"]["spec"]["clusterIP"], "None")

    def test_provd_on_postgresql_reaches_its_database(self):
        # The documented store.flags names every node with target_session_attrs=read-write, its
        # files lie in the Secret, and a NetworkPolicy lets provd out to each node's port.
        kinds = self.kinds("provd-postgresql.yaml")
        line = documented_store_flags()
        self.assertIsNotNone(line, "README: no store.flags='--store=...' example")
        url = line.split("=", 1)[1]
        self.assertRegex(url, r"^postgresql://")
        authority, _, query = url[len("postgresql://"):].partition("?")
        hosts = authority.rsplit("@", 1)[-1].split("/")[0].split(",")
        self.assertGreaterEqual(len(hosts), 2, "a Patroni cluster has several nodes")
        params = dict(p.split("=", 1) for p in query.split("&"))
        self.assertEqual(params["target_session_attrs"], "read-write")
        documented = documented_secrets()["provd-store"]
        for value in params.values():
            if value.startswith("/etc/provenance/store/"):
                self.assertIn(os.path.basename(value), documented)
        (dep,) = kinds["Deployment"]
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        egress = {(p["port"], p.get("protocol", "TCP"))
                  for pol in kinds["NetworkPolicy"]
                  if labels_match(get(pol, "spec.podSelector.matchLabels"), pod_labels) and
                  "Egress" in pol["spec"]["policyTypes"]
                  for rule in pol["spec"].get("egress", []) for p in rule.get("ports", [])}
        for host in hosts:
            self.assertIn((int(host.rsplit(":", 1)[1]), "TCP"), egress, host)

    def test_network_policy_denies_by_default(self):
        deny = [p for p in self.kinds("provd-sqlite.yaml")["NetworkPolicy"]
                if p["spec"]["podSelector"] == {}]
        self.assertEqual(len(deny), 1)
        self.assertEqual(sorted(deny[0]["spec"]["policyTypes"]), ["Egress", "Ingress"])
        self.assertNotIn("ingress", deny[0]["spec"])

    def test_flag_files_are_accepted_by_the_binaries(self):
        for alternative, docs in self.sets.items():
            for _, d in docs:
                if d["kind"] != "ConfigMap":
                    continue
                for key, text in d["data"].items():
                    binary = {"prov-agent.flags": PROV_AGENT, "provd.flags": PROVD}.get(key)
                    self.assertIsNotNone(binary, f"no binary for {key}")
                    with self.subTest(alternative=alternative, key=key):
                        self.assert_accepted(binary, text)

    def test_provd_command_lines_are_accepted(self):
        # What the kubelet runs: the args, $(VAR)s expanded, each --flagfile's text (a Secret's:
        # the README's example), all at once.
        for alternative in self.sets:
            kinds = self.kinds(alternative)
            (dep,) = kinds["Deployment"]
            pod = dep["spec"]["template"]["spec"]
            (c,) = pod["containers"]
            config_maps = {d["metadata"]["name"]: d["data"] for d in kinds["ConfigMap"]}
            lines = []
            for _, text in flag_files(pod, c, config_maps):
                lines.append(text if text is not None else documented_store_flags())
            for arg in c["args"]:
                if not arg.startswith("--flagfile="):
                    lines.append(arg.replace("$(POD_NAME)", "provd-6f7d9c8b5-x2v4q"))
            with self.subTest(alternative):
                self.assert_accepted(PROVD, "\n".join(lines))

    def assert_accepted(self, binary, text):
        with tempfile.NamedTemporaryFile("w", suffix=".flags") as f:
            f.write(text)
            f.flush()
            r = subprocess.run([binary, f"--flagfile={f.name}", "--version"],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("ERROR", r.stderr, r.stderr)


if __name__ == "__main__":
    DEPLOY_DIR, PROV_AGENT, PROVD = sys.argv[1:4]
    unittest.main(argv=sys.argv[:1], verbosity=2)
