"""Check the labelled reply-draft sets (drafts_{en,zh}.jsonl and the held-out drafts_heldout_{en,zh}.jsonl) against
the demo articles.

Every line must have the five fields; every expected anchor must exist in the file's language; every `must` entry
must occur (one of its alternatives, after `normalise`) in the text of one of the expected sections; every
`must_not` entry must occur somewhere in that language's articles (so it is a real fact, not a typo); and no
`must_not` alternative may be part of a `must` alternative, since no reply could then satisfy both.

    PYTHONPATH=. python benchmarks/data/check_drafts.py        # exit status 1 and one line per problem if any
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

from kbsuggest.articles.load import load_articles

ROOT = Path(__file__).resolve().parents[2]
FILES = {
    "drafts_en.jsonl": "en",
    "drafts_zh.jsonl": "zh",
    "drafts_heldout_en.jsonl": "en",
    "drafts_heldout_zh.jsonl": "zh",
}
FIELDS = {"query", "expected", "must", "must_not", "situation"}
_FOLD = str.maketrans({**{chr(0xFF10 + d): str(d) for d in range(10)}, **dict.fromkeys("‐‑‒–—―−", "-")})


def normalise(text: str) -> str:
    """The matching rule: full-width digits to ASCII, dashes to '-', whitespace collapsed, case folded."""
    return re.sub(r"\s+", " ", text.translate(_FOLD)).strip().casefold()


def alternatives(entry: str | list[str]) -> list[str]:
    return [normalise(a) for a in ([entry] if isinstance(entry, str) else entry)]


def section_texts(language: str) -> dict[str, str]:
    """'article-id#anchor' -> normalised section text (parts of a split section joined)."""
    texts: dict[str, str] = {}
    for article in load_articles(ROOT / "articles"):
        if article.meta.locale.split("-")[0] != language:
            continue
        for section in article.sections:
            key = f"{section.article_id}#{section.anchor}"
            texts[key] = texts.get(key, "") + " " + normalise(section.text)
    return texts


def problems(path: Path, texts: dict[str, str]) -> list[str]:
    corpus = " ".join(texts.values())
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path.name}:{number}"
        item = json.loads(line)
        if set(item) != FIELDS:
            found.append(f"{where}: fields are {sorted(item)}, want {sorted(FIELDS)}")
            continue
        missing = [e for e in item["expected"] if e not in texts]
        found += [f"{where}: expected anchor {e!r} does not exist" for e in missing]
        if not item["expected"] or missing:
            continue
        expected_text = " ".join(texts[e] for e in item["expected"])
        for entry in item["must"]:
            if not any(a in expected_text for a in alternatives(entry)):
                found.append(f"{where}: must {entry!r} is in none of the expected sections")
        for entry in item["must_not"]:
            if not any(a in corpus for a in alternatives(entry)):
                found.append(f"{where}: must_not {entry!r} is in no article")
            for bad in alternatives(entry):
                if any(bad in good for must in item["must"] for good in alternatives(must)):
                    found.append(f"{where}: must_not {bad!r} is part of a must fragment")
    return found


def main() -> int:
    all_problems = []
    for name, language in FILES.items():
        path = Path(__file__).with_name(name)
        all_problems += problems(path, section_texts(language))
        lines = path.read_text(encoding="utf-8").splitlines()
        counts = Counter(json.loads(line)["situation"] for line in lines)
        print(f"{name}: {len(lines)} lines; " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    print("\n".join(all_problems) or "ok")
    return 1 if all_problems else 0


if __name__ == "__main__":
    sys.exit(main())
