"""A deterministic synthetic knowledge base of realistic-length sections, for benchmarks."""

from __future__ import annotations

import random
from pathlib import Path

TOPICS = ["returns", "refunds", "shipping", "warranty", "payment", "invoices", "sizing", "coupons", "orders", "account"]
SUBJECTS = ["Your order", "The parcel", "A refund", "The warranty", "Each coupon", "Your invoice", "The jacket"]
VERBS = ["is processed", "ships", "is issued", "covers defects", "applies", "is available", "arrives", "is checked"]
TAILS = [
    "within 2 business days of the request",
    "after our warehouse inspects the returned item",
    "to the original payment method on file",
    "for 30 days from the delivery date shown in tracking",
    "unless the item was marked final sale at checkout",
    "when the order total is over $49 before tax",
    "and you receive an email with a tracking link",
    "as long as the tags are attached and it is unused",
]


def sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(TAILS)}, {rng.choice(TAILS)}."


def write_kb(root: Path, sections: int, per_article: int = 10, sentences: int = 7, seed: int = 0) -> Path:
    """`sections` sections of `sentences` sentences (7: about 150 word pieces), `per_article` per article."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for a in range(sections // per_article):
        topic = TOPICS[a % len(TOPICS)]
        lines = [f"---\nid: {topic}-{a}\ntype: policy\n---\n# {topic.title()} guide {a}\n"]
        for s in range(per_article):
            body = " ".join(sentence(rng) for _ in range(sentences))
            lines.append(f"## {topic.title()} question {s} of article {a}\n\n{body}\n")
        (root / f"{topic}-{a}.md").write_text("\n".join(lines), encoding="utf-8")
    return root
