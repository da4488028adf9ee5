"""Generate requirement-check rows: does the last assistant reply satisfy a stated requirement?"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from . import dialog, phrasing, statements
from .kb import KIND_ATTRS, NUMBER_FREE_ATTRS, Entity, build_world, number_in, perturb
from .requirements import WORDINGS, check, wording

MAX_WORDS = 250
FORBIDDEN = {  # word -> sentences that use it
    "very": ["This is a very common question.", "It is very popular with locals."],
    "really": ["That is really all there is to it.", "It really depends on what you need."],
    "just": ["That is just the basic information.", "I just checked my notes."],
    "actually": ["Actually, that is a common question.", "It is actually well documented."],
    "basically": ["Basically, that covers it.", "That is basically everything I know."],
    "definitely": ["It is definitely worth a look.", "You should definitely double-check."],
}
INCLUDE = {  # word -> (sentence using it, near-miss sentence that does not)
    "sustainable": ("It is often described as sustainable.", "Sustainability is a big theme."),
    "affordable": ("Many people find it affordable.", "Affordability matters to many."),
    "reliable": ("It has a reliable reputation.", "Its reliability is often discussed."),
    "popular": ("It is popular with many people.", "Its popularity keeps growing."),
    "recommend": ("I would recommend checking the details.", "It comes recommended by many."),
    "important": ("This is important to keep in mind.", "Its importance is clear."),
}
PHRASES = [
    "Hope this helps!",
    "Best regards.",
    "Thanks for asking!",
    "Have a nice day.",
    "Good luck!",
    "Cheers.",
]


class Ctx:
    """The entity a reply talks about, and the attributes its facts have used so far."""

    def __init__(self, rng: random.Random, split: str, world, entity: Entity):
        self.rng, self.split, self.world, self.entity = rng, split, world, entity
        self.used: list[str] = []
        self.tids: list[str] = []
        self.question: str | None = None

    def facts(self, k: int, attrs: list[str] | None = None) -> list[str]:
        pool = [a for a in (attrs or KIND_ATTRS[self.entity.kind]) if a not in self.used]
        out = []
        for attr in self.rng.sample(pool, min(k, len(pool))):
            refer = "name" if not self.used or self.rng.random() < 0.4 else "pronoun"
            text, tid = dialog.fact(self.rng, self.split, self.entity, attr, refer=refer)
            out.append(text)
            self.used.append(attr)
            self.tids.append(tid)
        return out

    def prose(self, k: int, attrs: list[str] | None = None) -> str:
        parts = self.facts(k, attrs)
        if self.rng.random() < 0.4:
            parts.insert(0, self.rng.choice(statements.OPENERS))
        if self.rng.random() < 0.3:
            parts.append(self.rng.choice(statements.CLOSERS))
        return " ".join(parts)

    def french(self, k: int) -> str:
        attrs = [a for a in KIND_ATTRS[self.entity.kind] if a in statements.FR_FACTS]
        parts = []
        for attr in self.rng.sample(attrs, min(k, len(attrs))):
            v = self.entity.attrs[attr]
            v = (
                statements.FR_MONTHS.get(v) or v.removeprefix("the ").removesuffix(" River")
                if attr in ("month", "river")
                else v
            )
            v = str(number_in(v)) if attr in ("battery", "weight") else v.replace(",", " ")
            parts.append(statements.FR_FACTS[attr].format(name=self.entity.name, v=v))
            self.used.append(attr)
        if self.rng.random() < 0.5:
            parts.insert(0, self.rng.choice(statements.FR_OPENERS))
        return " ".join([*parts, self.rng.choice(statements.FR_CLOSERS)])


def _word_limit(rng, want, ctx, kind):
    reply = ctx.prose(rng.randint(1, 4))
    count = len(reply.split())
    limits = [10, 15, 20, 25, 30, 40, 50, 60, 80]
    fits = [n for n in limits if (n >= count if kind == "max_words" else n <= count)]
    # Prefer limits close to the actual length: the hard cases.
    ok, bad = fits[:3] if kind == "max_words" else fits[-3:], [n for n in limits if n not in fits]
    bad = bad[-3:] if kind == "max_words" else bad[:3]
    return {"n": rng.choice((ok if want else bad) or ok or bad)}, reply


def _bullets(rng, want, ctx):
    items = ctx.facts(5)
    neutral = [
        dialog.fill(t, ctx.entity, "pronoun")
        for _, t in dialog.split_indexed(statements.NEUTRAL[ctx.entity.kind], ctx.split)
    ]
    items += rng.sample(neutral, len(neutral))
    k = rng.randint(2, min(5, len(items)))
    shown = k if want else rng.choice([n for n in (k - 1, k + 1) if 1 <= n <= len(items)])
    mark = rng.choice(["-", "*", "•"])
    intro = ["Here are the key facts:"] if rng.random() < 0.4 else []
    style = "bullets" if want or rng.random() < 0.6 else rng.choice(["numbered", "prose"])
    if style == "bullets":
        lines = [f"{mark} {s}" for s in items[:shown]]
    elif style == "numbered":
        lines = [f"{i + 1}. {s}" for i, s in enumerate(items[:k])]
    else:
        lines = [" ".join(items[:k])]
    return {"k": k}, "\n".join(intro + lines)


def _forbidden(rng, want, ctx):
    word = rng.choice(sorted(FORBIDDEN))
    parts = ctx.facts(rng.randint(1, 3))
    if not want:
        parts.insert(rng.randint(0, len(parts)), rng.choice(FORBIDDEN[word]))
    return {"w": word}, " ".join(parts)


def _ends_question(rng, want, ctx):
    parts = ctx.facts(rng.randint(1, 3))
    if want:
        parts.append(rng.choice(statements.QUESTION_CLOSERS))
    elif rng.random() < 0.4:  # a question, but not at the end
        parts[:0] = [rng.choice(statements.QUESTION_CLOSERS).replace("Would you", "Want")]
        parts.append(rng.choice(statements.CLOSERS))
    return {}, " ".join(parts)


def _language(lang):
    def make(rng, want, ctx):
        in_french = want == (lang == "fr")
        reply = ctx.french(rng.randint(1, 3)) if in_french else ctx.prose(rng.randint(1, 3))
        return {}, reply

    return make


def _include(rng, want, ctx):
    word = rng.choice(sorted(INCLUDE))
    parts = ctx.facts(rng.randint(1, 3))
    hit, near = INCLUDE[word]
    if want or rng.random() < 0.5:  # half of the negatives carry a near-miss word form
        parts.insert(rng.randint(1, len(parts)), hit if want else near)
    return {"w": word}, " ".join(parts)


def _contractions(rng, want, ctx):
    reply = ctx.prose(rng.randint(1, 3))
    if not want:
        for full, short in [
            ("It is", "It's"),
            ("Here is", "Here's"),
            ("That is", "That's"),
            ("I would", "I'd"),
            (" is not", " isn't"),
        ]:
            if full in reply and rng.random() < 0.7:
                return {}, reply.replace(full, short, 1)
        reply = rng.choice(["I'm happy to help. ", "Let's see. ", "Here's what I found. "]) + reply
    return {}, reply


def _yes_no(rng, want, ctx):
    attr = rng.choice(KIND_ATTRS[ctx.entity.kind])
    true = ctx.entity.attrs[attr]
    asked = true if rng.random() < 0.5 else perturb(rng, ctx.world, ctx.entity, attr, true)
    asked_fact, _ = dialog.fact(rng, ctx.split, ctx.entity, attr, asked)
    tid, tpl = dialog.pick(rng, ctx.split, "yesno", phrasing.YESNO)
    q = tpl.format(fact=dialog.decap(asked_fact))
    ctx.question = q if "Is that correct" in q else q.rstrip(".") + "?"
    ctx.tids.append(tid)
    fact, _ = dialog.fact(rng, ctx.split, ctx.entity, attr, refer="pronoun")
    ctx.used.append(attr)
    yes = asked == true
    if want:
        head = rng.choice(["Yes,", "Yes.", "Yes!"] if yes else ["No,", "No.", "No, actually"])
    else:
        head = rng.choice(
            ["Yeah,", "Correct:", "That's right:", "Well, yes,", "Indeed,"]
            if yes
            else ["Nope,", "Not quite:", "Actually,", "Well, no,", "Incorrect:"]
        )
    if not want and rng.random() < 0.3:
        return {}, fact
    return {}, f"{head} {fact[0].lower() + fact[1:]}"


def _lowercase(rng, want, ctx):
    reply = ctx.prose(rng.randint(1, 3))
    if want:
        return {}, reply.lower()
    if rng.random() < 0.5:  # all lowercase except the entity's name: still a violation
        low = reply.lower()
        return {}, low.replace(ctx.entity.name.lower(), ctx.entity.name)
    return {}, reply


def _has_number(rng, want, ctx):
    attrs = KIND_ATTRS[ctx.entity.kind]
    pool = [a for a in attrs if (a not in NUMBER_FREE_ATTRS) == want] or attrs
    return {}, " ".join(ctx.facts(rng.randint(1, 2), pool))


def _json(rng, want, ctx):
    attrs = rng.sample(KIND_ATTRS[ctx.entity.kind], rng.randint(1, 3))
    ctx.used += attrs
    obj = {"name": ctx.entity.name, **{a: ctx.entity.attrs[a] for a in attrs}}
    text = json.dumps(obj, indent=rng.choice([None, 2]), ensure_ascii=False)
    if want:
        return {}, text
    how = rng.choice(["prose", "prefixed", "single_quotes", "truncated"])
    if how == "prose":
        ctx.used.clear()
        return {}, ctx.prose(len(attrs), attrs)
    if how == "prefixed":
        return {}, "Here is the JSON you asked for: " + text
    if how == "single_quotes":
        return {}, text.replace('"', "'")
    return {}, text[: text.rindex("}")].rstrip()


def _mention(rng, want, ctx):
    attr = rng.choice(KIND_ATTRS[ctx.entity.kind])
    spec = {"attr": attr, "noun": rng.choice(phrasing.NOUNS[attr]), "value": ctx.entity.attrs[attr]}
    if want:
        parts = ctx.facts(1, [attr]) + ctx.facts(rng.randint(0, 2))
    else:
        parts = ctx.facts(rng.randint(1, 2), [a for a in KIND_ATTRS[ctx.entity.kind] if a != attr])
        if rng.random() < 0.35:
            parts.append(f"I could not find the {spec['noun']}, unfortunately.")
    return spec, " ".join(parts)


def _no_commas(rng, want, ctx):
    parts = [f for f in ctx.facts(4) if "," not in f][: rng.randint(1, 3)] or ctx.facts(1)
    if not want:
        parts.insert(0, rng.choice(["Sure, here you go.", "Well, let me check.", "Okay, so."]))
    return {}, " ".join(parts)


def _ends_phrase(rng, want, ctx):
    phrase, other = rng.sample(PHRASES, 2)
    body = ctx.prose(rng.randint(1, 2))
    how = "end" if want else rng.choice(["other", "start", "none"])
    reply = {
        "end": f"{body} {phrase}",
        "other": f"{body} {other}",
        "start": f"{phrase} {body}",
        "none": body,
    }[how]
    return {"p": phrase}, reply


def _quoted(rng, want, ctx):
    body = ctx.prose(rng.randint(1, 3))
    if want:
        return {}, f'"{body}"'
    return {}, rng.choice([body, f'"{body}', f'{body}"', f'Here it is: "{body}"'])


MAKERS: dict[str, Callable] = {
    "max_words": lambda rng, want, ctx: _word_limit(rng, want, ctx, "max_words"),
    "min_words": lambda rng, want, ctx: _word_limit(rng, want, ctx, "min_words"),
    "bullets": _bullets,
    "forbidden_word": _forbidden,
    "ends_with_question": _ends_question,
    "in_french": _language("fr"),
    "in_english": _language("en"),
    "include_word": _include,
    "no_contractions": _contractions,
    "starts_yes_no": _yes_no,
    "lowercase": _lowercase,
    "has_number": _has_number,
    "json": _json,
    "mention_attr": _mention,
    "no_commas": _no_commas,
    "ends_with_phrase": _ends_phrase,
    "quoted": _quoted,
}


def _row(rng: random.Random, world, split: str, want: bool) -> dict:
    kind = rng.choice(sorted(MAKERS))
    entity = world.pick(rng)
    if kind == "has_number" and not want:
        entity = world.pick(rng, rng.choice(["person", "town", "company", "event"]))
    ctx = Ctx(rng, split, world, entity)
    params, reply = MAKERS[kind](rng, want, ctx)
    spec = {"type": kind, **params}
    wtid, template = dialog.pick(rng, split, f"req:{kind}", WORDINGS[kind])
    if ctx.question is None:
        if len(ctx.used) == 1:
            ctx.question, qtid = dialog.question(rng, split, entity, ctx.used[0])
        else:
            qtid, tpl = dialog.pick(rng, split, "overview", phrasing.OVERVIEWS)
            ctx.question = dialog.styled(rng, dialog.fill(tpl, entity), protect=entity.name)
        ctx.tids.append(qtid)
    messages, tids, eids, _ = dialog.history(rng, world, split, world.other(rng, entity), "", p_multi=0.3)
    messages += [dialog.user(ctx.question), dialog.assistant(reply)]
    return {
        "messages": messages,
        "requirement": wording(template, spec),
        "target": "yes" if check(spec, reply) else "no",
        "meta": {
            "intrinsic": "requirement_check",
            "split": split,
            "requirement_spec": spec,
            "intended": "yes" if want else "no",
            "entity": entity.name,
            "entity_ids": sorted({entity.id, *eids}),
            "template_ids": sorted({wtid, *tids, *ctx.tids}),
        },
    }


def generate(split: str, n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(f"requirement_check:{split}:{seed}")
    world = build_world(split, seed, size=max(30, n // 4))
    return dialog.balanced(rng, n, lambda positive: _row(rng, world, split, want=positive), MAX_WORDS)
