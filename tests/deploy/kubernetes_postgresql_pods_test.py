#!/usr/bin/env python3
"""provd-postgresql.yaml's pods, run the way the kubelet would run them, on a real PostgreSQL
started by the test: no cluster (there is none on the CI machine), but the Deployment's own
container args, env (the downward API's pod name), ConfigMap, Secrets (generated here: TLS,
the node CA, the export signing key, store.flags with a password), emptyDirs and the shared
exports claim (each pod's folder from subPathExpr), its replica count and its probes.

It checks what the manifest's comments and deploy/kubernetes/README.md claim: every replica
passes its startup and readiness probes; one leads (prov_leader, provd.leader names the pod);
every pod name is in provd.replicas; each pod has its own export folder on the shared volume; the
bootstrap admin token is written by one pod only; the database password is in no log, no
/metrics page, no command line and no environment; SIGTERM (a pod deleted in a rollout) closes
the probed port, exits 0 within terminationGracePeriodSeconds, and a standby leads within
--leader-takeover; the replacement pod starts as a standby beside the others.

  tests/deploy/kubernetes_postgresql_pods_test.py DEPLOY_DIR PROVD

PostgreSQL 15 from /usr/lib/postgresql/15/bin (or PROV_PG_BINDIR); skipped without it unless
PROV_REQUIRE_POSTGRES=1. As root, PostgreSQL runs as `postgres` and provd as the manifest's
runAsUser/runAsGroup, with Secret files group-owned by its fsGroup at their defaultMode.
"""
import ctypes
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kubernetes_manifests_test as manifests  # noqa: E402

DEPLOY_DIR = PROVD = None
PASSWORD = "k8s-Secret-7f3a9c"  # the database password: must never show up outside the Secret


def die_with_parent():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def as_user(uid, gid):
    def run():
        die_with_parent()
        if os.geteuid() == 0 and uid is not None:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
    return run


_HANDED_OUT = set()


def free_port():
    """A port free now, below the kernel's ephemeral range: a pod's provd binds it later, and a
    port from that range (what bind to port 0 gives) can meanwhile become another process's
    listener or outbound source port (a test running beside this one took one once)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, max(10001, ephemeral_low))
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Straight to 127.0.0.1, whatever proxy the environment names.
URLS = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def tcp_probe(port):
    """What a tcpSocket probe does: connect, then close."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


SANITIZER_OPTIONS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS")


def tail(path, chars=3000):
    with open(path, errors="replace") as f:
        return f.read()[-chars:]


# Sanitizer builds run slower (ctest sets this: 3 under tsan, 2 under asan). It scales the waits
# for what any machine does (PostgreSQL up, a port open, an election) and the PostgreSQL connect
# timeout, not the budgets the manifests set (startup probe, grace period, takeover).
SCALE = float(os.environ.get("PROV_TEST_TIME_SCALE") or 1)


def wait_until(what, deadline_s, check, proc=None, log=None):
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        if check():
            return time.monotonic() - start
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited {proc.returncode}: "
                                 f"{tail(log) if log else ''}")
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {deadline_s} s{': ' + tail(log) if log else ''}")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """provd-tls (tls.crt/tls.key, from a server CA) and provd-node-ca (ca.crt/ca.key)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ca_ext = ["-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    openssl("req", "-x509", *ec, "-keyout", "server-ca.key", "-out", "server-ca.crt", "-days", "2",
            "-subj", "/CN=provd server CA", *ca_ext, cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=node CA", *ca_ext, cwd=d)
    openssl("req", *ec, "-keyout", "tls.key", "-out", "tls.csr", "-subj",
            "/CN=provd.provenance.svc", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:provd.provenance.svc,DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "tls.csr", "-CA", "server-ca.crt", "-CAkey", "server-ca.key",
            "-CAcreateserial", "-out", "tls.crt", "-days", "2", "-extfile", "san.ext", cwd=d)

    def read(name):
        with open(os.path.join(d, name), "rb") as f:
            return f.read()
    return {"provd-tls": {"tls.crt": read("tls.crt"), "tls.key": read("tls.key")},
            "provd-node-ca": {"ca.crt": read("ca.crt"), "ca.key": read("ca.key")}}


class Postgres:
    """PostgreSQL 15 on a Unix socket in a fresh folder; role provd with a password (SCRAM)."""

    def __init__(self, base):
        self.bindir = os.environ.get("PROV_PG_BINDIR") or "/usr/lib/postgresql/15/bin"
        self.dir = os.path.join(base, "pg")
        os.mkdir(self.dir)
        self.uid = self.gid = None
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("postgres")
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            os.chown(self.dir, self.uid, self.gid)
        data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        subprocess.run([f"{self.bindir}/initdb", "-D", data, "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--locale=C", "--no-sync"], check=True,
                       capture_output=True, preexec_fn=as_user(self.uid, self.gid))
        with open(os.path.join(data, "pg_hba.conf"), "w") as f:
            f.write("local all postgres trust\nlocal all all scram-sha-256\n")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [f"{self.bindir}/postgres", "-D", data, "-k", self.dir, "-p", "5432", "-c",
                 "listen_addresses=", "-c", "fsync=off", "-c", "log_connections=on"],
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=as_user(self.uid, self.gid))
        wait_until("postgres ready", 30 * SCALE, lambda: subprocess.run(
            ["pg_isready", "-h", self.dir, "-p", "5432"], capture_output=True).returncode == 0,
            self.proc, self.log)
        self.psql("CREATE ROLE provd LOGIN PASSWORD '%s'" % PASSWORD)
        self.psql("CREATE DATABASE provd OWNER provd")

    def psql(self, sql, db="postgres"):
        r = subprocess.run(["psql", "-h", self.dir, "-p", "5432", "-U", "postgres", "-d", db,
                            "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"psql {sql}: {r.stderr}")
        return r.stdout.split("\n")[:-1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Pod:
    """One pod of the Deployment: its mounts materialised under `root`, its container started
    with the manifest's args and env, its container ports mapped to free ports of 127.0.0.1."""

    def __init__(self, name, deployment, config_maps, secrets, claims, base):
        self.name = name
        self.root = os.path.join(base, "pods", name)
        pod = deployment["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        self.container = c
        sc = pod.get("securityContext", {})
        self.uid, self.gid = sc.get("runAsUser"), sc.get("runAsGroup")
        fs_group = sc.get("fsGroup")
        self.grace = pod.get("terminationGracePeriodSeconds", 30)
        self.env = {}
        for e in c.get("env", []):
            if get_path(e, "valueFrom.fieldRef.fieldPath") == "metadata.name":
                self.env[e["name"]] = name
            elif "value" in e:
                self.env[e["name"]] = e["value"]
            else:
                raise AssertionError(f"env {e['name']}: this test knows only metadata.name")
        self.ports = {p["containerPort"]: free_port() for p in c["ports"]}
        self.port_names = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.volumes = {v["name"]: v for v in pod["volumes"]}
        self.mounts = []  # (container path, host path, kind)
        for m in c["volumeMounts"]:
            v = self.volumes[m["name"]]
            host = self.root + m["mountPath"]
            os.makedirs(os.path.dirname(host), exist_ok=True)
            if "configMap" in v:
                with open(host, "w") as f:
                    f.write(self.rewrite(config_maps[v["configMap"]["name"]][m["subPath"]]))
                kind = "configMap"
            elif "secret" in v:
                os.mkdir(host)
                mode = v["secret"].get("defaultMode", 0o644)
                for key, value in secrets[v["secret"]["secretName"]].items():
                    path = os.path.join(host, key)
                    with open(path, "wb") as f:
                        f.write(value)  # store.flags is made for this machine already
                    os.chmod(path, mode)
                    if fs_group is not None and os.geteuid() == 0:
                        os.chown(path, 0, fs_group)
                os.chmod(host, 0o555)  # a Secret volume is read-only
                kind = "secret"
            elif "emptyDir" in v:
                os.mkdir(host)
                kind = "emptyDir"
            elif "persistentVolumeClaim" in v:
                shared = claims[v["persistentVolumeClaim"]["claimName"]]
                sub = self.expand(m.get("subPathExpr", m.get("subPath", "")))
                target = os.path.join(shared, sub)
                os.makedirs(target, exist_ok=True)  # the kubelet creates a missing subPath
                os.symlink(target, host)
                kind = "claim"
                host = target
            else:
                raise AssertionError(f"volume {m['name']}: kind not known to this test")
            if kind in ("emptyDir", "claim") and fs_group is not None and os.geteuid() == 0:
                os.chown(host, self.uid or 0, fs_group)
            self.mounts.append((m["mountPath"], host, kind))
        self.args = [self.rewrite(self.expand(a)) for a in c["args"]]
        self.log = os.path.join(self.root, "stderr.log")
        self.proc = None

    def expand(self, text):
        return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: self.env[m.group(1)], text)

    def rewrite(self, text):
        """Container paths -> this pod's folders; container listen ports -> its free ports."""
        text = re.sub(r"(=)(/[^\s]*)", lambda m: m.group(1) + self.root + m.group(2), text)
        return re.sub(r"0\.0\.0\.0:(\d+)",
                      lambda m: f"127.0.0.1:{self.ports[int(m.group(1))]}", text)

    def port(self, name):
        return self.ports[self.port_names[name]]

    def start(self):
        cwd = os.path.join(self.root, "cwd")  # not writable by provd: it must need no cwd
        os.makedirs(cwd, exist_ok=True)
        env = dict(self.env, PATH=os.environ.get("PATH", "/usr/bin:/bin"))
        # A sanitizer build's runtime options (tools/ci-sanitizers.sh: suppressions, halt on the
        # first report) are the test run's, not the pod's: passed through as they are.
        for name in SANITIZER_OPTIONS:
            if name in os.environ:
                env[name] = os.environ[name]
        self.started = time.monotonic()
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([PROVD, *self.args], env=env, cwd=cwd, stdout=log,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=as_user(self.uid, self.gid))

    def probe(self, probe):
        p = self.container[probe]
        port = p["tcpSocket"]["port"]
        return tcp_probe(self.port(port) if isinstance(port, str) else self.ports[port])

    def startup_budget(self):
        p = self.container["startupProbe"]
        return p.get("periodSeconds", 10) * p.get("failureThreshold", 3)

    def metrics(self):
        with URLS.open(f"http://127.0.0.1:{self.port('metrics')}/metrics", timeout=30) as r:
            return r.read().decode()

    def leading(self):
        m = re.search(r"^prov_leader(?:\{[^}]*\})? (\S+)$", self.metrics(), re.M)
        return m is not None and float(m.group(1)) == 1

    def stop(self, sig=signal.SIGKILL):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait()


def get_path(doc, path):
    return manifests.get(doc, path)


class PostgresqlPodsTest(unittest.TestCase):
    def setUp(self):
        bindir = os.environ.get("PROV_PG_BINDIR") or "/usr/lib/postgresql/15/bin"
        if not os.access(os.path.join(bindir, "postgres"), os.X_OK):
            why = f"PostgreSQL 15 is not available here: {bindir}/postgres is missing"
            if os.environ.get("PROV_REQUIRE_POSTGRES") == "1":
                self.fail(why + " (PROV_REQUIRE_POSTGRES=1)")
            self.skipTest(why)
        self.base = tempfile.mkdtemp(prefix="prov-k8s-pg-")
        os.chmod(self.base, 0o755)
        self.pods = []
        self.pg = Postgres(self.base)
        manifests.DEPLOY_DIR = DEPLOY_DIR
        docs = [d for _, d in manifests.load_file(os.path.join(DEPLOY_DIR,
                                                               "provd-postgresql.yaml"))]
        (self.deployment,) = [d for d in docs if d["kind"] == "Deployment"]
        self.config_maps = {d["metadata"]["name"]: d["data"] for d in docs
                            if d["kind"] == "ConfigMap"}
        self.claims = {}
        for d in docs:
            if d["kind"] == "PersistentVolumeClaim":
                self.claims[d["metadata"]["name"]] = os.path.join(self.base, "volumes",
                                                                  d["metadata"]["name"])
                os.makedirs(self.claims[d["metadata"]["name"]])
        # The operator's Secrets, made as deploy/kubernetes/README.md says.
        pki = os.path.join(self.base, "pki")
        os.mkdir(pki)
        self.secrets = make_pki(pki)
        self.secrets["provd-export-signing"] = {
            "export-signing.key": b"ed25519-seed " + os.urandom(32).hex().encode() + b"\n"}
        # The README's store.flags, pointed at this PostgreSQL: two hosts (the first one a
        # socket folder nobody serves, as a dead node would be), read-write, with the password.
        example = manifests.documented_store_flags()
        self.assertIsNotNone(example)
        self.assertIn("target_session_attrs=read-write", example)
        dead = os.path.join(self.base, "dead-node")
        os.mkdir(dead)
        self.secrets["provd-store"] = {"store.flags": (
            f"--store=postgresql://provd:{PASSWORD}@/provd?host={dead},{self.pg.dir}"
            "&port=5432,5432&target_session_attrs=read-write"
            f"&connect_timeout={int(10 * SCALE)}\n").encode()}
        self.pod_counter = 0

    def tearDown(self):
        for pod in getattr(self, "pods", []):
            pod.stop()
        if getattr(self, "pg", None) is not None:
            self.pg.stop()
        if getattr(self, "base", None) is not None:
            for folder, _, _ in os.walk(self.base):
                try:
                    os.chmod(folder, 0o755)  # the read-only Secret folders
                except OSError:
                    pass
            shutil.rmtree(self.base, ignore_errors=True)

    def new_pod(self):
        # ReplicaSet pod names: <deployment>-<template hash>-<5 characters>.
        self.pod_counter += 1
        name = f"{self.deployment['metadata']['name']}-5d8c7b9f4-{self.pod_counter:05d}"
        pod = Pod(name, self.deployment, self.config_maps, self.secrets, self.claims, self.base)
        self.pods.append(pod)
        pod.start()
        return pod

    def wait_started(self, pod):
        wait_until(f"{pod.name} startupProbe", pod.startup_budget(),
                   lambda: pod.probe("startupProbe"), pod.proc, pod.log)
        took = time.monotonic() - pod.started
        self.assertTrue(pod.probe("readinessProbe"), pod.name)
        self.assertTrue(pod.probe("livenessProbe"), pod.name)
        # The other listeners open right after the probed one (metrics, then the dashboard).
        for port in ("enroll", "metrics", "web"):
            wait_until(f"{pod.name}: {port} port", 30 * SCALE, lambda: tcp_probe(pod.port(port)),
                       pod.proc, pod.log)
        return took

    def leaders(self, pods):
        return [p.name for p in pods if p.leading()]

    def test_the_deployments_pods_run_lead_and_roll(self):
        replicas = self.deployment["spec"]["replicas"]
        pods = [self.new_pod() for _ in range(replicas)]
        for pod in pods:
            took = self.wait_started(pod)
            print(f"{pod.name}: startupProbe passed {took:.1f} s after its start")
        wait_until("one leader", 30 * SCALE, lambda: len(self.leaders(pods)) == 1)
        (leader,) = [p for p in pods if p.name in self.leaders(pods)]
        self.assertEqual(self.pg.psql("SELECT holder FROM provd.leader", db="provd"),
                         [leader.name])
        # Each replica's heartbeat (every 2 s) under its pod's name.
        wait_until("every pod in provd.replicas", 30 * SCALE, lambda: {p.name for p in pods} <= set(
            self.pg.psql("SELECT name FROM provd.replicas", db="provd")))
        # Each pod its own export folder on the shared claim; one bootstrap token.
        (exports,) = self.claims.values()
        for pod in pods:
            self.assertTrue(os.path.isdir(os.path.join(exports, pod.name)), pod.name)
        tokens = [p.name for p in pods if os.path.exists(
            os.path.join(p.root, "var/lib/provenance/admin.token"))]
        self.assertEqual(len(tokens), 1, tokens)
        # The dashboard (provd-web) answers over HTTPS on every replica.
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        for pod in pods:
            https = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                urllib.request.HTTPSHandler(context=insecure))
            with https.open(f"https://127.0.0.1:{pod.port('web')}/", timeout=30) as r:
                self.assertEqual(r.status, 200)
        # The password: in no log, no /metrics, no command line, no environment. The signing
        # key's read-only Secret folder: a warning, not a failed start.
        for pod in pods:
            with open(pod.log) as f:
                log = f.read()
            self.assertNotIn(PASSWORD, log, pod.name)
            self.assertIn("cannot write the public key beside --export-signing-key", log)
            self.assertNotIn(PASSWORD, pod.metrics(), pod.name)
            for what in ("cmdline", "environ"):
                with open(f"/proc/{pod.proc.pid}/{what}", "rb") as f:
                    self.assertNotIn(PASSWORD.encode(), f.read(), f"{pod.name} {what}")

        # A rollout deletes the leader's pod: SIGTERM, then SIGKILL after the grace period.
        flags = manifests.flags_of(self.config_maps["provd-postgresql-config"]["provd.flags"])
        takeover = manifests.seconds(flags["leader-takeover"])
        others = [p for p in pods if p is not leader]
        start = time.monotonic()
        leader.proc.send_signal(signal.SIGTERM)
        closed = wait_until(f"{leader.name}: readiness fails after SIGTERM", leader.grace,
                            lambda: not leader.probe("readinessProbe"))
        try:
            code = leader.proc.wait(max(0.0, leader.grace - (time.monotonic() - start)))
        except subprocess.TimeoutExpired:
            self.fail(f"{leader.name}: still running {leader.grace} s after SIGTERM (SIGKILL)")
        exited = time.monotonic() - start
        self.assertEqual(code, 0, tail(leader.log))
        led = wait_until("a standby leads", takeover + 10,
                         lambda: len(self.leaders(others)) == 1) + exited
        print(f"SIGTERM to {leader.name}: port closed after {closed:.1f} s, exited after "
              f"{exited:.1f} s (grace {leader.grace} s), {self.leaders(others)[0]} leads "
              f"{led:.1f} s after the SIGTERM (--leader-takeover {takeover:g} s)")
        self.assertEqual(self.pg.psql("SELECT holder FROM provd.leader", db="provd"),
                         self.leaders(others))
        # The ReplicaSet's replacement: a new name, a standby, its own export folder; the old
        # pod's exports stay on the volume.
        replacement = self.new_pod()
        self.wait_started(replacement)
        self.assertFalse(replacement.leading())
        self.assertEqual(len(self.leaders(others + [replacement])), 1)
        self.assertTrue(os.path.isdir(os.path.join(exports, replacement.name)))
        self.assertTrue(os.path.isdir(os.path.join(exports, leader.name)))


if __name__ == "__main__":
    DEPLOY_DIR, PROVD = (os.path.abspath(a) for a in sys.argv[1:3])
    unittest.main(argv=sys.argv[:1], verbosity=2)
