"""`kbsuggest lint`'s near-duplicate check with the real models: none in the demo, the planted copy found."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kbsuggest.encoders import Encoder
from kbsuggest.lint import lint
from tests.integration.conftest import ROOT


def test_near_duplicates_with_the_bundled_models(real_encoders: dict[str, Encoder]) -> None:
    today = date(2026, 11, 25)
    demo = lint(ROOT / "articles", today=today, encoders=real_encoders)
    assert demo.errors == ()
    assert [f for f in demo.warnings if f.kind == "near-duplicate"] == []
    seeded_dir = ROOT / "tests" / "fixtures" / "lint"
    seeded = lint(seeded_dir, today=today, encoders=real_encoders)
    copies = [(Path(f.path).relative_to(seeded_dir).as_posix(), f.line) for f in seeded.warnings]
    assert ("en/returns-policy.md", 14) in copies
    assert len([f for f in seeded.warnings if f.kind == "near-duplicate"]) == 1
