"""Full build (documents encoded with the int8 export, the default) beside an exact build
(`quantized_build=False`, sentence-transformers) and beside raw `encode` of the same texts, all in the
same run; one-article incremental rebuild, size on disk, peak RSS.

.venv/bin/python benchmarks/bench_build.py [--sections 5000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from synthetic import write_kb

from kbsuggest import KnowledgeBase
from kbsuggest.articles import load_articles
from kbsuggest.config import Settings
from kbsuggest.index.views import view_texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sections", type=int, default=5000)
    parser.add_argument("--sentences", type=int, default=4, help="per section (4: about 90 word pieces)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_kb(Path(tmp) / "articles", args.sections, sentences=args.sentences)
        sections = [s for a in load_articles(root) for s in a.sections]
        texts = sorted({t for rows in view_texts(sections).values() for t in rows}, key=len)
        encoders = Settings().encoders()

        started = time.perf_counter()
        for encoder in encoders.values():
            encoder.encode_queries(["warm up"])
        load_seconds = time.perf_counter() - started

        started = time.perf_counter()
        for encoder in encoders.values():
            for start in range(0, len(texts), 256):  # the batches a build uses, and a progress bar would
                encoder.encode_documents(texts[start : start + 256])
        raw = time.perf_counter() - started

        builds = {}
        for name, quantized in (("exact", False), ("int8", True)):
            started = time.perf_counter()
            settings = Settings(quantized_build=quantized)
            KnowledgeBase.build(root, Path(tmp) / f"index-{name}", encoders=encoders, settings=settings)
            builds[name] = time.perf_counter() - started

        first = sorted(root.glob("*.md"))[0]
        first.write_text(first.read_text() + "\nOne more sentence about store credit.\n")
        started = time.perf_counter()
        kb = KnowledgeBase.build(root, Path(tmp) / "index-int8", encoders=encoders)
        incremental = time.perf_counter() - started

        size = sum(p.stat().st_size for p in (Path(tmp) / "index-int8").iterdir())
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"sections: {len(sections)} ({len(texts)} distinct texts to embed)")
        print(f"encoders: {', '.join(e.model_id for e in encoders.values())}")
        print(f"model load (excluded below): {load_seconds:.2f} s")
        print(f"raw encode of the same texts: {raw:.1f} s ({len(sections) / raw:.1f} sections/s)")
        for name, seconds in builds.items():
            print(
                f"full build, {name} documents: {seconds:.1f} s ({len(sections) / seconds:.1f} sections/s), "
                f"{seconds / raw:.3f}x raw encode"
            )
        print(f"int8 build speed-up over the exact build: {builds['exact'] / builds['int8']:.2f}x")
        print(f"one-article incremental rebuild: {incremental:.2f} s ({kb.last_build})")
        print(f"index on disk: {size / 1e6:.1f} MB; peak RSS: {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
