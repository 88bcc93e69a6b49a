from importlib.metadata import version

import kbsuggest


def test_exported_members() -> None:
    assert kbsuggest.__all__ == [
        "Answer",
        "BuildSummary",
        "Draft",
        "Feedback",
        "FeedbackArgs",
        "Filters",
        "InputError",
        "KbSuggestError",
        "KnowledgeBase",
        "MessageAnalysis",
        "SearchArgs",
        "Settings",
        "SuggestArgs",
        "Suggestion",
        "__version__",
    ]
    assert kbsuggest.__version__ == version("kbsuggest")
    for name in kbsuggest.__all__[:-1]:
        exported = getattr(kbsuggest, name)
        assert exported.__module__.startswith("kbsuggest.") and exported.__doc__, name
