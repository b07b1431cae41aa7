#!/usr/bin/env python3
# Inclusive instruction counts of chosen functions in the worker threads' callgrind profiles
# (thread files numbered 8 and up), per worker = (count(hi) - count(lo)) / (hi - lo), for
# profiles kept by scripts/worker-start-thread-instructions.sh (KEEP=dir: dir/<n>-<workers>/).
# One column per dir given; recursive entries ('2 suffixes) are left out.
#   python3 scripts/lib/callgrind-inclusive.py lo hi n 'regex' dir...
#   e.g. python3 scripts/lib/callgrind-inclusive.py 2 6 1 'Runtime_CompileLazy|CompileFunctionForCJSLoader\(v8::Func' /tmp/K
import sys, subprocess, glob, re, collections
pat=re.compile(sys.argv[4])
def counts(d):
    c=collections.Counter()
    for f in glob.glob(d+'/cg.out-*'):
        n=int(f.rsplit('-',1)[1])
        if n<8: continue
        out=subprocess.run(['callgrind_annotate','--inclusive=yes','--threshold=100',f],capture_output=True,text=True).stdout
        for line in out.split('\n'):
            m=re.match(r'\s*([\d,]+)\s+\([^)]*\)\s+(\S.*)',line)
            if m and pat.search(m.group(2)) and "'" not in m.group(2).split('[')[0]:
                c[m.group(2)[:140]]+=int(m.group(1).replace(',',''))
    return c
res=[]
for d in sys.argv[5:]:
    lo,hi=int(sys.argv[1]),int(sys.argv[2])
    x=counts(d+f'/{sys.argv[3]}-{lo}'); y=counts(d+f'/{sys.argv[3]}-{hi}')
    res.append({k:(y[k]-x[k])/(hi-lo) for k in set(x)|set(y)})
keys=sorted(set().union(*res), key=lambda k:-max(abs(r.get(k,0)) for r in res))
for k in keys[:int(60)]:
    print(' '.join(f'{r.get(k,0)/1e3:9.1f}' for r in res), ' ', k)
