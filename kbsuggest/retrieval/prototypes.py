"""Questions to a store that its policy knowledge base usually does not answer, per language.

Written from general e-commerce knowledge (not from any evaluation set): price matching, memberships, installation,
stock, product use and specifications, jobs, bulk orders, marketplace sellers and the like. A message closer to one of
these than to every section of the knowledge base is likely out of scope (`confidence.OFF_KB`); a knowledge base that
does have, say, an installation article draws such a message closer to that article, so it stays answerable. Chinese
has none: a list written the same way was measured and not kept (confidence.py).
"""

from __future__ import annotations

OFF_KB_PROTOTYPES: dict[str, tuple[str, ...]] = {
    "en": (
        "Do you price match if another store sells it cheaper?",
        "Can you match the lower price I found on another website?",
        "Do you offer a student or military discount?",
        "When is your next sale?",
        "Do you have a loyalty rewards program?",
        "How do I cancel my paid membership subscription?",
        "Why was I charged a membership fee?",
        "Do you offer installation or assembly service?",
        "Can someone install the appliance when it is delivered?",
        "Will you haul away my old appliance?",
        "Is this item in stock?",
        "When will this product be back in stock?",
        "Do you sell this in another color or size?",
        "How do I use this product?",
        "The device won't turn on, how do I fix it?",
        "How do I set up and pair this gadget with my phone?",
        "What are the dimensions and specifications of this product?",
        "Is this compatible with my model?",
        "What is this product made of?",
        "Is this product genuine?",
        "How long is the manufacturer warranty and where can I get it repaired?",
        "How do I activate my phone with my carrier?",
        "Are you hiring? How do I apply for a job?",
        "The app keeps crashing on my phone",
        "Can I place a bulk order for my business?",
        "Do you offer wholesale pricing?",
        "My gift card code does not work",
        "How do I become a seller on your marketplace?",
        "What fees do marketplace sellers pay?",
        "Is there a store near me and what are its opening hours?",
        "Do you offer shipping insurance?",
        "Where does this item ship from?",
        "I'd like to discuss a partnership or sponsorship",
        "Will my coupon be given back if I return the order?",
    ),
}
