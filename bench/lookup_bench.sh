#!/bin/sh
# zmlookupd against the floor (bench/lookup_floor.py, a minimal Python asyncio
# handler answering from a dict): throughput, latency and CPU on one core,
# keep-alive, on loopback; optionally the user-space instructions per lookup
# under callgrind, which, unlike rates, do not move with the machine's load.
# usage: bench/lookup_bench.sh [BUILD_BIN_DIR] [ACCOUNTS] [SECONDS] [ROUNDS]
#   BEFORE=/path/to/zmlookupd   also measure another zmlookupd build ("before")
#   CALLGRIND=N                 also count instructions over N lookups (0: not)
# Each server is pinned to CPU 0 and wrk (-t1 -c50) to CPU 1; the targets run
# one after another, alternating, ROUNDS times; the table shows medians.
# Beside the rate: the server's CPU per lookup and what one core of it would
# answer at that cost (lookups per CPU-second), and how busy each side's core
# was. wrk with one thread costs about as much per request as the servers
# (its own loopback TCP work; 12-15 us), so at about 70k/s its core is full
# and the rate is wrk's, not the server's: the script then says so, and the
# lookups per CPU-second are the server's figure.
# A measurement, not a test.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${1:-build/ci/bin}" && pwd)
accounts=${2:-10000}
seconds=${3:-10}
rounds=${4:-3}
callgrind=${CALLGRIND:-0}
# The interpreter itself (not a wrapper script such as pyenv's shim), so that
# its PID is the server's and valgrind runs it.
python=$(python3 -c 'import sys; print(sys.executable)')
home=$(mktemp -d "${TMPDIR:-/tmp}/zmproxy-lookup-bench-XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$home"
}
trap cleanup EXIT INT TERM
export ZMPROXY_HOME="$home"
printf 'cd example.com\nmcf zimbraDefaultDomainName example.com\ncs 127.0.0.2\n' | "$bin/zmprov" >/dev/null
python3 - "$home/data/prov.ldif" "$accounts" <<'PY'
import sys, uuid
with open(sys.argv[1], "a") as f:
    for i in range(int(sys.argv[2])):
        f.write(f"dn: uid=user{i},ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n"
                f"objectClass: zimbraAccount\ncn: user{i}\nsn: user{i}\nuid: user{i}\n"
                f"zimbraId: {uuid.uuid4()}\nzimbraMailDeliveryAddress: user{i}@example.com\n"
                "zimbraMailHost: 127.0.0.2\n\n")
PY
# Every account's request formatted once, in init (formatting one per request
# cost wrk a further ~2 us each).
cat > "$home/req.lua" <<LUA
local requests = {}
local n = 0
init = function(args)
  for i = 0, $accounts - 1 do
    requests[i] = wrk.format("GET", "/service/extension/nginx-lookup", {
      ["Auth-Method"] = "username", ["Auth-User"] = "user" .. i .. "@example.com",
      ["Auth-Pass"] = "_password_", ["Auth-Protocol"] = "imapssl", ["Auth-Login-Attempt"] = "1",
      ["Client-IP"] = "192.0.2.1", ["X-Proxy-IP"] = "127.0.0.1"})
  end
end
request = function()
  n = n + 1
  return requests[n % $accounts]
end
LUA
# Exactly N lookups over 50 keep-alive connections (for callgrind), each
# answer checked.
cat > "$home/load.py" <<'PY'
import asyncio, sys
host, port = sys.argv[1].rsplit(":", 1)
total, accounts = int(sys.argv[2]), int(sys.argv[3])
async def conn(c, n):
    r, w = await asyncio.open_connection(host, int(port))
    for i in range(n):
        w.write(("GET /service/extension/nginx-lookup HTTP/1.1\r\nHost: x\r\nAuth-Method: username\r\n"
                 f"Auth-User: user{(c * n + i) % accounts}@example.com\r\nAuth-Pass: _password_\r\n"
                 "Auth-Protocol: imapssl\r\nAuth-Login-Attempt: 1\r\nClient-IP: 192.0.2.1\r\n"
                 "X-Proxy-IP: 127.0.0.1\r\n\r\n").encode())
        head = await r.readuntil(b"\r\n\r\n")
        assert b"Auth-Status: OK\r\n" in head, head
    w.close()
async def main():
    await asyncio.gather(*(conn(c, total // 50) for c in range(50)))
asyncio.run(main())
PY

# start TARGET [WRAPPER...]: the target's server on CPU 0; sets pid and addr.
start() {
  target=$1
  shift
  rm -f "$home/run/zmlookupd.addr" "$home/floor.addr"
  case $target in
    floor)
      taskset -c 0 "$@" "$python" "$here/lookup_floor.py" --ldif "$home/data/prov.ldif" \
        --address-file "$home/floor.addr" &
      addr_file=$home/floor.addr ;;
    before)
      taskset -c 0 "$@" "$BEFORE" --listen 127.0.0.1:0 --log-level warn &
      addr_file=$home/run/zmlookupd.addr ;;
    *)
      taskset -c 0 "$@" "$bin/zmlookupd" --listen 127.0.0.1:0 --log-level warn &
      addr_file=$home/run/zmlookupd.addr ;;
  esac
  pid=$!
  i=0
  while [ ! -s "$addr_file" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i + 1)); done
  addr=$(cat "$addr_file")
}

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}

# A wrk latency figure ("812.00us", "1.20ms", "2.01s") in ms.
to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/) n *= 1000; printf "%.2f", n }'
}

targets="floor zmlookupd"
[ -n "${BEFORE:-}" ] && targets="floor before zmlookupd"
echo "$accounts accounts; wrk -t1 -c50 -d${seconds}s keep-alive on CPU 1, each server on CPU 0; $rounds rounds"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
r=1
while [ $r -le "$rounds" ]; do
  for t in $targets; do
    start "$t"
    # One pass over every account first, so no server is measured cold.
    taskset -c 1 wrk -t1 -c50 -d1s -s "$home/req.lua" "http://$addr" >/dev/null
    before=$(awk '{print $14+$15}' "/proc/$pid/stat")
    # wrk's CPU: this shell's reaped children's (cutime + cstime) across it.
    wrk_before=$(awk '{print $16+$17}' "/proc/$$/stat")
    started=$(date +%s%N)
    taskset -c 1 wrk -t1 -c50 -d"${seconds}s" --latency -s "$home/req.lua" "http://$addr" >"$home/wrk.out"
    ended=$(date +%s%N)
    after=$(awk '{print $14+$15}' "/proc/$pid/stat")
    wrk_after=$(awk '{print $16+$17}' "/proc/$$/stat")
    stop
    rps=$(awk '/Requests\/sec/ {printf "%d", $2}' "$home/wrk.out")
    n=$(awk '/requests in/ {print $1}' "$home/wrk.out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$home/wrk.out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$home/wrk.out")")
    cpu=$(awk -v t=$(( (after - before) * 10 )) -v n="$n" 'BEGIN { printf "%.1f", t * 1000 / n }')
    wall_ms=$(( (ended - started) / 1000000 ))
    per_cpu_s=$(awk -v t=$(( (after - before) * 10 )) -v n="$n" 'BEGIN { printf "%d", (t > 0 ? n * 1000 / t : 0) }')
    server_pct=$(awk -v t=$(( (after - before) * 10 )) -v w="$wall_ms" 'BEGIN { printf "%d", t * 100 / w }')
    wrk_pct=$(awk -v t=$(( (wrk_after - wrk_before) * 10 )) -v w="$wall_ms" 'BEGIN { printf "%d", t * 100 / w }')
    errors=$(awk '/Non-2xx|Socket errors/' "$home/wrk.out")
    echo "$t $rps $p50 $p99 $cpu $per_cpu_s $server_pct $wrk_pct" >>"$home/runs"
    echo "round $r $t: $rps lookups/s, p50 $p50 ms, p99 $p99 ms, $cpu CPU-ms per 1,000" \
      "($per_cpu_s per CPU-second; server core ${server_pct}%, wrk core ${wrk_pct}%) ${errors:+($errors)}"
  done
  r=$((r + 1))
done

median() {  # median of column $2 for target $1
  awk -v t="$1" -v c="$2" '$1 == t {print $c}' "$home/runs" | sort -n |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo
echo "| target | lookups/s | p50 ms | p99 ms | CPU-ms per 1,000 | lookups per CPU-second | server core % | wrk core % |"
echo "|---|---|---|---|---|---|---|---|"
for t in $targets; do
  echo "| $t | $(median "$t" 2) | $(median "$t" 3) | $(median "$t" 4) | $(median "$t" 5) |" \
    "$(median "$t" 6) | $(median "$t" 7) | $(median "$t" 8) |"
done
for t in $targets; do
  if awk -v w="$(median "$t" 8)" -v s="$(median "$t" 7)" 'BEGIN { exit !(w >= 90 && s < 90) }'; then
    echo "$t: wrk's core was full (median $(median "$t" 8)%) before the server's ($(median "$t" 7)%):" \
      "the rate is wrk's limit; the server's is its lookups per CPU-second ($(median "$t" 6))"
  fi
done

[ "$callgrind" -gt 0 ] || exit 0
echo
echo "user-space instructions per lookup (callgrind: a run with $callgrind lookups over 50 connections"
echo "less a run with none, over $callgrind):"
# callgrind_control needs vgdb's FIFOs, which a busy shared /tmp breaks:
# count whole runs instead, and take the difference.
# zmlookupd writes its profile after dropping root to the service user:
# into the shared temporary directory, which it may write.
cg_out=${TMPDIR:-/tmp}/zmproxy-lookup-callgrind.$$
instructions() {  # instructions TARGET LOOKUPS
  start "$1" valgrind --tool=callgrind --vgdb=no --callgrind-out-file="$cg_out" -q
  [ "$2" -gt 0 ] && taskset -c 1 python3 "$home/load.py" "$addr" "$2" "$accounts"
  stop
  awk '/^summary:/ {print $2}' "$cg_out"
  rm -f "$cg_out"
}
for t in $targets; do
  idle=$(instructions "$t" 0)
  busy=$(instructions "$t" "$callgrind")
  echo "$t: $(awk -v a="$idle" -v b="$busy" -v n="$callgrind" 'BEGIN { printf "%d", (b - a) / n }') instructions per lookup"
done
