#!/usr/bin/env bash
# Installs (Debian/Ubuntu, as root) the programs whoport's tests compare against or run
# with, when they are missing. Tests that lack one print SKIP instead of failing.
set -euo pipefail

need=()
command -v ss >/dev/null 2>&1 || need+=(iproute2)
command -v lsof >/dev/null 2>&1 || need+=(lsof)
[[ -x /usr/bin/python3 ]] || need+=(python3)
# The Xsan tests start copies of perl named like Xsan's daemons.
[[ -x /usr/bin/perl ]] || need+=(perl)
# setpriv, and unshare for the pid and mount namespaces of the truth tests (hidepid, a
# descriptor in flight seen by a complete scan).
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# The table tests run whoport in a pseudo-terminal of a given width with script(1).
command -v script >/dev/null 2>&1 || need+=(bsdutils)
# The owner-scan tests check with strace that the BPF path opens no /proc/PID/fd.
command -v strace >/dev/null 2>&1 || need+=(strace)
# The monitoring tests: promtool checks the metrics and alert rules, node_exporter serves them.
[[ -x /usr/bin/promtool ]] || need+=(prometheus)
[[ -x /usr/bin/prometheus-node-exporter ]] || need+=(prometheus-node-exporter)
# Containers and network namespaces (tests/integration/containers.rs): Docker (the tests
# start dockerd when it is not running, and stop it after), rootful Podman with its CNI
# plugins, a static busybox to build the test image from (no registry is reachable), and
# nft/iptables to clean up the firewall tables the runtimes leave behind.
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v podman >/dev/null 2>&1 || need+=(podman)
[[ -x /usr/lib/cni/bridge ]] || need+=(containernetworking-plugins)
[[ $(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null) == "install ok installed" ]] || need+=(busybox-static)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v nft >/dev/null 2>&1 || need+=(nftables)
# The watch test counts whoport's directory reads with strace.
command -v strace >/dev/null 2>&1 || need+=(strace)
# .ci/run's actionlint checks the workflow's shell steps with shellcheck.
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)

if ((${#need[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "test-deps: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "test-deps: missing ${need[*]} (not root, or no apt-get): the tests that need them will skip"
  fi
fi
