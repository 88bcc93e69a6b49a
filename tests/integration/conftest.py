"""The real bundled models, loaded once per session (slower layer: marked `integration`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.encoders import Encoder, SentenceTransformerEncoder, UseEncoder

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.nodeid:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def real_encoders() -> dict[str, Encoder]:
    encoders: dict[str, Encoder] = {"dense": SentenceTransformerEncoder(), "multilingual": UseEncoder()}
    for encoder in encoders.values():
        encoder.encode_queries(["warm up"])
    return encoders


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where `demo_kb` is built."""
    return tmp_path_factory.mktemp("demo") / "index"


@pytest.fixture(scope="session")
def demo_kb(real_encoders: dict[str, Encoder], demo_index: Path) -> KnowledgeBase:
    """The demo store's knowledge base (articles/), built once with the real models."""
    return KnowledgeBase.build(ROOT / "articles", demo_index, encoders=real_encoders)
