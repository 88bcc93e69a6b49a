import kbsuggest


def test_exported_members() -> None:
    assert kbsuggest.__all__ == ["BuildSummary", "KbSuggestError", "KnowledgeBase", "__version__"]
    for name in kbsuggest.__all__:
        assert getattr(kbsuggest, name) is not None
