"""Requirement types for requirement_check: paraphrased wordings and one programmatic checker each.

A requirement is a spec dict such as ``{"type": "max_words", "n": 20}``; :func:`wording` turns
it into text through a template of the split (``WORDINGS[type]`` is split 60/20/20 by
position) and :func:`check` decides whether a reply satisfies it. Labels come from
:func:`check`, never from how a reply was built.
"""

from __future__ import annotations

import json
import re

WORDINGS = {
    "max_words": [
        "Answer in at most {n} words.",
        "Keep the reply to {n} words or fewer.",
        "No more than {n} words, please.",
        "Use {n} words max.",
        "Limit your answer to {n} words.",
        "Be brief: {n} words at most.",
        "The response must not exceed {n} words.",
        "Don't write more than {n} words.",
        "Maximum length: {n} words.",
        "Stay within {n} words.",
    ],
    "min_words": [
        "Write at least {n} words.",
        "The answer should be {n} words or longer.",
        "Use a minimum of {n} words.",
        "Give a reply of no fewer than {n} words.",
        "Make it at least {n} words long.",
        "Your response needs {n}+ words.",
        "Don't answer in fewer than {n} words.",
        "Aim for at least {n} words.",
    ],
    "bullets": [
        "Use a bulleted list with exactly {k} items.",
        "Format the answer as {k} bullet points.",
        "Give exactly {k} bullet points.",
        "Answer using {k} bullets.",
        "Structure your reply as exactly {k} bulleted items.",
        "Reply with {k} bullet points.",
        "Present the facts as a list of {k} bullets.",
        "Exactly {k} bullet points, please.",
    ],
    "forbidden_word": [
        "Do not use the word '{w}'.",
        'Avoid the word "{w}".',
        "Never say '{w}'.",
        "The word '{w}' must not appear.",
        "Don't include '{w}' anywhere in the reply.",
        "Refrain from using '{w}'.",
        'Leave out the word "{w}" entirely.',
        "No '{w}' in your answer.",
    ],
    "ends_with_question": [
        "End with a question.",
        "Finish your reply with a question to the user.",
        "The last sentence must be a question.",
        "Close by asking the user something.",
        "Make sure the response ends with a question mark.",
        "Wrap up with a question.",
        "Your final sentence should ask something.",
        "Conclude with a follow-up question.",
    ],
    "in_french": [
        "Write in French.",
        "Respond in French.",
        "The answer must be in French.",
        "Please reply in French only.",
        "Use French for your response.",
        "Answer in French.",
        "Réponds en français.",
        "Your reply should be written in French.",
    ],
    "in_english": [
        "Write in English.",
        "Respond in English.",
        "The answer must be in English.",
        "Please reply in English only.",
        "Use English for your response.",
        "Answer in English.",
        "Make sure the reply is in English.",
        "English only, please.",
    ],
    "include_word": [
        "Include the word '{w}'.",
        'Use the word "{w}" somewhere.',
        "Mention the word '{w}'.",
        "Your answer must contain '{w}'.",
        "Make sure '{w}' appears in the reply.",
        "Work the word '{w}' into your answer.",
        'The reply has to include "{w}".',
        "Be sure to say '{w}'.",
    ],
    "no_contractions": [
        "Be formal: no contractions.",
        "Do not use contractions (e.g. don't, it's).",
        "Avoid contractions entirely.",
        "Write formally without any contractions.",
        "Use full forms such as 'do not' instead of contractions.",
        "No contractions like can't or I'm.",
        "Keep it formal and spell out every contraction.",
        "Contractions are not allowed.",
    ],
    "starts_yes_no": [
        "Start with 'Yes' or 'No'.",
        "Begin your answer with yes or no.",
        "The first word must be Yes or No.",
        "Open with a clear yes or no.",
        "Lead with 'Yes' or 'No', then explain.",
        "Your reply should start with Yes or No.",
        "First word: yes or no.",
        "Start the answer with a plain yes or no.",
    ],
    "lowercase": [
        "Write everything in lowercase letters.",
        "Use only lowercase.",
        "No capital letters at all.",
        "Reply in all lowercase.",
        "Don't capitalize anything.",
        "All lowercase, please.",
        "The entire response must be lowercase.",
        "Avoid uppercase letters completely.",
    ],
    "has_number": [
        "Include at least one number.",
        "The answer must contain a number.",
        "Mention a number somewhere.",
        "Make sure your reply includes a number.",
        "Use at least one numeral or number word.",
        "Your response should include a number.",
        "Put a number in the answer.",
        "Give at least one number.",
    ],
    "json": [
        "Respond in JSON format.",
        "Return the answer as a JSON object.",
        "Output valid JSON only.",
        "Format your reply as JSON.",
        "Answer with a JSON object and nothing else.",
        "Reply in JSON.",
        "The whole response must be parseable JSON.",
        "Give me JSON, please.",
    ],
    "mention_attr": [
        "Mention the {noun}.",
        "Be sure to include the {noun}.",
        "Your answer must state the {noun}.",
        "Don't forget to mention the {noun}.",
        "Include the {noun} in your answer.",
        "Make sure the {noun} is in the reply.",
        "State the {noun} explicitly.",
        "The reply should tell me the {noun}.",
    ],
    "no_commas": [
        "Do not use any commas.",
        "Avoid commas.",
        "No commas allowed.",
        "Write the reply without a single comma.",
        "Don't put commas anywhere.",
        "Your answer must be comma-free.",
        "Leave out all commas.",
        "Zero commas, please.",
    ],
    "ends_with_phrase": [
        "End your reply with '{p}'",
        'Finish with the exact phrase "{p}"',
        "Close with '{p}'",
        "The last words must be '{p}'",
        "Make '{p}' the very end of your answer",
        "Sign off with '{p}'",
        'Your reply should end with "{p}"',
        "Conclude with '{p}'",
    ],
    "quoted": [
        "Wrap your entire reply in double quotation marks.",
        'Put the whole answer in "quotes".',
        "Enclose the response in double quotes.",
        "Start and end the reply with a double quote.",
        "The full answer must be inside double quotes.",
        "Quote your entire response.",
        "Surround the answer with double quotation marks.",
        "Put your reply in quotation marks.",
    ],
}

CONTRACTION = re.compile(
    r"\b(?:\w+n['’]t|it['’]s|that['’]s|here['’]s|there['’]s|what['’]s|he['’]s|she['’]s|"
    r"let['’]s|i['’]m|\w+['’]re|\w+['’]ve|\w+['’]ll|\w+['’]d)\b",
    re.IGNORECASE,
)
NUMBER_WORDS = re.compile(
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million)\b",
    re.IGNORECASE,
)
BULLET = re.compile(r"^\s*[-*•]\s+\S", re.MULTILINE)
FR_WORDS = set(
    "le la les est et de des du un une en à chez que qui pour avec dans sur ce cela vous "
    "je se été par son sa ses il elle au aux pas ne voici bien bonne coûte habite "
    "travaille compte pèse emploie attire tient heures habitants personnes visiteurs "
    "grammes journée sûr plaisir".split()
)
EN_WORDS = set(
    "the is and of an to in for with that it was has are this on by you be as at from here let me i".split()
)


def language(text: str) -> str:
    """'fr' or 'en' by counting common function words (enough for the replies we generate)."""
    words = re.findall(r"[a-zà-ÿ']+", text.lower())
    fr = sum(w in FR_WORDS for w in words)
    en = sum(w in EN_WORDS for w in words)
    return "fr" if fr > en else "en"


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


def _mentions(text: str, value: str) -> bool:
    if any(c.isdigit() for c in value):  # "$1,299" is mentioned by "1299 dollars" too
        digits = re.sub(r"\D", "", value)
        return re.search(rf"(?<![\d,]){digits}(?![\d,])", text.replace(",", "")) is not None
    return value.lower() in text.lower()


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text.strip()), dict | list)
    except ValueError:
        return False


def check(spec: dict, reply: str) -> bool:
    """Does ``reply`` satisfy the requirement ``spec``?"""
    kind, text = spec["type"], reply.strip()
    checks = {
        "max_words": lambda: len(text.split()) <= spec["n"],
        "min_words": lambda: len(text.split()) >= spec["n"],
        "bullets": lambda: len(BULLET.findall(text)) == spec["k"],
        "forbidden_word": lambda: not _has_word(text, spec["w"]),
        "ends_with_question": lambda: text.endswith("?"),
        "in_french": lambda: language(text) == "fr",
        "in_english": lambda: language(text) == "en",
        "include_word": lambda: _has_word(text, spec["w"]),
        "no_contractions": lambda: CONTRACTION.search(text) is None,
        "starts_yes_no": lambda: re.split(r"\W+", text.lower(), maxsplit=1)[0] in ("yes", "no"),
        "lowercase": lambda: text == text.lower() and any(c.isalpha() for c in text),
        "has_number": lambda: bool(re.search(r"\d", text) or NUMBER_WORDS.search(text)),
        "json": lambda: _is_json(text),
        "mention_attr": lambda: _mentions(text, spec["value"]),
        "no_commas": lambda: "," not in text,
        "ends_with_phrase": lambda: text.endswith(spec["p"]),
        "quoted": lambda: len(text) >= 2 and text[0] == '"' and text[-1] == '"',
    }
    return checks[kind]()


def wording(template: str, spec: dict) -> str:
    return template.format(**{k: v for k, v in spec.items() if k != "type"})
