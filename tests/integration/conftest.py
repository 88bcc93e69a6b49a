"""The real bundled models, loaded once per session (slower layer: marked `integration`)."""

from __future__ import annotations

import pytest

from kbsuggest.encoders import SentenceTransformerEncoder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.nodeid:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEncoder:
    encoder = SentenceTransformerEncoder()
    encoder.encode_queries(["warm up"])
    return encoder
