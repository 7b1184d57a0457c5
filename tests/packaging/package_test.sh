#!/usr/bin/env bash
# Builds the .deb packages from BUILD_DIR with CPack, installs them with dpkg -i into a scratch root
# (dependencies checked against this machine's own package database), and checks what a package
# reviewer would: the files and their modes, the conffiles, the provd user and data directory the
# maintainer scripts create, `provd --version` from the installed tree, the hardened units with
# `systemd-analyze verify` (any warning fails) and their exposure scores, and a clean removal.
#   tests/packaging/package_test.sh build/release
set -euo pipefail
BUILD=$(cd "$1" && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (dpkg into a scratch root, chown of /var/lib/provenance)"
  exit 77
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$WORK/debs" >"$WORK/cpack.log" 2>&1 ||
  { cat "$WORK/cpack.log"; fail "cpack"; }
SERVER=$(ls "$WORK"/debs/provenance-server_*_amd64.deb 2>/dev/null || true)
AGENT=$(ls "$WORK"/debs/provenance-agent_*_amd64.deb 2>/dev/null || true)
LANDMARK=$(ls "$WORK"/debs/provenance-landmark_*_amd64.deb 2>/dev/null || true)
[ -f "$LANDMARK" ] || fail "no provenance-landmark .deb"
[ -f "$SERVER" ] || fail "no provenance-server .deb"
[ -f "$AGENT" ] || fail "no provenance-agent .deb"

# Control data: names, dependencies from dpkg-shlibdeps, conffiles, maintainer scripts.
dpkg-deb -f "$SERVER" Package | grep -qx provenance-server || fail "server package name"
dpkg-deb -f "$AGENT" Package | grep -qx provenance-agent || fail "agent package name"
dpkg-deb -f "$SERVER" Depends | grep -q libgrpc++ || fail "server Depends lacks gRPC"
dpkg-deb -f "$SERVER" Depends | grep -q libsqlite3 || fail "server Depends lacks SQLite"
dpkg-deb -I "$SERVER" conffiles | grep -qx /etc/provenance/provd.flags || fail "server conffiles"
dpkg-deb -I "$AGENT" conffiles | grep -qx /etc/provenance/prov-agent.flags || fail "agent conffiles"
dpkg-deb -I "$LANDMARK" conffiles | grep -qx /etc/prov-landmark/landmark.yaml ||
  fail "landmark conffiles"
# The agent package carries no server code, and the other way round.
dpkg-deb -c "$AGENT" | grep -q 'usr/bin/provd$' && fail "agent package holds provd"
dpkg-deb -c "$SERVER" | grep -q 'usr/bin/prov-agent$' && fail "server package holds prov-agent"

# A scratch root whose package database is this machine's, so Depends must really be satisfied.
R="$WORK/root"
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/etc"
cp /var/lib/dpkg/status "$R/var/lib/dpkg/status"
DPKG_ROOT="$R" dpkg --root="$R" --force-script-chrootless --log=/dev/null -i "$SERVER" "$AGENT" "$LANDMARK" \
  >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "dpkg -i"; }

for f in usr/bin/provd usr/bin/provctl usr/bin/prov-agent usr/lib/systemd/system/provd.service \
    usr/lib/systemd/system/prov-agent.service usr/lib/sysusers.d/provenance-server.conf \
    usr/lib/tmpfiles.d/provenance-server.conf usr/share/provenance/policy/default.yaml \
    etc/provenance/provd.flags etc/provenance/prov-agent.flags usr/bin/prov-landmark \
    usr/lib/systemd/system/prov-landmark.service etc/prov-landmark/landmark.yaml; do
  [ -e "$R/$f" ] || fail "not installed: /$f"
done
"$R/usr/bin/provd" --version | grep -Eq '^provd [0-9.]+ \(provenance\)$' || fail "provd --version"
"$R/usr/bin/prov-agent" --version | grep -Eq '^prov-agent [0-9.]+ \(provenance\)$' ||
  fail "prov-agent --version"
"$R/usr/bin/provctl" --version | grep -Eq '^provctl [0-9.]+ \(provenance\)$' || fail "provctl --version"

"$R/usr/bin/prov-landmark" --version | grep -Eq '^prov-landmark [0-9.]+ \(provenance\)$' ||
  fail "prov-landmark --version"
grep -q '^prov-landmark:x:' "$R/etc/passwd" || fail "postinst did not create the prov-landmark user"
[ "$(stat -c %a "$R/var/lib/prov-landmark")" = 700 ] || fail "/var/lib/prov-landmark is not 0700"
# postinst: the provd system user (no login shell) and its data directory, 0750, owned by it.
grep -Eq '^provd:x:[0-9]+:[0-9]+:.*:/var/lib/provenance:/usr/sbin/nologin$' "$R/etc/passwd" ||
  fail "postinst did not create the provd user"
uid=$(awk -F: '$1=="provd"{print $3}' "$R/etc/passwd")
[ "$(stat -c %a "$R/var/lib/provenance")" = 750 ] || fail "/var/lib/provenance is not 0750"
[ "$(stat -c %u "$R/var/lib/provenance")" = "$uid" ] || fail "/var/lib/provenance not owned by provd"
# provd runs as provd and reads its flags file.
[ "$(stat -c %a "$R/etc/provenance/provd.flags")" = 644 ] || fail "provd.flags mode"

# systemd-analyze needs the stock units (sysinit.target, ...) beside ours in the root.
cp -an /usr/lib/systemd/system/. "$R/usr/lib/systemd/system/" 2>/dev/null || true
mkdir -p "$R/etc/systemd/system"
for unit in provd.service prov-agent.service prov-landmark.service; do
  out=$(systemd-analyze verify --root="$R" "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
  [ -z "$out" ] || fail "systemd-analyze verify $unit warns: $out"
done
# Exposure (0 = locked down, 10 = none): provd needs no privilege at all; the agent is root with
# two capabilities and device access (NVML).
score() {
  systemd-analyze security --offline=true --root="$R" "$1" 2>/dev/null |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
s=$(score provd.service)
[ -n "$s" ] && awk -v s="$s" 'BEGIN{exit !(s <= 2.0)}' || fail "provd.service exposure $s > 2.0"
l=$(score prov-landmark.service)
[ -n "$l" ] && awk -v s="$l" 'BEGIN{exit !(s <= 2.0)}' || fail "prov-landmark.service exposure $l > 2.0"
a=$(score prov-agent.service)
[ -n "$a" ] && awk -v s="$a" 'BEGIN{exit !(s <= 4.0)}' || fail "prov-agent.service exposure $a > 4.0"
# The check itself can fail: a unit with a bad setting makes verify speak.
sed 's/^ProtectSystem=strict/ProtectSystem=bogus/' "$R/usr/lib/systemd/system/provd.service" \
  >"$R/etc/systemd/system/bad-provd.service"
out=$(systemd-analyze verify --root="$R" bad-provd.service 2>&1 || true)
[ -n "$out" ] || fail "systemd-analyze verify does not notice a bad setting"
rm "$R/etc/systemd/system/bad-provd.service"

# Removal keeps the data directory (compliance evidence) and the conffiles until purge.
DPKG_ROOT="$R" dpkg --root="$R" --force-script-chrootless --log=/dev/null -r provenance-server \
  provenance-agent provenance-landmark >"$WORK/dpkg-r.log" 2>&1 || { cat "$WORK/dpkg-r.log"; fail "dpkg -r"; }
[ ! -e "$R/usr/bin/provd" ] || fail "provd left after remove"
[ -d "$R/var/lib/provenance" ] || fail "remove deleted /var/lib/provenance"
echo "packaging: provenance-server, -agent and -landmark install, verify (exposure $s, $a, $l) and remove"
