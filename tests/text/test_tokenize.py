from __future__ import annotations

import pytest

from kbsuggest.text.tokenize import normalize_query


@pytest.mark.parametrize(
    ("message", "normalised"),
    [
        ("@AmazonHelp @UPS_help where is my parcel", "where is my parcel"),
        ("delivered https://t.co/AbC123 www.example.com/x?y=1 but no parcel", "delivered but no parcel"),
        ("write to help@northwind.example please", "write to help@northwind.example please"),  # an e-mail address stays
        ("@NorthwindHelp", "@NorthwindHelp"),  # nothing else: kept, so no message becomes empty
        ("@京东客服 快递到哪了", "@京东客服 快递到哪了"),  # only ASCII handles: a Chinese name may run into the text
    ],
)
def test_mentions_and_links_are_dropped_from_a_message(message: str, normalised: str) -> None:
    assert normalize_query(message) == normalised
