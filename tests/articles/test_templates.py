"""Editor-owned reply phrases: validated on load, filled without `str.format`, stored in an index as JSON."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kbsuggest.articles.templates import fill, load_saved_templates, load_templates, save_templates
from kbsuggest.errors import TemplateError


def test_fill_replaces_known_values_once_and_keeps_missing_slots_visible() -> None:
    text, missing = fill("Hi {customer_name}, order {order_id}", {"customer_name": "Ann {order_id}"})
    assert text == "Hi Ann {order_id}, order {order_id}"
    assert missing == ["order_id"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("language: en\ntones: [x\n", r"en.yaml:3: invalid YAML"),
        ("language: en\ntones: {}\n", r"missing tone"),
        (
            (Path(__file__).parents[2] / "kbsuggest/articles/defaults/en.yaml")
            .read_text()
            .replace("Hi {customer_name},", "Hi {customer},"),
            r"unknown placeholder \{customer\}",
        ),
        ("language: en\ntones: {}\ncolour: red\n", r"colour: Extra inputs are not permitted"),
        (
            (Path(__file__).parents[2] / "kbsuggest/articles/defaults/en.yaml")
            .read_text()
            .replace("In case it's about {option_a}", "In case it's about {option_b}"),
            r"clarify_answer: unknown placeholder \{option_b\}",
        ),
    ],
)
def test_bad_templates_are_clear_errors(tmp_path: Path, text: str, error: str) -> None:
    (tmp_path / "_templates").mkdir()
    (tmp_path / "_templates" / "en.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=error):
        load_templates(tmp_path)


def test_a_template_file_from_before_clarify_answer_still_loads(tmp_path: Path) -> None:
    defaults = (Path(__file__).parents[2] / "kbsuggest/articles/defaults/en.yaml").read_text()
    (tmp_path / "_templates").mkdir()
    (tmp_path / "_templates" / "en.yaml").write_text(
        "\n".join(line for line in defaults.splitlines() if "clarify_answer:" not in line), encoding="utf-8"
    )
    assert load_templates(tmp_path)["en"].tones["friendly"].clarify_answer == ()


def test_saved_templates_load_unchanged(tmp_path: Path) -> None:
    templates = load_templates()
    save_templates(tmp_path / "templates.json", templates)
    assert load_saved_templates(tmp_path / "templates.json") == templates


def test_a_template_file_linked_from_outside_the_articles_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("language: en\ntones: {}\n", encoding="utf-8")
    (tmp_path / "kb" / "_templates").mkdir(parents=True)
    (tmp_path / "kb" / "_templates" / "en.yaml").symlink_to(elsewhere)
    with pytest.raises(TemplateError, match=r"en\.yaml: a symbolic link to .*elsewhere\.yaml, outside.*Fix:"):
        load_templates(tmp_path / "kb")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_default_apologies_assume_only_what_the_message_reported(language: str) -> None:
    """The general apology follows any unhappy message ("发票抬头写错了能重开吗"), so it names no wait; the apology for
    an item that does not work also follows one that stopped working months later, so it names no unpacking or
    arrival."""
    waiting = re.compile(r"久等|wait|delay", re.IGNORECASE)
    arrival = re.compile(r"unpack|reach(?:ed)? you|拆开|送达", re.IGNORECASE)
    for tone in load_templates()[language].tones.values():
        assert not [p for p in tone.acknowledge if waiting.search(p)]
        assert not [p for p in tone.acknowledge_damaged if arrival.search(p)]
