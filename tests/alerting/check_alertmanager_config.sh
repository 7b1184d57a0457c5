#!/usr/bin/env bash
# Validates deploy/alertmanager/alertmanager.yml with amtool (Debian prometheus-alertmanager):
# the file parses, and provd's alerts route where its comments say.
set -euo pipefail
cd "$(dirname "$0")/../.."
config=deploy/alertmanager/alertmanager.yml
amtool check-config "$config"
route() {  # route <expected receivers> <labels...>
  local want=$1
  shift
  amtool config routes test --config.file="$config" --verify.receivers="$want" "$@" 2>/dev/null ||
    { echo "route for $*: expected $want"; exit 1; }
}
route oncall-pager,compliance-team alertname=ProvenanceFlag severity=critical flag_id=F-1 bundle=B-1
route oncall-pager,compliance-team alertname=ProvenanceFlag severity=critical flag_id=F-2
route compliance-team alertname=ProvenanceFlag severity=high flag_id=F-3 bundle=B-1
route compliance-email alertname=ProvenanceFlag severity=medium flag_id=F-4
route compliance-email alertname=SomethingElse severity=critical
echo "alertmanager.yml: valid, routes as documented"
