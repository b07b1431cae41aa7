#!/usr/bin/env python3
# Which functions one isolate compiled to bytecode that another did not, each named by its own
# source text: V8's function events with the scripts' sources, from
#   node --log-function-events --log-source-code --logfile-per-isolate scripts/lib/worker-chain.cjs 3 seed
# untraced and under `scope run` (one log per isolate; compare a later worker's two logs).
# Prints the counts and, per function (script, name, first 50 characters), traced minus untraced.
#   python3 scripts/lib/function-events-diff.py <untraced isolate log> <traced isolate log>
import sys,collections,re
def unesc(s):
    return re.sub(r'\\x([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})|\\n|\\\\', lambda m: chr(int(m.group(1),16)) if m.group(1) else chr(int(m.group(2),16)) if m.group(2) else '\n' if m.group(0)=='\\n' else '\\', s)
def load(p):
    src={}; url={}; out=collections.Counter()
    for line in open(p, errors='replace'):
        if line.startswith('script-source,'):
            a=line.rstrip('\n').split(',',3)
            url[a[1]]=a[2]; src[a[1]]=unesc(a[3]) if len(a)>3 else ''
    for line in open(p, errors='replace'):
        f=line.rstrip('\n').split(',')
        if f[0]=='function' and f[1] in ('interpreter',) :
            sid,st,en=f[2],int(f[3]),int(f[4])
            s=src.get(sid,'')
            u=url.get(sid,'?').split('/')[-1]
            snip=s[st:st+50].replace('\n',' ') if 'scope-dev-agent' not in url.get(sid,'') else ''
            out[(u,f[7] if len(f)>7 else '',snip)]+=1
    return out
u=load(sys.argv[1]); t=load(sys.argv[2])
print('total', sum(u.values()), sum(t.values()))
for k in sorted(set(t)|set(u)):
    if t[k]!=u[k]: print(t[k]-u[k], k)
