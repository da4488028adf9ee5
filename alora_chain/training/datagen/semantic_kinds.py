"""Semantic requirement kinds: hand-written requirements whose label holds by construction.

No checker decides these; the seed sheets do. A seed's ``mention`` (or ``avoid``) names what one of
its sentences says, and that sentence is the only place the reply says it: the reply meets
"Mention the excess", and without that sentence it does not. Its ``casual`` and ``child`` variants
are the same answer in a chatty tone or for a young child. Another seed's reply of the same domain
does not answer the question.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

WORDINGS = {
    "mention": [
        "Mention {what}.",
        "Make sure the reply brings up {what}.",
        "The answer must say something about {what}.",
        "Be sure to include {what} in your answer.",
        "Don't forget to mention {what}.",
    ],
    "avoid": [
        "Do not mention {what}.",
        "Avoid {what} in your answer.",
        "Leave out {what}.",
        "Don't say anything about {what}.",
        "Keep {what} out of the reply.",
    ],
    "apology": [
        "Apologise to the user before answering.",
        "Begin with an apology.",
        "Say sorry first, then answer.",
        "Open the reply with an apology for the trouble.",
        "The reply should start by apologizing.",
    ],
    "tone_formal": [
        "Keep the tone formal and professional.",
        "Write in a formal register, with no slang.",
        "Use a professional tone suitable for a customer service email.",
        "Respond formally; no casual language or jokes.",
    ],
    "tone_casual": [
        "Use a casual, chatty tone, like talking to a friend.",
        "Keep it relaxed and informal.",
        "Write informally, as if you were texting a mate.",
        "Make the tone friendly and conversational, with everyday slang.",
    ],
    "audience_child": [
        "Explain this so a seven-year-old could follow it.",
        "Write the answer for a young child.",
        "The reply should be easy for a kid under ten to understand.",
        "Answer as you would to a small child, in simple words.",
    ],
    "answers_question": [
        "Answer the user's question.",
        "The reply must directly address what the user asked.",
        "Make sure you actually answer the question.",
        "Respond to the question that was asked, not a different one.",
    ],
}
APOLOGIES = [
    "I'm sorry for the slow reply.",
    "Sorry for the confusion in my earlier message.",
    "Apologies for the delay in getting back to you.",
    "I'm sorry you've had trouble with this.",
    "My apologies for the mix-up before.",
    "Sorry about that, and thanks for your patience.",
    "I apologise for not being clearer the first time.",
]
NOT_APOLOGIES = [
    "Thanks for getting in touch.",
    "Good question!",
    "Happy to help with this.",
    "Thanks for your patience.",
    "Great, let's look at this together.",
]
DEFLECTIONS = [
    "That's a great question, and there are lots of opinions on it. It really depends on your situation and what matters most to you.",
    "There are many factors involved here, so it is worth looking into it further before you decide anything.",
    "Lots of people wonder about this. The answer can vary quite a bit from case to case.",
    "It's hard to say in general. Everyone's circumstances are different, so I'd suggest doing some more research.",
    "This is a common topic, and there is plenty of information out there about it. It is worth reading around.",
    "Thanks for asking! I think the best thing is to keep an open mind and weigh up your options carefully.",
]


@dataclass
class Semantic:
    reply: str
    case: str
    requirement_vars: dict  # what the wording's {what} names, if anything


def _without(seed, sentence: str) -> str:
    return " ".join(seed.reply.replace(sentence, " ").split())


def _mention(rng, seed, want, pool):
    what, sentence = seed.mention
    if want:
        return Semantic(seed.reply, "stated", {"what": what})
    return Semantic(_without(seed, sentence), "sentence_dropped", {"what": what})


def _avoid(rng, seed, want, pool):
    what, sentence = seed.avoid
    if want:
        return Semantic(_without(seed, sentence), "sentence_dropped", {"what": what})
    return Semantic(seed.reply, "stated", {"what": what})


def _apology(rng, seed, want, pool):
    if want:
        return Semantic(f"{rng.choice(APOLOGIES)} {seed.reply}", "apology_first", {})
    if rng.random() < 0.5:
        return Semantic(f"{rng.choice(NOT_APOLOGIES)} {seed.reply}", "other_opener", {})
    return Semantic(seed.reply, "plain", {})


def _formal(rng, seed, want, pool):
    return Semantic(seed.reply, "plain", {}) if want else Semantic(seed.casual, "casual", {})


def _casual(rng, seed, want, pool):
    return Semantic(seed.casual, "casual", {}) if want else Semantic(seed.reply, "plain", {})


def _child(rng, seed, want, pool):
    if want:
        return Semantic(seed.child, "for_a_child", {})
    other = seed.casual if seed.casual and rng.random() < 0.3 else seed.reply
    return Semantic(other, "casual" if other is seed.casual else "plain", {})


def _answers(rng, seed, want, pool):
    if want:
        variants = [t for t in (seed.casual, seed.child) if t]
        reply = rng.choice(variants) if variants and rng.random() < 0.3 else seed.reply
        return Semantic(reply, "own_reply", {})
    others = [s for s in pool if s.id != seed.id]
    neighbours = [
        s for s in others if s.domain == seed.domain
    ] or others  # same domain where the split has one
    if neighbours and rng.random() < 0.7:
        return Semantic(rng.choice(neighbours).reply, "other_question_answered", {})
    return Semantic(rng.choice(DEFLECTIONS), "deflection", {})


@dataclass(frozen=True)
class SemanticKind:
    key: str  # a key of WORDINGS
    make: Callable[..., Semantic]
    eligible: Callable = lambda seed: True

    @property
    def name(self) -> str:
        return f"semantic:{self.key}"

    def wording(self, rng: random.Random, made: Semantic) -> str:
        return rng.choice(WORDINGS[self.key]).format(**made.requirement_vars)


KINDS = [
    SemanticKind("mention", _mention, lambda s: s.mention is not None),
    SemanticKind("avoid", _avoid, lambda s: s.avoid is not None),
    SemanticKind("apology", _apology),
    SemanticKind("tone_formal", _formal, lambda s: s.casual is not None),
    SemanticKind("tone_casual", _casual, lambda s: s.casual is not None),
    SemanticKind("audience_child", _child, lambda s: s.child is not None),
    SemanticKind("answers_question", _answers),
]
