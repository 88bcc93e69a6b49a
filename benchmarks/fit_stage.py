"""Fit and measure the stage prior (kbsuggest/retrieval/fusion.py: FusionWeights.stage) the way fit_fusion.py fits the
fusion weights: per language, fit the prior's weight on one real set (keeping the shared dev set within
DEV_TOLERANCE) and report it on the other, both directions.

    .venv/bin/python benchmarks/fit_stage.py [--shared ../shared/eval] [--cache /tmp/stage-cache]

The per-signal scores (fit_fusion.signal_scores) are cached per language in --cache, so a refit takes seconds.
The fused score is the default fusion (FusionWeights) of those signals, without example phrasings; the prior adds
w x (the message's stage evidence . the article's stage) when the message gives evidence (`text.stage`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from fit_fusion import DEV_TOLERANCE, ROOT, SIGNALS, sets, signal_scores

from kbsuggest.articles.load import load_articles
from kbsuggest.evaluation import read_queries
from kbsuggest.retrieval.fusion import DEFAULT_WEIGHTS, stage_match
from kbsuggest.text.stage import stage_evidence

GRID = np.round(np.arange(0.0, 1.51, 0.05), 2)


def cached(language: str, articles: Path, files: dict[str, Path], cache: Path) -> tuple[list[str], dict]:
    path = cache / f"{language}.npz"
    if not path.exists():
        ids, data = signal_scores(articles, files)
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, ids=np.array(ids), **{f"z_{n}": z for n, (_, z) in data.items()})
        (cache / f"{language}.json").write_text(json.dumps({n: [list(e) for e in lab] for n, (lab, _) in data.items()}))
    loaded = np.load(path)
    labels = json.loads((cache / f"{language}.json").read_text())
    return [str(i) for i in loaded["ids"]], {n: (labels[n], loaded[f"z_{n}"]) for n in files}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/stage-cache"))
    args = parser.parse_args()
    for language, (articles, files) in sets(args.shared).items():
        ids, data = cached(language, articles, files, args.cache)
        stages = {a.meta.id: a.meta.stage for a in load_articles(articles)}
        weights = DEFAULT_WEIGHTS.for_language(language)
        w = np.array([weights.get(s, 0.0) for s in SIGNALS])
        per_set = {}
        for name, (labels, z) in data.items():
            texts = [q.query for q in read_queries(files[name])]
            prior = np.array([stage_match(stage_evidence(t), [stages[a] for a in ids]) for t in texts])
            per_set[name] = (labels, np.einsum("s,msa->ma", w, z), prior)

        def acc(name: str, weight: float, per_set: dict = per_set, ids: list[str] = ids) -> float:
            labels, fused, prior = per_set[name]
            top = (fused + weight * prior).argmax(-1)
            scoped = [(e, t) for e, t in zip(labels, top, strict=True) if e]
            return sum(ids[t] in e for e, t in scoped) / len(scoped)

        cued = {n: float(np.mean(np.abs(p).sum(-1) > 0)) for n, (_, _, p) in per_set.items()}
        print(f"\n## {language}: accuracy@1 (answerable); messages with stage evidence: {cued}")
        print("| w | fitted on | " + " | ".join(files) + " |\n|---|---|" + "---|" * len(files))
        print("| 0 | - | " + " | ".join(f"{acc(n, 0.0):.3f}" for n in files) + " |")
        for held, fit_on in (("real", "more"), ("more", "real")):
            allowed = [g for g in GRID if acc("dev", g) >= acc("dev", 0.0) - DEV_TOLERANCE]
            best = max(allowed, key=lambda g: (round(acc(fit_on, g), 6), -g))
            cells = [f"**{acc(n, best):.3f}**" if n == held else f"{acc(n, best):.3f}" for n in files]
            print(f"| {best} | {fit_on} (+ dev) | " + " | ".join(cells) + " |")
        print("curve:", {float(g): tuple(round(acc(n, g), 3) for n in files) for g in GRID[::2]})


if __name__ == "__main__":
    main()
