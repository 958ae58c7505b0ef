#!/bin/sh
# zmlookupd throughput and latency on one core, keep-alive, on loopback.
# usage: bench/lookup_bench.sh [BUILD_BIN_DIR] [ACCOUNTS] [SECONDS]
# zmlookupd is pinned to CPU 0 and wrk to CPU 1. A measurement, not a test.
set -eu
bin=$(cd "${1:-build/ci/bin}" && pwd)
accounts=${2:-10000}
seconds=${3:-10}
home=$(mktemp -d "${TMPDIR:-/tmp}/zmproxy-lookup-bench-XXXXXX")
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
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
taskset -c 0 "$bin/zmlookupd" --listen 127.0.0.1:0 --log-level warn &
pid=$!
i=0
while [ ! -s "$home/run/zmlookupd.addr" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
addr=$(cat "$home/run/zmlookupd.addr")
cat > "$home/req.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/service/extension/nginx-lookup", {
    ["Auth-Method"] = "username", ["Auth-User"] = "user" .. (n % 10000) .. "@example.com",
    ["Auth-Pass"] = "_password_", ["Auth-Protocol"] = "imapssl", ["Auth-Login-Attempt"] = "1",
    ["Client-IP"] = "192.0.2.1", ["X-Proxy-IP"] = "127.0.0.1"})
end
LUA
before=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "zmlookupd at $addr, $accounts accounts; wrk -t1 -c50 -d${seconds}s (keep-alive)"
taskset -c 1 wrk -t1 -c50 -d"${seconds}s" --latency -s "$home/req.lua" "http://$addr" |
  grep -E 'Requests/sec|Latency|  50%|  99%|requests in'
after=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "zmlookupd CPU: $(( (after - before) * 10 )) ms over the run"
