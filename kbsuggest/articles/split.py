"""Blocks -> sections: group at headings, merge tiny sections into their parent, split long ones.

The pipeline is a list of small pure steps (`STEPS`), each taking and returning a list of `Draft`s.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from kbsuggest.articles.markdown import Block

# all-MiniLM-L6-v2 truncates at 256 word pieces; the heading path is prepended, so leave room.
MAX_TOKENS = 200
MIN_TOKENS = 12

_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_PUNCT = re.compile(r"[^\w\s]|_")
_SENTENCE_END = re.compile(r"(?<=[.!?;。！？；])\s+|(?<=[。！？；])")


def estimate_tokens(text: str) -> int:
    """Word pieces, roughly: one per CJK character, 1.3 per other word, 0.5 per punctuation mark."""
    cjk = len(_CJK_CHAR.findall(text))
    words = len(_WORD.findall(_CJK_CHAR.sub(" ", text)))
    punct = len(_PUNCT.findall(text))
    return math.ceil(cjk + 1.3 * words + 0.5 * punct)


def slugify(heading: str) -> str:
    """GitHub-style anchor: lowercase, punctuation dropped, spaces to '-'; CJK kept."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@dataclass(frozen=True)
class Draft:
    """A section in the making."""

    level: int
    path: tuple[str, ...]
    anchor: str
    texts: tuple[str, ...]
    line_start: int
    line_end: int

    @property
    def text(self) -> str:
        return "\n\n".join(self.texts)


def group(title: str, body_blocks: list[Block]) -> list[Draft]:
    """One draft per heading; text before the first sub-heading belongs to the article's root."""
    drafts = [Draft(1, (title,), slugify(title), (), 0, 0)]
    texts: list[list[str]] = [[]]  # each draft's texts, collected here: appending to tuples is quadratic
    stack: list[tuple[int, str]] = []
    seen_anchors: dict[str, int] = {drafts[0].anchor: 1}
    first_h1 = True
    for block in body_blocks:
        if block.level == 1 and first_h1:
            first_h1 = False
            if slugify(block.text) == drafts[0].anchor:  # the title's own heading
                drafts[0] = replace(drafts[0], line_start=block.line_start, line_end=block.line_end)
                continue
            # a front-matter title that differs: this H1 is an ordinary heading, so its text is kept
        if block.level:
            level = max(block.level, 2)
            stack = [(lvl, text) for lvl, text in stack if lvl < level] + [(level, block.text)]
            anchor = slugify(block.text)
            count = seen_anchors.get(anchor, 0)
            seen_anchors[anchor] = count + 1
            if count:
                anchor = f"{anchor}-{count}"
            path = (title, *(text for _, text in stack))
            drafts.append(Draft(level, path, anchor, (), block.line_start, block.line_end))
            texts.append([])
        else:
            texts[-1].append(block.text)
            drafts[-1] = replace(drafts[-1], line_end=block.line_end)
    return [replace(draft, texts=tuple(own)) for draft, own in zip(drafts, texts, strict=True)]


def merge_tiny(drafts: list[Draft]) -> list[Draft]:
    """Sections under MIN_TOKENS join their parent (or, with no parent, the next section).

    An empty heading with sub-sections disappears: its text lives on in their heading paths.
    """
    out: list[Draft] = []
    joined: list[list[str]] = []  # texts joining out[i] from its tiny sub-sections
    open_headings: list[int] = []  # indices into `out` whose levels rise: the candidate parents
    pending: tuple[str, ...] = ()
    pending_start: int | None = None
    for index, draft in enumerate(drafts):
        if pending:
            draft = replace(draft, texts=(*pending, *draft.texts), line_start=pending_start or draft.line_start)
            pending, pending_start = (), None
        has_children = index + 1 < len(drafts) and drafts[index + 1].level > draft.level
        if estimate_tokens(draft.text) >= MIN_TOKENS or len(drafts) == 1:
            while open_headings and out[open_headings[-1]].level >= draft.level:
                open_headings.pop()
            open_headings.append(len(out))
            out.append(draft)
            joined.append([])
            continue
        if not draft.texts and has_children:
            continue
        parent = next((p for p in reversed(open_headings) if out[p].level < draft.level), None)
        if parent is None and index + 1 == len(drafts) and out:
            parent = len(out) - 1  # nothing above it and nothing after it: join the section before
        base = out[parent].path if parent is not None else draft.path[:1]
        shared = next((i for i, (a, b) in enumerate(zip(base, draft.path, strict=False)) if a != b), len(base))
        heading = " > ".join(draft.path[shared:])
        own = (heading, *draft.texts) if heading else draft.texts
        if parent is not None:
            p = out[parent]
            joined[parent].append("\n".join(own))
            out[parent] = replace(
                p, line_start=min(p.line_start, draft.line_start), line_end=max(p.line_end, draft.line_end)
            )
        elif index + 1 < len(drafts):
            pending, pending_start = own, draft.line_start
        else:
            out.append(draft)
            joined.append([])
    merged = [replace(d, texts=(*d.texts, *more)) if more else d for d, more in zip(out, joined, strict=True)]
    return [d for d in merged if d.texts] or merged[:1]


def split_long(drafts: list[Draft]) -> list[Draft]:
    """Sections over MAX_TOKENS split at paragraph, then sentence, then word boundaries."""
    out: list[Draft] = []
    for draft in drafts:
        if estimate_tokens(draft.text) <= MAX_TOKENS:
            out.append(draft)
            continue
        pieces = [piece for text in draft.texts for piece in _pieces(text)]
        parts: list[list[str]] = [[]]
        for piece in pieces:
            if parts[-1] and estimate_tokens("\n\n".join([*parts[-1], piece])) > MAX_TOKENS:
                parts.append([])
            parts[-1].append(piece)
        out.extend(replace(draft, texts=tuple(part)) for part in parts)
    return out


def _pieces(text: str) -> list[str]:
    """`text` whole if it fits, else its sentences, else fixed runs of words or characters."""
    if estimate_tokens(text) <= MAX_TOKENS:
        return [text]
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    if len(sentences) > 1:
        return [piece for sentence in sentences for piece in _pieces(sentence)]
    words = text.split(" ") if " " in text.strip() else list(text)
    joiner = " " if " " in text.strip() else ""
    size = max(1, len(words) * MAX_TOKENS // (2 * estimate_tokens(text)))
    return [joiner.join(words[i : i + size]) for i in range(0, len(words), size)]


STEPS: tuple[Callable[[list[Draft]], list[Draft]], ...] = (merge_tiny, split_long)


def sections_from_blocks(title: str, body_blocks: list[Block]) -> list[Draft]:
    """Run the splitting pipeline over an article's blocks."""
    drafts = group(title, body_blocks)
    for step in STEPS:
        drafts = step(drafts)
    return drafts
