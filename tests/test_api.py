import kbsuggest


def test_exported_members() -> None:
    assert kbsuggest.__all__ == [
        "Answer",
        "BuildSummary",
        "Draft",
        "Filters",
        "KbSuggestError",
        "KnowledgeBase",
        "MessageAnalysis",
        "Settings",
        "Suggestion",
        "__version__",
    ]
    for name in kbsuggest.__all__:
        assert getattr(kbsuggest, name) is not None
