"""Splitting a message into the questions it asks."""

from __future__ import annotations

import pytest

from kbsuggest.reply.questions import split_questions


@pytest.mark.parametrize(
    ("message", "language", "parts"),
    [
        (
            "Can I still use the summer sale code? and is there a black friday discount",
            "en",
            ("Can I still use the summer sale code", "is there a black friday discount"),
        ),
        (
            "how much is express shipping and can it go to my PO box?",
            "en",
            ("how much is express shipping", "can it go to my PO box?"),
        ),
        ("可以用花呗吗？退款会退到哪里", "zh", ("可以用花呗吗", "退款会退到哪里")),
        ("忘记密码了怎么办 验证码多久有效", "zh", ("忘记密码了怎么办", "验证码多久有效")),
    ],
)
def test_two_questions_in_the_customers_order(message: str, language: str, parts: tuple[str, ...]) -> None:
    assert split_questions(message, language) == parts  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("message", "language"),
    [
        ("status says Packed. can I still cancel? placed it about 2 hours ago", "en"),  # a fact, not a question
        ("Refund was issued 10 business days ago and my bank says nothing came in", "en"),
        ("公司报销要专票 怎么开？要多久", "zh"),  # "要多久" is not a question of its own
        ("does the M fit someone 175cm?", "en"),
    ],
)
def test_one_question_stays_whole(message: str, language: str) -> None:
    assert split_questions(message, language) == (message,)  # type: ignore[arg-type]
