# How far summaries of a workload's alternated pairs move between benches: pairs pooled from
# `scope bench --workload pool --runs N --json` reports, benches of K pairs drawn from them (4,000
# draws, without replacement), each summary's 10th–90th percentile; then what each report's first K
# pairs read. BENCHMARKS.md "The pool's figure on a noisy host".
#   python3 scripts/lib/bench-pair-summaries.py K REPORT.json...
import json,sys,random,statistics as st
K=int(sys.argv[1]); files=sys.argv[2:]
pairs=[]; per=[]
for f in files:
    w=json.load(open(f))['workloads'][0]
    u=[r for r in w['runs'] if r['mode']=='untraced']; t=[r for r in w['runs'] if r['mode']=='traced']
    ev=lambda r: r['trace']['check']['counts']['message_send']+r['trace']['check']['counts']['message_receive']
    ps=[(a['rate'],b['rate'],a['programCpuSeconds'],b['programCpuSeconds'],ev(b)) for a,b in zip(u,t)]
    pairs+=ps; per.append(ps)
def figs(ps):
    med=st.median
    return {
     'rate: median of pair ratios (now)': med([u/t-1 for u,t,_,_,_ in ps]),
     'rate: ratio of medians': med([p[0] for p in ps])/med([p[1] for p in ps])-1,
     'rate: ratio of best runs': max(p[0] for p in ps)/max(p[1] for p in ps)-1,
     'cpu: median of pair ratios': med([tc/uc-1 for _,_,uc,tc,_ in ps]),
     'cpu: ratio of least': min(p[3] for p in ps)/min(p[2] for p in ps)-1,
     'ns: median of pair diffs (now)': med([(tc-uc)/e*1e9 for _,_,uc,tc,e in ps]),
     'ns: least traced - least untraced': (min(p[3] for p in ps)-min(p[2] for p in ps))/ps[0][4]*1e9,
     'ns: median traced - median untraced': (med([p[3] for p in ps])-med([p[2] for p in ps]))/ps[0][4]*1e9,
    }
random.seed(1)
sims=[figs(random.sample(pairs,K)) for _ in range(4000)]
print(f"{len(pairs)} pairs from {len(files)} benches; simulated benches of {K} pairs (drawn without replacement):")
for k in sims[0]:
    v=sorted(s[k] for s in sims); n=len(v)
    lo,hi=v[int(.1*n)],v[int(.9*n)]
    scale=100 if not k.startswith('ns') else 1
    print(f"  {k:38} median {st.median(v)*scale:7.1f}  10–90% {lo*scale:7.1f} … {hi*scale:7.1f}  (width {(hi-lo)*scale:6.1f})")
print("actual benches, first K pairs:")
for f,ps in zip(files,per):
    fg=figs(ps[:K]); print("  "+f.split('/')[-1]+": "+", ".join(f"{v*(1 if k.startswith('ns') else 100):.1f}" for k,v in fg.items()))
