#!/usr/bin/env python3
"""Fill a libFuzzer corpus directory with seeds for the `build` target.

From every report (*.json, *.json.gz) under the given folders: the whole
report when it is at most 1 MiB decompressed, and a trimmed copy (the
sections the parser reads, at most 40 calls per process, 5 items per IOC
list) that keeps the structure but is small enough to mutate quickly. Other
small files (the bad inputs) are copied as they are. Existing seeds are kept.
"""
import gzip
import hashlib
import json
import os
import sys

WHOLE_LIMIT = 1 << 20
KEEP = ("behavior", "target", "info", "signatures", "network", "dropped", "ttps", "malscore")


def trim(report):
    out = {k: report[k] for k in KEEP if k in report}
    beh = out.get("behavior")
    if isinstance(beh, dict):
        beh = {k: beh[k] for k in ("processes", "summary") if k in beh}
        procs = beh.get("processes")
        if isinstance(procs, list):
            procs = procs[:6]
            for p in procs:
                if isinstance(p, dict) and isinstance(p.get("calls"), list):
                    p["calls"] = p["calls"][:40]
            beh["processes"] = procs
        summ = beh.get("summary")
        if isinstance(summ, dict):
            beh["summary"] = {k: summ[k][:5] for k in ("mutex", "mutexes") if isinstance(summ.get(k), list)}
        out["behavior"] = beh
    for k in ("signatures", "dropped"):
        if isinstance(out.get(k), list):
            out[k] = out[k][:5]
    net = out.get("network")
    if isinstance(net, dict):
        out["network"] = {k: (v[:5] if isinstance(v, list) else v) for k, v in net.items()}
    return out


def put(outdir, data):
    name = hashlib.sha1(data).hexdigest()
    path = os.path.join(outdir, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        return 1
    return 0


def main():
    outdir, sources = sys.argv[1], sys.argv[2:]
    os.makedirs(outdir, exist_ok=True)
    added = 0
    for src in sources:
        if not os.path.isdir(src):
            continue
        for root, _, files in os.walk(src):
            for name in sorted(files):
                path = os.path.join(root, name)
                if not os.path.isfile(path) or os.path.getsize(path) > 64 << 20:
                    continue
                with open(path, "rb") as f:
                    raw = f.read()
                lower = name.lower()
                if not (lower.endswith(".json") or lower.endswith(".json.gz")):
                    if os.path.getsize(path) <= WHOLE_LIMIT:
                        added += put(outdir, raw)
                    continue
                try:
                    text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
                    report = json.loads(text)
                except (OSError, ValueError, EOFError):
                    added += put(outdir, raw[:WHOLE_LIMIT])
                    continue
                if len(text) <= WHOLE_LIMIT:
                    added += put(outdir, text)
                if isinstance(report, dict):
                    small = json.dumps(trim(report), separators=(",", ":")).encode()
                    added += put(outdir, small)
                    added += put(outdir, gzip.compress(small, mtime=0))
    print(f"seed.py: {added} new seeds in {outdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
