"""Answer a handful of realistic customer messages from a built index and print the drafts.

.venv/bin/python examples/demo.py .kbsuggest-index
"""

from __future__ import annotations

import sys
import time

from kbsuggest import KnowledgeBase

MESSAGES = [
    ("does the M fit someone 175cm? usually wear medium in other brands", {}),
    ("where's my order A1048321, it's been 10 days!!", {"customer_name": "Dana"}),
    ("Can I still use the summer sale code? and is there a black friday discount", {}),
    ("this is ridiculous, 3 weeks and still no refund!! I want to talk to a human", {"customer_name": "Sam"}),
    ("the watch stopped working", {"customer_name": "Alex"}),
    ("what's the weather in Paris tomorrow", {}),
    ("我的退款怎么还没到账？", {"customer_name": "王女士"}),
    ("亲，衣服收到了尺码不合适，能换大一号吗", {}),
    ("包裹显示签收了但我根本没收到！！！转人工", {}),
]


def main(index_dir: str) -> None:
    started = time.perf_counter()
    kb = KnowledgeBase.load(index_dir)
    kb.suggest_many(["warm up", "预热"])
    print(f"loaded {len(kb.sections)} sections and warmed the models in {time.perf_counter() - started:.1f} s\n")
    for message, context in MESSAGES:
        started = time.perf_counter()
        s = kb.suggest(message, context=context)
        ms = (time.perf_counter() - started) * 1000
        print("=" * 100)
        print(f"customer: {message}")
        a = s.analysis
        print(
            f"  language={a.language} sentiment={a.sentiment} urgency={a.urgency} stage={s.stage} "
            f"confidence={s.confidence:.2f} escalate={s.escalate}"
            + (f" ({s.escalate_reason})" if s.escalate_reason else "")
            + f"  [{ms:.0f} ms]"
        )
        for answer in s.answers[:3]:
            print(f"  {answer.score:6.3f} {answer.matched_by:7s} {answer.article_id}#{answer.anchor}")
        if s.clarifying_question:
            print(f"  clarifying question: {s.clarifying_question}")
        draft = s.drafts[0]
        print(f"--- draft ({draft.language}, {draft.tone}; cites {', '.join(draft.citations) or 'nothing'})")
        print(draft.text)
    print("=" * 100)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".kbsuggest-index")
