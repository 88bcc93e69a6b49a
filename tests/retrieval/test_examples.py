from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.encoders import HashingEncoder
from kbsuggest.feedback import FeedbackStore
from kbsuggest.feedback.teaching import taught_phrasings
from kbsuggest.retrieval.examples import article_scores, taught_signal
from tests.conftest import HASHING, REFUND, SHIPPING, write_articles


def article(article_id: str, title: str, questions: list[str], body: str) -> str:
    listed = "".join(f"\n  - {q}" for q in questions)
    return f"---\nid: {article_id}\ntitle: {title}\nquestions:{listed}\n---\n# {title}\n\n{body}\n"


ARTICLES = {
    "refunds.md": REFUND,
    "shipping.md": SHIPPING,
    "sizing.md": article(
        "sizing",
        "Sizing",
        ["what size should I order?", "does the jacket run small"],
        "Our jackets fit true to size. Between two sizes, order the larger one for layering.",
    ),
    "warranty.md": article(
        "warranty",
        "Warranty",
        ["my zipper broke, is that covered?", "how long is the warranty"],
        "Every product has a two-year warranty against defects. Send a photo of the defect to get a repair.",
    ),
    "gift-cards.md": article(
        "gift-cards",
        "Gift cards",
        ["can I pay with a gift card", "do gift cards expire"],
        "Gift cards never expire and work on any order, together with another payment method.",
    ),
}
TAUGHT = "the coat feels tight across the shoulders"
PARAPHRASE = "the coat feels tight"


def encoders() -> dict[str, HashingEncoder]:
    return {"dense": HashingEncoder(64), "multilingual": HashingEncoder(48)}


@pytest.fixture
def index(tmp_path: Path) -> Path:
    KnowledgeBase.build(write_articles(tmp_path / "articles", ARTICLES), tmp_path / "ix", settings=HASHING)
    return tmp_path / "ix"


def top(kb: KnowledgeBase, message: str) -> str:
    return kb.search(message, k=1)[0].article_id


def test_accepted_feedback_teaches_a_paraphrase_its_article(index: Path) -> None:
    kb = KnowledgeBase.load(index, settings=HASHING)
    assert top(kb, PARAPHRASE) != "sizing"
    kb.record_feedback(kb.suggest(TAUGHT).id, "accepted", article_id="sizing")
    assert top(KnowledgeBase.load(index, settings=HASHING), PARAPHRASE) == "sizing"


def test_rejected_feedback_teaches_nothing(index: Path) -> None:
    kb = KnowledgeBase.load(index, settings=HASHING)
    before = kb.search(PARAPHRASE)
    kb.record_feedback(kb.suggest(TAUGHT).id, "rejected", article_id="sizing")
    assert KnowledgeBase.load(index, settings=HASHING).search(PARAPHRASE) == before


def test_a_reloaded_kb_uses_learned_examples_without_encoding_them_again(index: Path) -> None:
    kb = KnowledgeBase.load(index, settings=HASHING)
    kb.record_feedback(kb.suggest(TAUGHT).id, "accepted", article_id="sizing")
    first = encoders()
    KnowledgeBase.load(index, settings=HASHING, encoders=first)
    assert first["dense"].texts_encoded == 1  # the new phrasing; the front-matter questions were cached at build
    again = encoders()
    kb = KnowledgeBase.load(index, settings=HASHING, encoders=again)
    assert again["dense"].texts_encoded == again["multilingual"].texts_encoded == 0
    assert top(kb, PARAPHRASE) == "sizing"


def test_learned_messages_are_stored_redacted(index: Path) -> None:
    kb = KnowledgeBase.load(index, settings=HASHING)
    s = kb.suggest("coat too tight, mail me at ann@example.com or call +1 415 555 0100")
    kb.record_feedback(s.id, "edited", final_text="Try a size up", article_id="sizing")
    ((article_id, text),) = taught_phrasings(FeedbackStore(index / "feedback.sqlite"))
    assert article_id == "sizing" and "[EMAIL]" in text and "ann@" not in text
    assert "555" not in text
    stored = b"".join(p.read_bytes() for p in index.glob("feedback.sqlite*"))
    assert b"ann@example.com" not in stored


def test_taught_signal_leaves_articles_without_phrasings_at_the_mean() -> None:
    vectors = np.eye(3, dtype=np.float32)
    scores = article_scores(vectors, np.array([0, 0, 2]), np.array([0.6, 0.8, 0.0], dtype=np.float32), 4)
    np.testing.assert_allclose(scores, [0.8, np.nan, 0.0, np.nan])  # best phrasing per article
    np.testing.assert_allclose(taught_signal(scores), [1.0, 0.0, -1.0, 0.0])  # type: ignore[arg-type]
    assert taught_signal(np.array([0.9, np.nan])) is None  # one article with phrasings says nothing
