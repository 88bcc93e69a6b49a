"""`asearch`, `asuggest`, `arecord_feedback`: the sync calls in worker threads, the event loop free meanwhile."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kbsuggest import KnowledgeBase
from kbsuggest.encoders import HashingEncoder
from kbsuggest.reply.models import Suggestion
from kbsuggest.retrieval.models import Answer
from tests.conftest import HASHING

MESSAGES = (
    "when do I get my refund?",
    "what does express shipping cost",
    "退货要多久",
    "😡 where is my refund A1048321",
)
TICKS = 100


class GatedEncoder(HashingEncoder):
    """The hashing encoder, whose queries wait for `gate`: a call made on the event loop's thread would wait
    for a gate only the (then blocked) loop can open, and fail."""

    def __init__(self, dim: int, gate: threading.Event) -> None:
        super().__init__(dim)
        self.gate = gate

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self._wait()
        return super().encode_queries(texts)

    def encode_with_tokens(self, texts: Sequence[str], *, query: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        self._wait()
        return super().encode_with_tokens(texts, query=query)

    def _wait(self) -> None:
        assert self.gate.wait(30), "the gate never opened: the call blocked the event loop"


def test_the_loop_keeps_running_while_asuggest_works_and_the_answers_are_suggests(
    articles_dir: Path, tmp_path: Path
) -> None:
    KnowledgeBase.build(articles_dir, tmp_path / "ix", settings=HASHING)
    gate = threading.Event()
    encoders = {"dense": GatedEncoder(64, gate), "multilingual": GatedEncoder(48, gate)}
    gate.set()  # open while loading
    kb = KnowledgeBase.load(tmp_path / "ix", settings=HASHING, encoders=encoders)
    gate.clear()

    async def run() -> tuple[int, list[Suggestion], list[list[Answer]]]:
        pending = asyncio.gather(
            asyncio.gather(*(kb.asuggest(m, {"customer_name": "Ann"}, k=2, tone="formal") for m in MESSAGES)),
            asyncio.gather(*(kb.asearch(m, k=2, filters={"locale": "en"}) for m in MESSAGES)),
        )
        ticks = 0
        while ticks < TICKS:  # the loop runs other coroutines while every call waits inside its encoder
            await asyncio.sleep(0)
            ticks += 1
            assert not pending.done()
        gate.set()
        suggestions, searches = await pending
        return ticks, suggestions, searches

    ticks, suggestions, searches = asyncio.run(run())
    assert ticks == TICKS
    for message, suggestion, answers in zip(MESSAGES, suggestions, searches, strict=True):
        expected = kb.suggest(message, {"customer_name": "Ann"}, k=2, tone="formal")
        assert suggestion.model_dump(exclude={"id"}) == expected.model_dump(exclude={"id"})
        assert answers == kb.search(message, k=2, filters={"locale": "en"})


def test_arecord_feedback_records_as_record_feedback_does(articles_dir: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase.build(articles_dir, tmp_path / "ix", settings=HASHING)
    suggestion = kb.suggest(MESSAGES[0])

    recorded = asyncio.run(kb.arecord_feedback(suggestion.id, "edited", final_text="Sure, Ann.", agent="kim"))
    assert (recorded.suggestion_id, recorded.outcome, recorded.final_text, recorded.agent) == (
        suggestion.id,
        "edited",
        "Sure, Ann.",
        "kim",
    )
    assert kb.feedback is not None and recorded in kb.feedback.snapshot().feedback
