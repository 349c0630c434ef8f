#!/usr/bin/env python3
"""pdf_agreement.py — for each PDF: lore's page count against pdfinfo's, and the
share of pdftotext's words (as a multiset, case-folded) that lore's extracted text
has (recall), and the reverse (precision). A development check of issue 4's bar
(page counts equal; >= 95 % of words agree).
usage: tests/bench/pdf_agreement.py [--lore build/lore] FILE.pdf..."""
import os
import json, subprocess, sys, re, collections
args = sys.argv[1:]
LORE = 'build/lore'
if args[:1] == ['--lore']:
    LORE = args[1]; args = args[2:]
sys.argv = [sys.argv[0]] + args
def words(t): return collections.Counter(w.lower() for w in re.findall(r"\w+", t))
for f in sys.argv[1:]:
    pi = subprocess.run(["pdfinfo", f], capture_output=True, text=True).stdout
    m = re.search(r"Pages:\s+(\d+)", pi); pages = int(m.group(1)) if m else -1
    pt = subprocess.run(["pdftotext", f, "-"], capture_output=True, text=True, errors="replace").stdout
    r = subprocess.run([LORE, "extract", "--json", f], capture_output=True, text=True, errors="replace")
    if r.returncode: print("FAIL", f, r.stderr.strip()); continue
    d = json.loads(r.stdout); lt = "\n".join(b["text"] for b in d["blocks"])
    a, b = words(pt), words(lt)
    common = sum((a & b).values()); recall = common / max(1, sum(a.values())); prec = common / max(1, sum(b.values()))
    print(f"{f.split('/')[-1][:40]:40s} pages {d['pages']}/{pages} recall {recall:.3f} precision {prec:.3f} warn {len(d['warnings'])}")
