"""Redaction quality on labelled messages: per kind, spans found right, found wrongly, and missed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from kbsuggest.privacy.redact import find_pii


class LabelledSpan(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    value: str


class LabelledText(BaseModel):
    """One line of a labelled file: `{"text": ..., "spans": [{"kind": "card", "value": "4111 ..."}]}`."""

    model_config = ConfigDict(frozen=True)

    text: str
    spans: tuple[LabelledSpan, ...]

    def gold(self) -> set[tuple[str, int, int]]:
        """(kind, start, end) of each labelled value, found left to right in the text."""
        found: set[tuple[str, int, int]] = set()
        cursor: dict[str, int] = {}
        for span in self.spans:
            start = self.text.index(span.value, cursor.get(span.value, 0))
            cursor[span.value] = start + 1
            found.add((span.kind, start, start + len(span.value)))
        return found


class KindCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        labelled = self.true_positives + self.false_negatives
        return self.true_positives / labelled if labelled else 1.0


def read_labelled(path: Path) -> list[LabelledText]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [LabelledText.model_validate(json.loads(line)) for line in lines if line.strip()]


def span_counts(rows: list[LabelledText]) -> dict[str, KindCounts]:
    """Exact-span matching per kind, order numbers masked too (so they are scored)."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for row in rows:
        gold = row.gold()
        found = {(s.kind, s.start, s.end) for s in find_pii(row.text, keep_order_numbers=False).spans}
        tp.update(kind for kind, _, _ in gold & found)
        fp.update(kind for kind, _, _ in found - gold)
        fn.update(kind for kind, _, _ in gold - found)
    kinds = sorted(set(tp) | set(fp) | set(fn))
    return {k: KindCounts(true_positives=tp[k], false_positives=fp[k], false_negatives=fn[k]) for k in kinds}
