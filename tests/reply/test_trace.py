"""The traceability check: a composed draft passes, an invented sentence does not."""

from __future__ import annotations

from kbsuggest.analysis import analyse
from kbsuggest.articles.templates import load_templates
from kbsuggest.reply.compose import Block, compose
from kbsuggest.reply.trace import untraced
from kbsuggest.retrieval.models import Answer

TEMPLATES = load_templates()
TOPS = (
    "Sizes are unisex.\n\n"
    "Size: M; Height (cm): 170–178; Chest (cm): 94–102\n"
    "Size: L; Height (cm): 178–185; Chest (cm): 102–110\n\n"
    "If height and chest point to different sizes, go by your chest."
)
ANSWER = Answer(
    article_id="sizing",
    anchor="tops",
    title="Sizing",
    heading_path=("Sizing", "Tops"),
    text=TOPS,
    snippet=TOPS,
    score=1.0,
    matched_by="both",
    section_id="sizing#tops",
    path="sizing.md",
    line_start=1,
    line_end=6,
    locale="en",
)


def draft_for(message: str, tone: str = "friendly"):  # type: ignore[no-untyped-def]
    return compose(
        message, analyse(message), [Block(message, ANSWER)], templates=TEMPLATES["en"], tone=tone, context={}
    )


def test_a_composed_draft_with_a_rendered_row_and_the_fit_phrase_is_traceable() -> None:
    draft = draft_for("does the M fit someone 175cm?")
    assert "Size M: height 170–178 cm and chest 94–102 cm." in draft.text
    assert "a height of 175 cm" in draft.text and "Size: M;" not in draft.text
    assert untraced(draft, TEMPLATES["en"], {"sizing#tops": TOPS}) == []


def test_an_invented_sentence_or_an_uncited_section_is_reported() -> None:
    draft = draft_for("does the M fit someone 175cm?", "formal")
    edited = draft.model_copy(update={"text": draft.text.replace("Size M:", "Size XXL:")})
    assert len(untraced(edited, TEMPLATES["en"], {"sizing#tops": TOPS})) == 1
    assert untraced(draft, TEMPLATES["en"], {}) != []  # the row is not in any cited text


def test_tones_differ_in_the_answer_not_only_in_greeting_and_closing() -> None:
    message = "im 172 cm but my chest is 104, M or L?"
    friendly, concise = draft_for(message, "friendly"), draft_for(message, "concise")
    assert "With a 104 cm chest" in friendly.text or "So with a 104 cm chest" in friendly.text
    assert "For a 104 cm chest: size L." in concise.text


def test_a_sentence_cut_to_the_clause_that_holds_is_traceable() -> None:
    text = "亲，每天14:00前付款的订单当天发货，14:00以后付款的订单第二天发货，周末正常发货。"
    answer = ANSWER.model_copy(update={"text": text, "section_id": "shipping-zh#发货时间", "locale": "zh-CN"})
    message = "现在下午4点付款 今天能发货吗"
    draft = compose(
        message, analyse(message), [Block(message, answer)], templates=TEMPLATES["zh"], tone="friendly", context={}
    )
    assert "14:00以后付款的订单第二天发货" in draft.text and "当天发货" not in draft.text
    assert untraced(draft, TEMPLATES["zh"], {"shipping-zh#发货时间": text}) == []


def test_a_part_of_a_shared_sentence_is_traceable() -> None:
    text = "Serials: on the TrailPulse it is on the back; on the Lumen 400 it is inside the battery cover."
    answer = ANSWER.model_copy(update={"text": text, "snippet": text})
    message = "where's the serial on the trailpulse?"
    draft = compose(
        message, analyse(message), [Block(message, answer)], templates=TEMPLATES["en"], tone="friendly", context={}
    )
    assert "Serials: On the TrailPulse it is on the back." in draft.text and "Lumen" not in draft.text
    assert untraced(draft, TEMPLATES["en"], {answer.section_id: text}) == []


def test_a_bulleted_list_is_a_paragraph_of_its_own_lines_and_traceable() -> None:
    accepted = "We accept:\n\n- Visa cards\n- PayPal\n\nWe don't accept cryptocurrency."
    answer = ANSWER.model_copy(update={"text": accepted, "snippet": accepted, "section_id": "pay#accepted"})
    message = "what payment methods do you accept"
    draft = compose(
        message, analyse(message), [Block(message, answer)], templates=TEMPLATES["en"], tone="friendly", context={}
    )
    assert "\n\nWe accept:\n- Visa cards\n- PayPal\n\nWe don't accept cryptocurrency." in draft.text
    assert untraced(draft, TEMPLATES["en"], {"pay#accepted": accepted}) == []
    invented = draft.model_copy(update={"text": draft.text.replace("- PayPal", "- Bitcoin")})
    assert len(untraced(invented, TEMPLATES["en"], {"pay#accepted": accepted})) == 1
