"""Near-duplicate sections: two articles answering the same question in (almost) the same words."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from kbsuggest.articles.models import Section
from kbsuggest.encoders.base import Encoder
from kbsuggest.lint.models import Finding, Location
from kbsuggest.lint.text import Document

THRESHOLD = 0.92


def near_duplicates(
    documents: Sequence[Document], encoders: Mapping[str, Encoder], threshold: float = THRESHOLD
) -> list[Finding]:
    """Pairs of sections from different articles in one language whose texts' cosine is `threshold` or more.

    `encoders` as for `KnowledgeBase.build`: Chinese is compared with 'multilingual' where given, the rest with
    'dense'. Each pair is reported once, at its later section, with the earlier one as `related`."""
    by_language: dict[str, list[tuple[str, Section]]] = defaultdict(list)
    for document in documents:
        by_language[document.language].extend((document.path, section) for section in document.article.sections)
    findings: list[Finding] = []
    for language, items in by_language.items():
        chinese = language == "zh" and "multilingual" in encoders
        vectors = encoders["multilingual" if chinese else "dense"].encode_documents([s.text for _, s in items])
        for first, second in zip(*np.nonzero(np.triu(vectors @ vectors.T >= threshold, k=1)), strict=True):
            (path, section), (other_path, other) = items[first], items[second]
            if path == other_path:
                continue
            findings.append(
                Finding(
                    severity="warning",
                    kind="near-duplicate",
                    path=other_path,
                    line=other.line_start,
                    message=f"section '{' > '.join(other.heading_path)}' is nearly the same as "
                    f"'{' > '.join(section.heading_path)}' at {path}:{section.line_start} "
                    f"(cosine {float(vectors[first] @ vectors[second]):.2f})",
                    fix="keep one and link to it from the other article",
                    related=(Location(path=path, line=section.line_start),),
                )
            )
    return findings
