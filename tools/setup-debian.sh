#!/usr/bin/env bash
# Installs everything Provenance needs to build and test on Debian 12 (bookworm), from Debian only.
# Idempotent: skips apt-get when every package is already installed.
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev
  libsqlite3-dev sqlite3 libssl-dev openssl nlohmann-json3-dev libicu-dev libsodium-dev libyaml-cpp-dev
  clang-format curl ca-certificates procps
  # compliance workflow (issue 4): dashboard HTTP server, and the real servers its tests run against
  libcpp-httplib-dev chromium chromium-driver python3-selenium python3-jsonschema
  prometheus prometheus-alertmanager
  # fuzzing (issue 13, tests/fuzz/README.md): the `fuzz` preset's compiler and libFuzzer
  clang-14 libfuzzer-14-dev
  # the sanitizer presets link with lld (docs/ci.md: GNU ld's links of ~100 instrumented test binaries)
  lld
  # packaging (issue 13): dpkg-shlibdeps (dpkg-dev) for the .debs' Depends, systemd-analyze
  dpkg-dev systemd
  # deploy/kubernetes/ manifest test (issue 13)
  python3-yaml
  # structured logs of the daemons (issue 13, common/log/): spdlog 1.10 on libfmt 9
  libspdlog-dev libfmt-dev
  # the PostgreSQL store (issue 12, server/store/README.md): libpq, and the server its tests start
  libpq-dev postgresql-15
  # run_eval.sh --replicas (tools/eval/replicas.sh) reads provctl's JSON with jq
  jq
  # agents behind a TCP load balancer (issue 12): deploy/haproxy/, integration_haproxy_test
  haproxy
  # PostgreSQL failover (issue 12): Patroni on etcd, integration_patroni_failover_test
  patroni etcd-server
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
