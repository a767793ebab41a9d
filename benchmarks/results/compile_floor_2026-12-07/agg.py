import re, sys, collections
lines = open(sys.argv[1]).read().splitlines()
start = next(i for i,l in enumerate(lines) if "MARK_COMPILE_START" in l)
ts = lambda l: (lambda m: int(m.group(1))*3600+int(m.group(2))*60+float(m.group(3)))(re.search(r" (\d\d):(\d\d):(\d\d\.\d+) ", l))
L = [l for l in lines[start:] if re.match(r"^[IWE]\d{4} ", l)]
t0 = ts(L[0]); t1 = ts(L[-1])
print("span logged", t1-t0)
# verifier time: pairs
ver = 0.0; cur=None
passes = collections.Counter(); pipes = collections.Counter(); pipe=None; last=None
for l in L:
    t = ts(l)
    if "Invariant checker hlo-verifier" in l and "done" not in l: cur = t
    elif "Invariant checker done" in l and cur is not None: ver += t-cur; cur=None
    m = re.search(r"HLO pass: (\S+) time: .*?\((\d+) us\)", l)
    if m: passes[m.group(1)] += int(m.group(2))/1e6
    m = re.search(r"Running HLO pass pipeline on module \S+: (.*)$", l)
    if m:
        if pipe: pipes[pipe] += t - pstart
        pipe, pstart = m.group(1), t
print("verifier total", round(ver,2))
print("pass total", round(sum(passes.values()),2))
for k,v in passes.most_common(25): print(f"  {v:7.3f} {k}")
print("pipelines (to next pipeline start)")
for k,v in pipes.most_common(12): print(f"  {v:7.3f} {k}")
# gaps > 0.2 s
prev=None
for l in L:
    t=ts(l)
    if prev and t-prev[0]>0.2: print(f"gap {t-prev[0]:.2f} after: {prev[1][:160]}")
    prev=(t,l)
