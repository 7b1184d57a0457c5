# shellcheck shell=bash
# Replica mode of run_eval.sh (issue 12): a private PostgreSQL, N provd replicas on it, the
# leader SIGKILLed part-way through the replay, and the checks that nothing was lost or doubled.
# Sourced by run_eval.sh, which sets BUILD, WORK, POLICY, REPLICAS, step() and die().
#
#   replicas_start_pg                  # initdb + pg_ctl into $WORK/pg; sets CONNINFO, PSQL
#   replicas_start N                   # provd r1..rN; sets SERVERS (a,b,...), PIDS, ADDRS
#   replicas_leader                    # prints the leader row's holder (r1...), "" when none
#   replicas_kill_watch F TIMELINE &   # SIGKILLs the leader once F of the reports are stored
#   replicas_check ACKED               # the exactly-once, flag and takeover checks (0: all hold)
#
# PostgreSQL: the binaries under $PROV_PG_BINDIR (default /usr/lib/postgresql/15/bin), a Unix
# socket in $WORK/pg (no TCP), fsync=off (only provd is killed, never PostgreSQL, so its
# durability is not under test). As root (PostgreSQL refuses to run as root), initdb and the
# server run as the `postgres` user, as tests/store/pg_server.cc does.

PG_BINDIR=${PROV_PG_BINDIR:-/usr/lib/postgresql/15/bin}
declare -A PIDS=() ADDRS=()
CONNINFO="" SERVERS=""
PSQL=()
PG_AS=()

replicas_start_pg() {
  local tool
  for tool in initdb pg_ctl postgres; do
    [[ -x $PG_BINDIR/$tool ]] ||
      die "replica mode needs PostgreSQL 15: $PG_BINDIR/$tool is missing (install postgresql-15 or set PROV_PG_BINDIR)"
  done
  command -v psql >/dev/null || die "replica mode needs psql (postgresql-client-15)"
  local pg=$WORK/pg
  mkdir -p "$pg"
  if [[ $(id -u) == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root and there is no 'postgres' user to run PostgreSQL as"
    chmod 755 "$WORK"
    chown postgres: "$pg"
    PG_AS=(runuser -u postgres --)
  fi
  step "PostgreSQL (initdb into $pg, Unix socket only)"
  "${PG_AS[@]}" "$PG_BINDIR/initdb" -D "$pg/data" -U provd -A trust -E UTF8 --locale=C \
    --no-sync --no-instructions >"$WORK/initdb.log" 2>&1 ||
    { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
  "${PG_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$pg/data" -l "$pg/postgres.log" -w -t 60 \
    -o "-k $pg -p 5432 -c listen_addresses= -c fsync=off -c max_connections=200" start \
    >"$WORK/pg_ctl.log" 2>&1 ||
    { cat "$WORK/pg_ctl.log" "$pg/postgres.log" >&2; die "pg_ctl start failed"; }
  PG_STARTED=1
  "$PG_BINDIR/createdb" -h "$pg" -p 5432 -U provd provd || die "createdb provd failed"
  CONNINFO="host=$pg port=5432 user=provd dbname=provd"
  PSQL=(psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$CONNINFO")
}

replicas_stop_pg() {
  [[ ${PG_STARTED:-0} == 1 ]] || return 0
  "${PG_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$WORK/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
    "${PG_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1 || true
  PG_STARTED=0
}

# One SQL value (psql -t -A), or dies naming the query.
replicas_sql() { "${PSQL[@]}" -c "$1" || die "psql failed: $1"; }

# Starts replica $1 and waits for its port file.
replicas_start_one() {
  local name=$1 data=$WORK/data-$1
  mkdir -p "$data"
  "$BUILD/bin/provd" --data-dir "$data" --listen 127.0.0.1:0 --port-file "$WORK/port-$name" \
    --metrics-listen= --insecure --policy "$POLICY" --ledger-clock report \
    --store "postgresql:$CONNINFO" --replica-name "$name" --leader-takeover 1s \
    --export-signing-key "$WORK/export-signing.key" >"$WORK/provd-$name.log" 2>&1 &
  PIDS[$name]=$!
  for _ in $(seq 1 $((300 * ${PROV_TEST_TIME_SCALE:-1}))); do
    [[ -s $WORK/port-$name ]] && break
    kill -0 "${PIDS[$name]}" 2>/dev/null || { cat "$WORK/provd-$name.log" >&2; die "provd $name exited"; }
    sleep 0.1
  done
  [[ -s $WORK/port-$name ]] || die "provd $name did not write its port within $((30 * ${PROV_TEST_TIME_SCALE:-1})) s"
  ADDRS[$name]=127.0.0.1:$(tr -d '\n' <"$WORK/port-$name")
}

replicas_start() {
  local n=$1 i
  # One export signing key for every replica (provd refuses a PostgreSQL store without one).
  (umask 077 && printf 'ed25519-seed %s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" \
    >"$WORK/export-signing.key")
  SERVERS=""
  for i in $(seq 1 "$n"); do
    # One at a time: the first creates the schema (the others wait on its lock anyway) and
    # writes the bootstrap admin token into its data directory.
    step "provd replica r$i (store $CONNINFO)"
    replicas_start_one "r$i"
    SERVERS+=${SERVERS:+,}${ADDRS[r$i]}
  done
  for _ in $(seq 1 $((300 * ${PROV_TEST_TIME_SCALE:-1}))); do
    [[ -n $(replicas_leader) ]] && return 0
    sleep 0.1
  done
  die "no replica took the lead within 30 s"
}

replicas_leader() { "${PSQL[@]}" -c "SELECT holder FROM provd.leader WHERE id = 1" 2>/dev/null; }
replicas_term() { "${PSQL[@]}" -c "SELECT term FROM provd.leader WHERE id = 1" 2>/dev/null; }

# The flags a replica serves, one `rule|subject<TAB>flag_id<TAB>first_time` line each (a flag's
# identity is (rule, subject): the engine keys it so, and the store's flags table is UNIQUE on
# it); the whole list as JSON in $2 when given.
replicas_flags() {
  local json
  json=$("$BUILD/bin/provctl" --server "$1" --insecure flags list --limit 100000 -o json) || return 1
  [[ -z ${2:-} ]] || printf '%s\n' "$json" >"$2"
  jq -r '.flags[] | "\(.rule)|\(.subject)\t\(.flag_id)\t\(.first_time)"' <<<"$json"
}

# Background: once FRACTION of the scenario's reports are stored, records every flag each replica
# serves (flags-before.tsv), SIGKILLs the leader, and waits for another replica to lead
# (kill.env: KILLED, KILL_STORED, TAKEOVER_MS, NEW_LEADER, TERM_BEFORE, TERM_AFTER).
replicas_kill_watch() {
  local fraction=$1 timeline=$2 total target stored leader t0 t1 name
  for _ in $(seq 1 600); do [[ -s $timeline ]] && break; sleep 0.1; done
  [[ -s $timeline ]] || { echo "KILL_ERROR='no timeline'" >"$WORK/kill.env"; return; }
  total=$(jq '.nodes * .reports_per_node' "$timeline")
  target=$(awk -v t="$total" -v f="$fraction" 'BEGIN { printf "%d", t * f }')
  while true; do
    stored=$("${PSQL[@]}" -c "SELECT count(*) FROM provd.reports" 2>/dev/null || echo 0)
    [[ ${stored:-0} -ge $target ]] && break
    sleep 0.1
  done
  leader=$(replicas_leader)
  local term_before
  term_before=$(replicas_term)
  : >"$WORK/flags-before.tsv"
  for name in "${!ADDRS[@]}"; do
    replicas_flags "${ADDRS[$name]}" "$WORK/flags-before-$name.json" >>"$WORK/flags-before.tsv"
  done
  sort -u -o "$WORK/flags-before.tsv" "$WORK/flags-before.tsv"
  stored=$("${PSQL[@]}" -c "SELECT count(*) FROM provd.reports")
  t0=$(date +%s%N)
  kill -KILL "${PIDS[$leader]}"
  local now=""
  while true; do
    now=$(replicas_leader)
    [[ -n $now && $now != "$leader" ]] && break
    t1=$(date +%s%N)
    ((t1 - t0 < 60000000000)) || { now=""; break; }
    sleep 0.05
  done
  t1=$(date +%s%N)
  {
    echo "KILLED=$leader"
    echo "KILL_STORED=$stored"
    echo "KILL_TOTAL=$total"
    echo "NEW_LEADER=$now"
    echo "TAKEOVER_MS=$(((t1 - t0) / 1000000))"
    echo "TERM_BEFORE=$term_before"
    echo "TERM_AFTER=$(replicas_term)"
  } >"$WORK/kill.env"
}

# The replica to ask now: the leader (whose engine is current), else any that still runs.
replicas_survivor() {
  local leader
  leader=$(replicas_leader)
  if [[ -n $leader ]] && kill -0 "${PIDS[$leader]}" 2>/dev/null; then
    echo "${ADDRS[$leader]}"
    return
  fi
  local name
  for name in "${!PIDS[@]}"; do
    kill -0 "${PIDS[$name]}" 2>/dev/null && { echo "${ADDRS[$name]}"; return; }
  done
}

# Waits (<= 60 s) until the leader has analysed every committed batch.
replicas_wait_analysis() {
  local server out
  for _ in $(seq 1 600); do
    server=$(replicas_survivor)
    out=$("$BUILD/bin/provctl" --server "$server" --insecure status 2>/dev/null || true)
    if grep -q "^analysis  0 reports behind ingest" <<<"$out"; then
      echo "$out" >"$WORK/status.txt"
      return 0
    fi
    sleep 0.1
  done
  echo "$out" >&2
  die "the leader did not catch up with ingest within 60 s"
}

# Prints every check; returns 1 if one fails. $1: prov-sim's acked count, $2: its submitted count.
replicas_check() {
  local acked=$1 submitted=$2 fail=0 server rows keys gaps
  server=$(replicas_survivor)
  echo "replicas: ${#PIDS[@]} on PostgreSQL; scored against $server (leader $(replicas_leader), term $(replicas_term))"
  # Reports: the store's key is (node, boot_id, seq) and prov-sim's seq runs 1.. per node without
  # gaps, so rows == acked, no gap below a node's highest seq, and no key twice is exactly once.
  rows=$(replicas_sql "SELECT count(*) FROM provd.reports")
  keys=$(replicas_sql "SELECT count(DISTINCT (node, boot_id, seq)) FROM provd.reports")
  gaps=$(replicas_sql "SELECT coalesce(sum(m - c), 0) FROM (SELECT max(seq) AS m, count(*) AS c
                       FROM provd.reports GROUP BY node, boot_id) s")
  if [[ $rows == "$acked" && $rows == "$keys" && $gaps == 0 && $acked == "$submitted" ]]; then
    echo "check reports: OK: $rows stored once each = $acked acked of $submitted submitted, no seq gap"
  else
    echo "check reports: FAIL: $rows rows, $keys distinct keys, $gaps seqs missing below a node's newest; prov-sim acked $acked of $submitted"
    fail=1
  fi
  if ! replicas_flags "$server" >"$WORK/flags-after.tsv"; then
    echo "check flags listed: FAIL: provctl flags list on $server failed (the checks below see no flags)"
    : >"$WORK/flags-after.tsv"
    fail=1
  fi
  local dup_keys dup_ids
  dup_keys=$(cut -f1 "$WORK/flags-after.tsv" | sort | uniq -d | wc -l)
  dup_ids=$(cut -f2 "$WORK/flags-after.tsv" | sort | uniq -d | wc -l)
  if [[ $dup_keys == 0 && $dup_ids == 0 ]]; then
    echo "check flags duplicated: OK: $(wc -l <"$WORK/flags-after.tsv") flags, each (rule, subject) and flag id once"
  else
    echo "check flags duplicated: FAIL: $dup_keys (rule, subject) and $dup_ids flag ids listed twice"
    cut -f1 "$WORK/flags-after.tsv" | sort | uniq -d | sed 's/^/  twice: /'
    fail=1
  fi
  if [[ -f $WORK/kill.env ]]; then
    # shellcheck disable=SC1091
    source "$WORK/kill.env"
    if [[ -n ${KILL_ERROR:-} ]]; then
      echo "check leader killed: FAIL: $KILL_ERROR"
      return 1
    fi
    echo "leader killed: $KILLED (SIGKILL) with $KILL_STORED of $KILL_TOTAL reports stored, term $TERM_BEFORE"
    if [[ -n $NEW_LEADER && $NEW_LEADER != "$KILLED" ]]; then
      echo "check takeover: OK: $NEW_LEADER leads $TAKEOVER_MS ms after the kill (term $TERM_AFTER)"
    else
      echo "check takeover: FAIL: no other replica led within 60 s of the kill"
      fail=1
    fi
    # Lost: a flag identity served before the kill and not after. A flag the new leader raised
    # again from the batch log (the old one never saved it) keeps its identity but may get a new
    # id: counted, not a failure.
    # The leader's list, else the standby's (which may lag the leader's last save).
    local before lost renumbered moved
    before=$(cut -f1 "$WORK/flags-before.tsv" | sort -u | wc -l)
    lost=$(join -t $'\t' -v1 <(sort -u -t $'\t' -k1,1 "$WORK/flags-before.tsv") \
      <(sort -t $'\t' -k1,1 "$WORK/flags-after.tsv") | cut -f1 | sort -u)
    join -t $'\t' <(sort -u -t $'\t' -k1,1 "$WORK/flags-before.tsv") \
      <(sort -t $'\t' -k1,1 "$WORK/flags-after.tsv") >"$WORK/flags-joined.tsv"
    renumbered=$(awk -F'\t' '$2 != $4' "$WORK/flags-joined.tsv" | wc -l)
    if [[ -z $lost ]]; then
      echo "check flags lost: OK: all $before flags served before the kill are served after ($renumbered with a new flag id)"
    else
      echo "check flags lost: FAIL: $(wc -l <<<"$lost") of $before flags served before the kill are gone:"
      sed 's/^/  lost: /' <<<"$lost"
      fail=1
    fi
    # A flag's first_time (the evidence time of the report on which its rule first held) is set
    # when the flag is raised; a takeover must not move it.
    moved=$(awk -F'\t' '$3 != $5 { printf "  moved: %s first_time %s -> %s\n", $1, $3, $5 }' \
      "$WORK/flags-joined.tsv")
    if [[ -z $moved ]]; then
      echo "check flags kept: OK: no flag's first_time changed across the takeover"
    else
      echo "check flags kept: FAIL: $(wc -l <<<"$moved") flags' first_time changed across the takeover:"
      echo "$moved"
      fail=1
    fi
  fi
  replicas_check_standbys "$server" || fail=1
  return $fail
}

# Every other running replica (a standby's follower engine reloads on each save the leader
# announces) serves the flags the leader serves: the same identities, ids and first_time. Waits
# up to 10 s for the standbys' reload. A killed replica is started again first, as a standby.
replicas_check_standbys() {
  local leader_addr=$1 name ok=1 n=0
  if [[ -n ${KILLED:-} ]] && ! kill -0 "${PIDS[$KILLED]}" 2>/dev/null; then
    rm -f "$WORK/port-$KILLED"
    replicas_start_one "$KILLED"
    echo "restarted: $KILLED (the killed leader) as a standby at ${ADDRS[$KILLED]}"
  fi
  sort "$WORK/flags-after.tsv" >"$WORK/flags-leader.tsv"
  for name in "${!PIDS[@]}"; do
    [[ ${ADDRS[$name]} != "$leader_addr" ]] || continue
    kill -0 "${PIDS[$name]}" 2>/dev/null || continue
    n=$((n + 1))
    for _ in $(seq 1 100); do
      replicas_flags "${ADDRS[$name]}" | sort >"$WORK/flags-$name.tsv" || true
      cmp -s "$WORK/flags-$name.tsv" "$WORK/flags-leader.tsv" && break
      sleep 0.1
    done
    if cmp -s "$WORK/flags-$name.tsv" "$WORK/flags-leader.tsv"; then
      echo "check standby $name: OK: serves the leader's $(wc -l <"$WORK/flags-leader.tsv") flags (identity, id, first_time)"
    else
      echo "check standby $name: FAIL: its flags differ from the leader's after 10 s (< leader, > $name):"
      diff "$WORK/flags-leader.tsv" "$WORK/flags-$name.tsv" | grep '^[<>]' | head -20 | sed 's/^/  /'
      ok=0
    fi
  done
  [[ $n -gt 0 ]] || echo "check standby: none running"
  [[ $ok == 1 ]]
}
