"""Paper-level fusion variants across QASPER papers (not a test): prints top-1 / top-3 of
the gold paper for BM25, dense and several ways of fusing them (docs/evaluation.md,
"Retrieval by meaning").  Needs a library of the first 40 dev papers with their vectors, as
``eval_retrieval.run_retrieval(FILE, papers=40, embedder=..., library_dir=DIR)`` leaves it:

    nice -n 10 python tests/bench/retrieval_paper_fusion.py DIR [QASPER_FILE]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reader_app.assistant import hybrid, qasper
from reader_app.assistant.eval_retrieval import gold_paragraphs
from reader_app.library import Library
import numpy as np
d = qasper.load_dataset(sys.argv[2] if len(sys.argv) > 2 else Path(__file__).resolve().parents[3] / "shared" / "qasper" / "qasper-dev.json")
ids = list(d)[:40]
lib = Library.open(sys.argv[1])
emb, _ = hybrid.open_retrieval()
def papers_from(hits, top=3):
    per = {}
    for (pid, _i), s in hits:
        per.setdefault(pid, []).append(s)
    return sorted(per, key=lambda p: (-sum(sorted(per[p], reverse=True)[:top]), p))
res = {}
for a in ids:
    paper = lib.get_paper(f"qasper:{a}")
    for q in d[a]["qas"]:
        if not gold_paragraphs(paper, q): continue
        qq = q["question"]; pid = f"qasper:{a}"
        bm = hybrid.library_hybrid(lib, qq, None)
        de = hybrid.library_dense(lib, qq, emb)
        pb, pd = papers_from(bm), papers_from(de)
        pd1 = papers_from(de, 1)
        variants = {
          "bm25": pb, "dense": pd, "dense_max": pd1,
          "para_rrf": papers_from(hybrid.fuse([bm, de])),
          "paper_rrf": [k for k, _ in hybrid.fuse([[(p, 0) for p in pb], [(p, 0) for p in pd]])],
          "paper_rrf_w": [k for k, _ in hybrid.fuse([[(p, 0) for p in pb], [(p, 0) for p in pd]], "rrf", [1.0, 0.5])],
          "para_w0.3": papers_from(hybrid.fuse([bm, de], "weighted", [0.7, 0.3])),
          "para_w0.2": papers_from(hybrid.fuse([bm, de], "weighted", [0.8, 0.2])),
          "para_rrf_w.5": papers_from(hybrid.fuse([bm, de], "rrf", [1.0, 0.5])),
        }
        for k, v in variants.items():
            res.setdefault(k, []).append((v[:1] == [pid], pid in v[:3]))
for k, v in res.items():
    print(f"{k:14s} top1 {np.mean([x[0] for x in v]):.3f} top3 {np.mean([x[1] for x in v]):.3f}")
