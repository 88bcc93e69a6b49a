from __future__ import annotations

import pytest

from kbsuggest.text.stage import stage_evidence


@pytest.mark.parametrize(
    ("message", "stage"),
    [
        ("ridge jacket seam is peeling after 14 months. covered??", "after_sale"),
        ("I bought it in May and it stopped working", "after_sale"),
        ("鞋子买了5个月就开线了", "after_sale"),
        ("收到了但是破损了", "after_sale"),
        ("payment failed at checkout", "in_sale"),
        ("I haven't received my order yet", "in_sale"),
        ("还没收到货", "in_sale"),
        ("能改地址吗，还没发货", "in_sale"),
        ("do you have it in size L? is it waterproof?", "pre_sale"),
        ("这个有货吗，选哪个码", "pre_sale"),
    ],
)
def test_the_message_names_its_stage(message: str, stage: str) -> None:
    evidence = stage_evidence(message)
    assert max(evidence, key=evidence.__getitem__) == stage
    assert sum(evidence.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("message", ["hello", "你好", "what are your opening hours", "买了85元的东西"])
def test_no_cue_no_evidence(message: str) -> None:
    assert stage_evidence(message) == {}
