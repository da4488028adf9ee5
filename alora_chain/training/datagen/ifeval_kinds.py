"""IFEval's instructions as requirement kinds: for each, edits that satisfy or break it."""

from __future__ import annotations

import re
import string

from . import keyword_kinds
from . import reply_edits as edit
from .ifcheck import count_sentences, sentences
from .verifiable_kinds import (
    Draft,
    Kind,
    base,
    counted,
    sentence_edits,
)

END_PHRASES = [
    "Any other questions?",
    "Is there anything else I can help with?",
    "Let me know if you have additional questions.",
    "Hope this helps!",
    "Good luck with it.",
    "That is all you need to know.",
]


def _paragraphs(rng, seed, want, pool):
    parts = sentences(base(rng, seed))
    if len(parts) < 2:
        return None
    k = rng.randint(2, min(4, len(parts)))
    paras = edit.groups(parts, k)
    sep = rng.choice(["\n\n***\n\n", "\n***\n"])
    how = "divided" if want else rng.choice(["miscount", "blank_lines", "one_block"])
    n = k + rng.choice([-1, 1]) if how == "miscount" else k
    joined = {"divided": sep, "miscount": sep, "blank_lines": "\n\n", "one_block": " "}[how]
    return Draft(joined.join(paras), how, {"num_paragraphs": max(1, n)})


def _first_word(rng, seed, want, pool):
    parts = sentences(base(rng, seed))
    if len(parts) < 2:
        return None
    p = rng.randint(2, min(4, len(parts)))
    paras = edit.groups(parts, p)
    k, word = rng.randint(1, p), rng.choice(edit.OPENERS)
    how = "opened" if want else rng.choice(["other_word", "other_paragraph", "miscount", "single_newlines"])
    at, used = k, word
    if how == "other_word":
        used = rng.choice([w for w in edit.OPENERS if w != word])
    elif how == "other_paragraph":
        at = rng.choice([i for i in range(1, p + 1) if i != k])
    paras[at - 1] = f"{used.capitalize()}, {edit.decap(paras[at - 1])}"
    declared = p + 1 if how == "miscount" else p
    text = ("\n" if how == "single_newlines" else "\n\n").join(paras)
    return Draft(text, how, {"num_paragraphs": declared, "nth_paragraph": k, "first_word": word})


def _bullet_lists(rng, seed, want, pool):
    parts = sentences(base(rng, seed))
    if len(parts) < 2:
        return None
    items = parts[: rng.randint(2, min(6, len(parts)))]
    intro = (
        [rng.choice(["Here are the main points:", "In short:", "Key points:"])] if rng.random() < 0.3 else []
    )
    how = "bullets" if want else rng.choice(["miscount", "numbered", "prose"])
    n = len(items) + rng.choice([-1, 1]) if how == "miscount" else len(items)
    body = {
        "bullets": edit.bullets(items, rng.choice(["*", "-"])),
        "miscount": edit.bullets(items, rng.choice(["*", "-"])),
        "numbered": edit.numbered(items),
        "prose": " ".join(items),
    }[how]
    return Draft("\n".join([*intro, body]), how, {"num_bullets": max(1, n)})


def _highlights(rng, seed, want, pool):
    text = base(rng, seed)
    n = rng.randint(1, 3)
    k = rng.choice([n, n + 1]) if want else rng.randint(0, n - 1)
    return Draft(edit.highlight(rng, text, k), f"{k}_highlighted", {"num_highlights": n})


def _sections(rng, seed, want, pool):
    parts = sentences(base(rng, seed))
    if len(parts) < 2:
        return None
    spliter = rng.choice(["Section", "SECTION"])
    k = rng.randint(2, min(4, len(parts)))
    paras = edit.groups(parts, k)
    how = "sections" if want else rng.choice(["too_few", "other_marker", "other_case", "unmarked"])
    marker = {"other_marker": rng.choice(["Part", "Step", "Point"]), "other_case": spliter.swapcase()}.get(
        how, spliter
    )
    if how == "unmarked":
        text = "\n\n".join(paras)
    else:
        text = "\n\n".join(f"{marker} {i}\n{p}" for i, p in enumerate(paras, 1))
    n = k + 1 if how == "too_few" else k
    return Draft(text, how, {"section_spliter": spliter, "num_sections": n})


def _title(rng, seed, want, pool):
    text, title = base(rng, seed), edit.title_of(seed.question)
    how = "title" if want else rng.choice(["markdown_heading", "bold", "labelled", "none"])
    head = {
        "title": f"<<{title}>>",
        "markdown_heading": f"# {title}",
        "bold": f"**{title}**",
        "labelled": f"Title: {title}",
        "none": "",
    }[how]
    return Draft(f"{head}\n\n{text}" if head else text, how, {})


def _json(rng, seed, want, pool):
    text = base(rng, seed)
    wrapped = edit.json_wrap(rng, seed.question, text)
    how = "json" if want else rng.choice(["prose", "prefixed", "single_quotes", "unclosed", "key_lines"])
    bare = wrapped.removeprefix("```json\n").removesuffix("\n```")
    reply = {
        "json": wrapped,
        "prose": text,
        "prefixed": "Here is the answer in JSON:\n" + bare,
        "single_quotes": bare.replace('"', "'"),
        "unclosed": bare[: bare.rindex("}")].rstrip(),
        "key_lines": f"answer: {text}",
    }[how]
    return Draft(reply, how, {})


_YES_NO_QUESTION = re.compile(r"^(Is|Are|Can|Could|Do|Does|Should|Will|Would|Am)\b")


def _constrained(rng, seed, want, pool):
    text = seed.reply
    lead = re.match(r"^(Yes|No|Not really|Not any more|Usually, yes)\b[,.!]?\s*", text)
    said = lead.group(1) if lead else ""
    answer = "yes" if said.endswith(("Yes", "yes")) else "no" if said.startswith("No") else "maybe"
    rest = text[lead.end() :] if lead else text
    rest = rest[:1].upper() + rest[1:]
    how = "option" if want else rng.choice(["plain", "reworded_option", "other_phrasing"])
    reply = {
        "option": f"My answer is {answer}. {rest}",
        "plain": text,
        "reworded_option": f"My answer: {answer}. {rest}",
        "other_phrasing": f"The answer is {answer}. {rest}",
    }[how]
    return Draft(reply, how, {})


def _postscript(rng, seed, want, pool):
    text, marker = base(rng, seed), rng.choice(["P.S.", "P.P.S"])
    other = {"P.S.": rng.choice(["PS:", "P.P.S"]), "P.P.S": rng.choice(["P.S.", "PPS:"])}[marker]
    how = "postscript" if want else rng.choice(["none", "other_marker", "note"])
    line = rng.choice(edit.POSTSCRIPTS)
    tail = {
        "postscript": f"{marker} {line}",
        "other_marker": f"{other} {line}",
        "note": f"Note: {line}",
        "none": "",
    }[how]
    return Draft(f"{text}\n\n{tail}" if tail else text, how, {"postscript_marker": marker})


def _end(rng, seed, want, pool):
    text, phrase = base(rng, seed), rng.choice(END_PHRASES)
    how = "ends" if want else rng.choice(["none", "at_start", "then_more", "other_phrase"])
    reply = {
        "ends": f"{text}{rng.choice([' ', chr(10) * 2])}{phrase}",
        "none": text,
        "at_start": f"{phrase} {text}",
        "then_more": f"{text} {phrase} {rng.choice(edit.FILLERS)}",
        "other_phrase": f"{text} {rng.choice([p for p in END_PHRASES if p != phrase])}",
    }[how]
    return Draft(reply, how, {"end_phrase": phrase})


def _quotation(rng, seed, want, pool):
    text = base(rng, seed)
    how = "quoted" if want else rng.choice(["plain", "single_quotes", "open_only", "prefixed", "curly"])
    reply = {
        "quoted": f'"{text}"',
        "plain": text,
        "single_quotes": f"'{text}'",
        "open_only": f'"{text}',
        "prefixed": f'Here it is: "{text}"',
        "curly": f"\u201c{text}\u201d",
    }[how]
    return Draft(reply, how, {})


def _lowercase(rng, seed, want, pool):
    text = base(rng, seed)
    how = "lowercased" if want else rng.choice(["plain", "one_capital", "first_letter"])
    names = [w for w in re.findall(r"\b[A-Z][a-z]+\b", text[1:])] or ["I"]
    reply = {
        "lowercased": text.lower(),
        "plain": text,
        "one_capital": edit.lowercase_but(text, rng.choice(names)),
        "first_letter": text[:1] + text[1:].lower(),
    }[how]
    return Draft(reply, how, {})


def _capitals(rng, seed, want, pool):
    text = base(rng, seed)
    parts = sentences(text)
    how = "uppercased" if want else rng.choice(["plain", "last_sentence_kept", "title_case"])
    if how == "last_sentence_kept" and len(parts) < 2:
        how = "plain"
    reply = {
        "uppercased": text.upper(),
        "plain": text,
        "last_sentence_kept": " ".join([*(p.upper() for p in parts[:-1]), parts[-1]]),
        "title_case": string.capwords(text),
    }[how]
    return Draft(reply, how, {})


def _no_comma(rng, seed, want, pool):
    text = base(rng, seed)
    if want:
        return Draft(edit.no_commas(text), "commas_removed" if "," in text else "as_is")
    if "," in text and rng.random() < 0.6:
        if rng.random() < 0.5:
            return Draft(text, "as_is")
        parts = sentences(text)
        keep = rng.choice([i for i, p in enumerate(parts) if "," in p])
        return Draft(
            " ".join(p if i == keep else edit.no_commas(p) for i, p in enumerate(parts)), "one_comma_kept"
        )
    return Draft(f"{rng.choice(['Sure, ', 'Well, ', 'Okay, so '])}{edit.decap(text)}", "opener_comma")


def _two_responses(rng, seed, want, pool):
    text = base(rng, seed)
    alts = [t for t in (seed.reply, seed.casual, seed.child) if t and t != text]
    if len(sentences(text)) > 1:
        alts.append(edit.truncate(text, max(1, len(sentences(text)) // 2)))
    alt = rng.choice(alts or [edit.extend(rng, text, 1)])
    how = "two" if want else rng.choice(["one", "short_separator", "identical", "three"])
    reply = {
        "two": f"{text}\n******\n{alt}",
        "one": text,
        "short_separator": f"{text}\n***\n{alt}",
        "identical": f"{text}\n******\n{text}",
        "three": f"{text}\n******\n{alt}\n******\n{edit.extend(rng, alt, 1)}",
    }[how]
    return Draft(reply, how, {})


def _repeat(rng, seed, want, pool):
    text, q = base(rng, seed), seed.question
    how = "repeated" if want else rng.choice(["answer_only", "preamble", "reported"])
    reply = {
        "repeated": f"{q}{rng.choice([chr(10), chr(10) * 2])}{text}",
        "answer_only": text,
        "preamble": f"{rng.choice(['Sure!', 'Good question.', 'You asked:'])} {q}\n{text}",
        "reported": f"You want to know {edit.decap(q).rstrip('?')}.\n{text}",
    }[how]
    return Draft(reply, how, {"prompt_to_repeat": q})


def _yes_no(seed) -> bool:
    return bool(_YES_NO_QUESTION.match(seed.question))


KINDS = [
    Kind(
        "ifeval",
        "length_constraints:number_words",
        counted(edit.count_words, "num_words", "relation", 12),
        {
            "less than": ("Keep your answer under {num_words} words.", "Use fewer than {num_words} words."),
            "at least": (
                "Write at least {num_words} words.",
                "Your answer should be {num_words} words or longer.",
            ),
        },
    ),
    Kind(
        "ifeval",
        "length_constraints:number_sentences",
        counted(count_sentences, "num_sentences", "relation", 2, sentence_edits),
        {
            "less than": ("Use fewer than {num_sentences} sentences.",),
            "at least": ("Write at least {num_sentences} sentences.",),
        },
    ),
    Kind(
        "ifeval",
        "length_constraints:number_paragraphs",
        _paragraphs,
        {"": ("Write exactly {num_paragraphs} paragraphs and separate them with ***.",)},
    ),
    Kind("ifeval", "length_constraints:nth_paragraph_first_word", _first_word),
    Kind(
        "ifeval",
        "detectable_format:number_bullet_lists",
        _bullet_lists,
        {
            "": (
                "Answer with exactly {num_bullets} markdown bullet points.",
                "Give me {num_bullets} bullet points (* or -), no more and no fewer.",
            )
        },
    ),
    Kind(
        "ifeval",
        "detectable_format:number_highlighted_sections",
        _highlights,
        {"": ("Use markdown to highlight at least {num_highlights} parts of the answer, like *this*.",)},
    ),
    Kind("ifeval", "detectable_format:multiple_sections", _sections),
    Kind(
        "ifeval",
        "detectable_format:title",
        _title,
        {"": ("Give your answer a title in double angle brackets, like <<title>>.",)},
    ),
    Kind(
        "ifeval",
        "detectable_format:json_format",
        _json,
        {"": ("Reply only with valid JSON.", "Format the whole answer as JSON.")},
    ),
    Kind("ifeval", "detectable_format:constrained_response", _constrained, eligible=_yes_no),
    Kind(
        "ifeval",
        "detectable_content:postscript",
        _postscript,
        {"": ("Add a postscript at the end that starts with {postscript_marker}",)},
    ),
    Kind(
        "ifeval",
        "startend:end_checker",
        _end,
        {"": ('End your reply with the exact phrase "{end_phrase}", with nothing after it.',)},
    ),
    Kind(
        "ifeval",
        "startend:quotation",
        _quotation,
        {"": ("Put the whole reply inside double quotation marks.",)},
    ),
    Kind(
        "ifeval",
        "change_case:english_lowercase",
        _lowercase,
        {"": ("Write everything in lowercase letters only.", "No capital letters anywhere in your answer.")},
    ),
    Kind(
        "ifeval",
        "change_case:english_capital",
        _capitals,
        {"": ("Write your whole answer in capital letters.", "Answer in ALL CAPS.")},
    ),
    Kind(
        "ifeval",
        "punctuation:no_comma",
        _no_comma,
        {"": ("Don't use any commas.", "Avoid commas completely.")},
    ),
    *keyword_kinds.KINDS,
    Kind("ifeval", "combination:two_responses", _two_responses),
    Kind("ifeval", "combination:repeat_prompt", _repeat),
]
