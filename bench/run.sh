#!/usr/bin/env bash
# whoport against ss, netstat, lsof and fuser on a busy loopback host.
#
#   bench/run.sh [SIZE...]        sizes: tiny, small, large (default: small large)
#
# For each size it starts bench/fixture (whoport-fixture), checks that whoport's answers
# equal ss's (same sockets, same pids) with both Linux owner scans — the BPF iterators
# whoport uses by default as root, and the /proc/*/fd scan it falls back to — (a fast
# wrong answer fails the run), then times every case with hyperfine and measures peak RSS
# with /usr/bin/time -v. The results go
# to docs/benchmarks.md, between the "bench:begin" and "bench:end" marks (the text
# around them is kept). Run it as root: ss, lsof and whoport then see every process.
#
# Settings (environment):
#   ROUNDS=5     hyperfine calls per case; the command order is reversed every other
#                round, so that drift in the machine's speed hits every command alike
#   RUNS=4       timed runs of each command per round (after WARMUP untimed ones)
#   WARMUP=2
#   RSS_RUNS=3   /usr/bin/time runs per command (the median peak is reported)
#   WAIT_IDLE=0  seconds to wait, before timing each size, for other work on the machine
#                to keep less than IDLE_BELOW=20 % of the cores busy (whoport's threads
#                share the cores with it; single-threaded ss hardly notices)
#   OUT=docs/benchmarks.md
#   RESULTS=     directory for the raw hyperfine JSON (default: a temporary one)
#
# Needs: cargo, hyperfine, jq, ss (iproute2), netstat (net-tools), lsof, fuser (psmisc),
# /usr/bin/time (time); strace is used, when present, to check that a free port costs no
# /proc scan. On Debian: apt-get install hyperfine jq iproute2 net-tools lsof psmisc time strace
set -euo pipefail

ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-4}
WARMUP=${WARMUP:-2}
RSS_RUNS=${RSS_RUNS:-3}
WAIT_IDLE=${WAIT_IDLE:-0}
IDLE_BELOW=${IDLE_BELOW:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/docs/benchmarks.md}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(small large)

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

for tool in cargo hyperfine jq ss netstat lsof fuser; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install hyperfine jq iproute2 net-tools lsof psmisc time)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian: apt-get install time)"
for size in "${SIZES[@]}"; do
    case $size in tiny | small | large) ;; *) die "unknown size '$size' (tiny, small, large)" ;; esac
done
[ "$(id -u)" = 0 ] || note "not root: other users' processes cannot be read, by whoport or by ss"

RESULTS=${RESULTS:-$(mktemp -d /tmp/whoport-bench.XXXXXX)}
mkdir -p "$RESULTS"
note "raw results in $RESULTS"

note "building (release)"
(cd "$ROOT" && cargo build --release --quiet -p whoport -p whoport-fixture)
TARGET=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
WHOPORT=$TARGET/release/whoport
FIXTURE=$TARGET/release/whoport-fixture
if [ ! -x "$WHOPORT" ] || [ ! -x "$FIXTURE" ]; then
    die "the release binaries are missing"
fi

FIXTURE_PID=
stop_fixture() {
    if [ -n "$FIXTURE_PID" ]; then
        kill -TERM "$FIXTURE_PID" 2>/dev/null || true
        wait "$FIXTURE_PID" 2>/dev/null || true
        FIXTURE_PID=
    fi
}
trap stop_fixture EXIT
trap 'exit 130' INT TERM

# Starts the fixture and sets PORT, FREE_PORT, OWNERS (sorted, comma-separated).
start_fixture() {
    local size=$1 ready=$RESULTS/$1-ready.txt
    # Long enough for the whole size; the fixture is stopped as soon as it is done.
    "$FIXTURE" --size "$size" --seconds 3600 >"$ready" &
    FIXTURE_PID=$!
    for _ in $(seq 600); do
        grep -q '^ready ' "$ready" 2>/dev/null && break
        kill -0 "$FIXTURE_PID" 2>/dev/null || die "the fixture exited before it was ready"
        sleep 0.2
    done
    grep -q '^ready ' "$ready" || die "the fixture was not ready after 120 s"
    local line
    line=$(grep '^ready ' "$ready")
    PORT=$(sed -n 's/.* port=\([0-9]*\).*/\1/p' <<<"$line")
    FREE_PORT=$(sed -n 's/.* free_port=\([0-9]*\).*/\1/p' <<<"$line")
    OWNERS=$(sed -n 's/.* pids=\([0-9,]*\).*/\1/p' <<<"$line" | tr , '\n' | sort -n | paste -sd,)
    note "$size fixture ready: $line"
}

# The host as the tools see it: processes, open descriptors, TCP+UDP sockets.
host_counts() {
    local procs fds sockets
    procs=$(find /proc -mindepth 1 -maxdepth 1 -name '[0-9]*' | wc -l)
    fds=$(find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    sockets=$(ss -tuanH | wc -l)
    echo "$procs $fds $sockets"
}

# How busy the machine is without us (the fixture sleeps): percent of all cores over 2 s.
# Another load shares the cores with whoport's threads, and moves its times more than
# single-threaded ss's.
other_load() {
    local a b
    a=$(head -1 /proc/stat)
    sleep 2
    b=$(head -1 /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        n = split(a, x, " "); split(b, y, " ")
        for (i = 2; i <= n; i++) { d = y[i] - x[i]; total += d; if (i == 5 || i == 6) idle += d }
        busy = total > 0 ? 100 * (total - idle) / total : 0
        printf "%.0f%%", busy
    }'
}

# ---- correctness -------------------------------------------------------------------

# "proto port inode pids" per socket, sorted, from whoport --json.
whoport_sockets() {
    "$WHOPORT" --json "$@" | jq -r '.sockets[]
        | "\(.protocol) \(.local_port) \(.inode) \([.processes[].pid] | unique | map(tostring) | join(","))"' |
        sort
}

# The same from ss -e (ino:N) -p (pid=N).
ss_sockets() {
    ss -H -n -e -p "$@" | awk '{
        port = $5; sub(/.*:/, "", port)
        ino = ""; pids = ""
        for (i = 6; i <= NF; i++) if ($i ~ /^ino:/) { ino = substr($i, 5) }
        line = $0; n = 0; delete seen
        while (match(line, /pid=[0-9]+/)) {
            p = substr(line, RSTART + 4, RLENGTH - 4) + 0
            if (!(p in seen)) { seen[p] = 1; list[++n] = p }
            line = substr(line, RSTART + RLENGTH)
        }
        # sort the pids numerically (insertion sort: a socket has few holders)
        for (i = 2; i <= n; i++) { v = list[i]; j = i - 1; while (j > 0 && list[j] > v) { list[j+1] = list[j]; j-- } list[j+1] = v }
        for (i = 1; i <= n; i++) pids = pids (i > 1 ? "," : "") list[i]
        print $1, port, ino, pids
    }' | sort
}

# Compares whoport's answer with ss's; retries a few times, as sockets outside the
# fixture may come and go between the two reads.
same_answer() {
    local name=$1 w=$2 s=$3
    local a=$RESULTS/$name.whoport b=$RESULTS/$name.ss
    for attempt in 1 2 3; do
        eval "$w" >"$a"
        eval "$s" >"$b"
        if cmp -s "$a" "$b"; then
            note "check $name: whoport = ss ($(wc -l <"$a") sockets)"
            return 0
        fi
        note "check $name: differs (attempt $attempt)"
        sleep 1
    done
    diff "$a" "$b" | head -20 >&2
    die "whoport's answer differs from ss's ($name): a fast wrong answer is a failure"
}

check_answers() {
    local size=$1
    same_answer "$size-listen" "whoport_sockets" "ss_sockets -tul"
    same_answer "$size-held" "whoport_sockets -l $PORT" "ss_sockets -tul 'sport = :$PORT'"
    local held
    held=$(awk -v p="$PORT" '$1 == "tcp" && $2 == p { print $4 }' "$RESULTS/$size-held.whoport")
    grep -qx "$OWNERS" <<<"$held" || die "port $PORT: whoport found pids '$held', the fixture is '$OWNERS'"
    note "check held port $PORT: owners $held, as the fixture says"
    local code=0
    "$WHOPORT" -q "$FREE_PORT" || code=$?
    [ "$code" = 1 ] || die "free port $FREE_PORT: whoport exited $code, not 1"
    [ -z "$(ss -tuanH "sport = :$FREE_PORT")" ] || die "port $FREE_PORT is not free"
    if command -v strace >/dev/null; then
        local scans
        scans=$(strace -f -e trace=openat "$WHOPORT" "$FREE_PORT" 2>&1 >/dev/null | grep -cE '"(fd|[^"]*/fd)"' || true)
        [ "$scans" = 0 ] || die "free port $FREE_PORT: whoport opened $scans /proc/PID/fd directories"
        note "check free port $FREE_PORT: no socket, and no /proc/PID/fd opened (strace)"
        FREE_NOSCAN=yes
    else
        FREE_NOSCAN="not checked (no strace)"
    fi
    same_answer "$size-all" "whoport_sockets -a" "ss_sockets -tua"
    # The /proc scan, which whoport falls back to where BPF cannot run, gives the same.
    same_answer "$size-listen-procfs" "WHOPORT_OWNER_SCAN=procfs whoport_sockets" "ss_sockets -tul"
    same_answer "$size-all-procfs" "WHOPORT_OWNER_SCAN=procfs whoport_sockets -a" "ss_sockets -tua"
    # Which owner scan the default run used, and (strace) that the BPF one reads no
    # descriptor directory.
    if "$WHOPORT" --debug -q "$PORT" 2>&1 >/dev/null | grep -q 'owners from the BPF '; then
        OWNER_SCAN="the BPF iterators"
    else
        OWNER_SCAN="/proc/*/fd (the BPF iterators could not run)"
    fi
    note "owner scan by default: $OWNER_SCAN"
    if command -v strace >/dev/null; then
        local opened
        opened=$(strace -f -e trace=openat "$WHOPORT" 2>&1 >/dev/null | grep -cE '"(fd|[^"]*/fd)"' || true)
        LIST_NOSCAN="$opened /proc/PID/fd opened when listing (strace)"
    else
        LIST_NOSCAN="not checked (no strace)"
    fi
    note "every listener: $LIST_NOSCAN"
}

# ---- timing ------------------------------------------------------------------------

# time_case SIZE CASE COMMAND...: ROUNDS hyperfine calls, the order reversed every other
# round; each command's runs of every round are kept in RESULTS/SIZE-CASE-rN.json.
time_case() {
    local size=$1 name=$2
    shift 2
    local cmds=("$@") round order
    for round in $(seq "$ROUNDS"); do
        if ((round % 2 == 0)); then
            order=()
            for ((i = ${#cmds[@]} - 1; i >= 0; i--)); do order+=("${cmds[i]}"); done
        else
            order=("${cmds[@]}")
        fi
        hyperfine -N -i --style basic --output=pipe --warmup "$WARMUP" --runs "$RUNS" \
            --export-json "$RESULTS/$size-$name-r$round.json" "${order[@]}" \
            >>"$RESULTS/hyperfine.log" 2>&1
    done
    note "timed $size/$name"
}

# Median peak RSS (KiB) of a command over RSS_RUNS runs.
peak_rss() {
    local i out=$RESULTS/rss.txt
    for i in $(seq "$RSS_RUNS"); do
        eval "/usr/bin/time -v -o $out $1" >/dev/null 2>&1 || true
        sed -n 's/.*Maximum resident set size (kbytes): //p' "$out"
    done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Writes one case's rows: command | median | min–max | × ss | CPU | peak RSS, and keeps
# each command's median and RSS (by "size/case/command") for the targets.
declare -A MEDIAN RSS CPU
report_case() {
    local size=$1 name=$2 base=$3
    shift 3
    local files=("$RESULTS/$size-$name"-r*.json)
    local stats
    stats=$(jq -rs '
        [.[].results[]] | group_by(.command) | map({
            command: .[0].command,
            times: ([.[].times[]] | sort),
            cpu: ([.[] | .user + .system] | add / length)
        }) | map({
            command,
            median: (.times | if length % 2 == 1 then .[length / 2 | floor]
                              else (.[length / 2 - 1] + .[length / 2]) / 2 end),
            min: .times[0], max: .times[-1], n: (.times | length), cpu
        }) | .[] | "\(.command)\t\(.median)\t\(.min)\t\(.max)\t\(.n)\t\(.cpu)"' "${files[@]}")
    local base_median
    base_median=$(awk -F'\t' -v b="$base" '$1 == b { print $2 }' <<<"$stats")
    local cmd label
    for cmd in "$@"; do
        local row rss
        row=$(awk -F'\t' -v c="$cmd" '$1 == c' <<<"$stats")
        [ -n "$row" ] || die "no timing for '$cmd'"
        rss=$(peak_rss "$cmd")
        label=${cmd//$WHOPORT/whoport}
        MEDIAN["$size/$name/$label"]=$(cut -f2 <<<"$row")
        # shellcheck disable=SC2034 # read through a name reference in ratio()
        CPU["$size/$name/$label"]=$(cut -f6 <<<"$row")
        # shellcheck disable=SC2034 # read through a name reference in ratio()
        RSS["$size/$name/$label"]=$rss
        awk -F'\t' -v label="$label" -v base="$base_median" -v rss="$rss" '{
            ratio = base > 0 ? sprintf("%.2f×", $2 / base) : "–"
            printf "| `%s` | %.1f | %.1f–%.1f | %s | %.1f | %.1f |\n", label, $2 * 1000, $3 * 1000, $4 * 1000, ratio, $6 * 1000, rss / 1024
        }' <<<"$row"
    done
}

# ---- the run -----------------------------------------------------------------------

TABLES=$RESULTS/tables.md
: >"$TABLES"
declare -A FDS HELD_PORT FREE
for size in "${SIZES[@]}"; do
    start_fixture "$size"
    read -r procs fds sockets < <(host_counts)
    FDS[$size]=$fds
    note "$size host: $procs processes, $fds open fds, $sockets TCP/UDP sockets"
    FREE_NOSCAN=
    OWNER_SCAN=
    LIST_NOSCAN=
    check_answers "$size"
    BUSY_BEFORE=$(other_load)
    waited=0
    while [ "${BUSY_BEFORE%\%}" -gt "$IDLE_BELOW" ] && [ "$waited" -lt "$WAIT_IDLE" ]; do
        note "other work keeps $BUSY_BEFORE of the cores busy; waiting for it to drop below $IDLE_BELOW%"
        sleep 8
        waited=$((waited + 10))
        BUSY_BEFORE=$(other_load)
    done

    W=$WHOPORT
    PROCFS="--owner-scan procfs"
    listen=("$W" "$W $PROCFS" "ss -tulpn" "netstat -tulpn" "lsof -nP -i" "$W --backend portable")
    listen_json=("$W --json" "$W --json $PROCFS" "ss -tulpn" "$W --json --backend portable")
    held=("$W $PORT" "$W $PROCFS $PORT" "ss -tlnp 'sport = :$PORT'" "fuser $PORT/tcp" "lsof -nP -iTCP:$PORT" "$W --backend portable $PORT")
    free=("$W $FREE_PORT" "ss -tlnp 'sport = :$FREE_PORT'" "fuser $FREE_PORT/tcp" "lsof -nP -iTCP:$FREE_PORT" "$W --backend portable $FREE_PORT")
    all=("$W -a" "$W -a $PROCFS" "ss -tuapn" "netstat -tuapn" "lsof -nP -i" "$W -a --backend portable")
    time_case "$size" listen "${listen[@]}"
    time_case "$size" listen-json "${listen_json[@]}"
    time_case "$size" held "${held[@]}"
    time_case "$size" free "${free[@]}"
    time_case "$size" all "${all[@]}"
    BUSY_AFTER=$(other_load)
    note "$size: cores busy with other work before/after timing: $BUSY_BEFORE / $BUSY_AFTER"

    {
        echo "### $size: $procs processes, $fds open fds, $sockets TCP/UDP sockets"
        echo
        echo "Checked before timing: whoport's listening sockets, the sockets on the held port and"
        echo "every socket in every state equal ss's (same inodes, same pids); port $PORT is held by"
        echo "exactly the fixture's pids $OWNERS; port $FREE_PORT is free, and whoport opened no"
        echo "/proc/PID/fd for it: $FREE_NOSCAN. whoport's owner scan by default: $OWNER_SCAN;"
        echo "$LIST_NOSCAN; \`--owner-scan procfs\` (the /proc/*/fd scan) gave the same answers."
        echo "Cores busy with other work just before and just after the timings: $BUSY_BEFORE / $BUSY_AFTER."
        echo
        echo "| command | median ms | min–max ms | × ss | CPU ms | peak RSS MiB |"
        echo "|---|---:|---:|---:|---:|---:|"
        echo "| **every listener, table to a pipe** | | | | | |"
        report_case "$size" listen "ss -tulpn" "${listen[@]}"
        echo "| **every listener, JSON** | | | | | |"
        report_case "$size" listen-json "ss -tulpn" "${listen_json[@]}"
        echo "| **one held port ($PORT, 2 owners)** | | | | | |"
        report_case "$size" held "ss -tlnp 'sport = :$PORT'" "${held[@]}"
        echo "| **one free port ($FREE_PORT)** | | | | | |"
        report_case "$size" free "ss -tlnp 'sport = :$FREE_PORT'" "${free[@]}"
        echo "| **every socket, every state** | | | | | |"
        report_case "$size" all "ss -tuapn" "${all[@]}"
        echo
    } >>"$TABLES"
    HELD_PORT[$size]=$PORT
    FREE[$size]=$FREE_PORT
    stop_fixture
done


# ---- targets and growth --------------------------------------------------------------

# The targets are judged on the largest size run.
T=${SIZES[-1]}
# ratio A-KEY B-KEY ARRAY: A/B from MEDIAN or RSS.
ratio() {
    local -n values=$3
    local a=${values[$1]:-} b=${values[$2]:-}
    awk -v a="$a" -v b="$b" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "?"; else printf "%.3f", a / b }'
}
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r ~ /^[0-9.]+$/ && r + 0 <= t + 0) ? "met" : "**not met**" }'; }
target_row() { # description, ratio, limit
    echo "| $1 | $2× | ≤ $3× | $(verdict "$2" "$3") |"
}
P=${HELD_PORT[$T]}
F=${FREE[$T]}
TARGETS=$RESULTS/targets.md
{
    echo "### Targets ($T fixture, ratios of medians from this run)"
    echo
    echo "| case | measured | target | |"
    echo "|---|---:|---:|---|"
    target_row "\`whoport\` vs \`ss -tulpn\`" \
        "$(ratio "$T/listen/whoport" "$T/listen/ss -tulpn" MEDIAN)" 0.15
    target_row "CPU \`whoport\` vs \`ss -tulpn\`" \
        "$(ratio "$T/listen/whoport" "$T/listen/ss -tulpn" CPU)" 0.10
    target_row "\`whoport $P\` (held, 2 owners) vs \`ss -tlnp 'sport = :$P'\`" \
        "$(ratio "$T/held/whoport $P" "$T/held/ss -tlnp 'sport = :$P'" MEDIAN)" 0.12
    target_row "\`whoport $F\` (free) vs \`ss -tlnp 'sport = :$F'\`" \
        "$(ratio "$T/free/whoport $F" "$T/free/ss -tlnp 'sport = :$F'" MEDIAN)" 0.03
    target_row "\`whoport\` vs \`lsof -nP -i\`" \
        "$(ratio "$T/listen/whoport" "$T/listen/lsof -nP -i" MEDIAN)" 0.2
    target_row "/proc scan: \`whoport --owner-scan procfs\` vs \`ss -tulpn\`" \
        "$(ratio "$T/listen/whoport --owner-scan procfs" "$T/listen/ss -tulpn" MEDIAN)" 0.35
    target_row "/proc scan: \`whoport --owner-scan procfs $P\` vs \`ss -tlnp 'sport = :$P'\`" \
        "$(ratio "$T/held/whoport --owner-scan procfs $P" "$T/held/ss -tlnp 'sport = :$P'" MEDIAN)" 0.35
    for pair in "listen|whoport|ss -tulpn" "listen-json|whoport --json|ss -tulpn" \
        "held|whoport $P|ss -tlnp 'sport = :$P'" "free|whoport $F|ss -tlnp 'sport = :$F'" \
        "all|whoport -a|ss -tuapn"; do
        IFS='|' read -r c w s <<<"$pair"
        target_row "peak RSS \`$w\` vs \`$s\`" "$(ratio "$T/$c/$w" "$T/$c/$s" RSS)" 1
    done
    echo
    if [ ${#SIZES[@]} -ge 2 ]; then
        a=${SIZES[0]}
        echo "### Growth ($a → $T)"
        echo
        echo "Time per 10,000 more open fds, from the medians at the two sizes, and each size's"
        echo "time per 10,000 fds on its own (equal values mean the cost is linear in fds)."
        echo
        echo "| command | ms per 10k fds ($a → $T) | ms per 10k fds at $a | at $T |"
        echo "|---|---:|---:|---:|"
        for pair in "listen|whoport|whoport" "listen|whoport --owner-scan procfs|whoport --owner-scan procfs" \
            "listen|ss -tulpn|ss -tulpn" \
            "held|whoport ${HELD_PORT[$a]}|whoport $P|whoport PORT" \
            "held|ss -tlnp 'sport = :${HELD_PORT[$a]}'|ss -tlnp 'sport = :$P'|ss -tlnp 'sport = :PORT'" \
            "listen|lsof -nP -i|lsof -nP -i"; do
            IFS='|' read -r c wa wt label <<<"$pair"
            label=${label:-$wa}
            ka="$a/$c/$wa"
            kt="$T/$c/$wt"
            awk -v l="$label" -v ta="${MEDIAN[$ka]}" -v tt="${MEDIAN[$kt]}" \
                -v fa="${FDS[$a]}" -v ft="${FDS[$T]}" 'BEGIN {
                slope = ft != fa ? sprintf("%.2f", (tt - ta) * 1e3 / (ft - fa) * 1e4) : "–"
                printf "| `%s` | %s | %.2f | %.2f |\n", l, slope, ta * 1e3 / fa * 1e4, tt * 1e3 / ft * 1e4
            }'
        done
        echo
    fi
} >"$TARGETS"

# ---- docs/benchmarks.md --------------------------------------------------------------

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
commit=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null) || commit="$commit (with uncommitted changes)"
SECTION=$RESULTS/section.md
{
    echo "<!-- bench:begin (written by bench/run.sh; edit outside these marks) -->"
    echo "## Results"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); whoport $commit"
    echo "- Machine: $cpu, $(nproc) cores, $mem, Linux $(uname -r), $(id -un)"
    echo "- Tools: $(ss -V 2>&1 | head -1); $(netstat --version 2>&1 | head -1);" \
        "lsof $(lsof -v 2>&1 | sed -n 's/^ *revision: *//p' | head -1);" \
        "$(fuser -V 2>&1 | head -1); $(hyperfine --version)"
    echo "- Method: hyperfine -N --output=pipe, $WARMUP warm-up runs, $ROUNDS rounds of $RUNS runs" \
        "(order reversed every other round); medians and min–max over all $((ROUNDS * RUNS)) runs;" \
        "CPU is user + system time (hyperfine's mean), which another load on the machine" \
        "moves less than wall time; peak RSS is the median of $RSS_RUNS runs under /usr/bin/time -v"
    echo
    cat "$TARGETS" "$TABLES"
    echo "<!-- bench:end -->"
} >"$SECTION"

mkdir -p "$(dirname "$OUT")"
if [ -f "$OUT" ] && grep -q '^<!-- bench:begin' "$OUT" && grep -q '^<!-- bench:end' "$OUT"; then
    awk -v section="$SECTION" '
        /^<!-- bench:begin/ { while ((getline line < section) > 0) print line; skip = 1; next }
        /^<!-- bench:end/ { skip = 0; next }
        !skip' "$OUT" >"$OUT.new"
    mv "$OUT.new" "$OUT"
else
    { [ -f "$OUT" ] && cat "$OUT" && echo; cat "$SECTION"; } >"$OUT.new"
    mv "$OUT.new" "$OUT"
fi
note "wrote $OUT"
cat "$TARGETS"
