#!/usr/bin/env bash
# Peak memory of whoport with one 100 KB command line among 2,000 listeners (issue: a long
# cell must not push the whole table through a layout engine). Run as root: the listeners
# live in a network namespace of their own, made with unshare(1), and end with it.
#
#   bench/long-cmdline.sh [WHOPORT ...]     default: target/release/whoport
#
# Prints, for each binary, the peak resident memory (GNU time's %M) of the table written to
# a file, and of the JSON of the same.
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then
  echo "long-cmdline: run as root (it makes a network namespace)" >&2
  exit 2
fi
[[ -x /usr/bin/time ]] || { echo "long-cmdline: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
binaries=("$@")
((${#binaries[@]})) || binaries=(target/release/whoport)
here=$(mktemp -d)
trap 'rm -rf "$here"' EXIT
cat >"$here/inside.sh" <<'INNER'
set -euo pipefail
ip link set lo up
python3 - <<'PY' &
import socket, time
socks = []
for i in range(2000):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 20000 + i))
    s.listen(1)
    socks.append(s)
time.sleep(120)
PY
python3 -c 'import socket, time; s = socket.socket(); s.bind(("0.0.0.0", 8080)); s.listen(1); time.sleep(120)' \
  "--config=$(head -c 100000 /dev/zero | tr '\0' x)" &
sleep 2
for b in "$@"; do
  /usr/bin/time -f "$b: table to a file: %M KiB peak, %e s" "$b" >"$OUT/table.txt"
  /usr/bin/time -f "$b: JSON to a file:  %M KiB peak, %e s" "$b" --json >"$OUT/table.json"
done
kill $(jobs -p) 2>/dev/null || true
INNER
OUT="$here" unshare -n bash "$here/inside.sh" "${binaries[@]}"
