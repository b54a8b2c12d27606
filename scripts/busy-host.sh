#!/usr/bin/env bash
# Runs a command (default: the test suite three times) on a busy host: the benchmark's
# fixture (small: ~270 processes, ~17k descriptors, ~4.5k sockets) plus listeners that
# open and close on loopback every few milliseconds, living 0-20 ms each. Everything it
# starts is stopped when the command ends. Linux; python3 and cargo on the path.
#
#   bash scripts/busy-host.sh                 # cargo test, 3 times in a row
#   bash scripts/busy-host.sh cargo test owners
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p whoport-fixture
fixture_out=$(mktemp)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -f "$fixture_out"
}
trap cleanup EXIT

target=${CARGO_TARGET_DIR:-target}
"$target/debug/whoport-fixture" --size small --seconds 3600 >"$fixture_out" &
pids+=($!)
for _ in $(seq 300); do
    grep -q '^ready ' "$fixture_out" && break
    sleep 0.2
done
grep -q '^ready ' "$fixture_out" || { echo "busy-host: the fixture did not start" >&2; exit 1; }

# Listener churn: TCP and UDP, IPv4 and IPv6, on loopback, for as long as the command runs.
python3 - <<'PY' &
import random, socket, time
families = [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]
kinds = [socket.SOCK_STREAM, socket.SOCK_DGRAM]
while True:
    fam, addr = random.choice(families)
    s = socket.socket(fam, random.choice(kinds))
    try:
        s.bind((addr, 0))
        if s.type == socket.SOCK_STREAM:
            s.listen()
        time.sleep(random.uniform(0, 0.02))
    except OSError:
        pass
    finally:
        s.close()
PY
pids+=($!)

echo "busy-host: $(head -1 "$fixture_out"); listeners churning"
if (($#)); then
    "$@"
else
    for run in 1 2 3; do
        echo "busy-host: cargo test, run $run of 3"
        cargo test
    done
fi
