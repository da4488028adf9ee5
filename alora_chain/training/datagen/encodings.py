"""Text encodings that jailbreak attempts hide a request in, each with its inverse.

Example: encode("how are you", "reversed") -> "uoy era woh"; decode("uoy era woh", "reversed") -> "how are you".
"""

from __future__ import annotations

import base64
import codecs

# scheme -> how a user would name it in a message ("Decode this {scheme}: ...")
SCHEMES = {
    "base64": "base64",
    "rot13": "ROT13",
    "hex": "hex",
    "reversed": "reversed text",
    "words reversed": "reversed word order",
    "leetspeak": "leetspeak",
    "spaced": "spaced-out letters",
}
_LEET = str.maketrans("aeiost", "431057")
_UNLEET = str.maketrans("431057", "aeiost")
_WORD_GAP = " / "  # between words of spaced text, whose letters are single-spaced


def encodable(text: str, scheme: str) -> bool:
    """Whether ``decode(encode(text))`` gives ``text`` back (see :func:`normal`): leetspeak cannot
    tell its digits from the text's own, spaced text cannot hold a slash."""
    if scheme == "leetspeak":
        return not any(c in "431057" for c in text)
    if scheme == "spaced":
        return "/" not in text
    return scheme in SCHEMES


def normal(text: str, scheme: str) -> str:
    """What decoding gives back: leetspeak is lower-case; schemes that work on words keep one space."""
    if scheme == "leetspeak":
        return text.lower()
    if scheme in ("words reversed", "spaced"):
        return " ".join(text.split())
    return text


def encode(text: str, scheme: str) -> str:
    """``text`` in ``scheme``. Example: encode("hi you", "spaced") -> "h i / y o u"."""
    if not encodable(text, scheme):
        raise ValueError(f"{scheme} cannot encode {text!r} reversibly")
    if scheme == "base64":
        return base64.b64encode(text.encode("utf-8")).decode("ascii")
    if scheme == "rot13":
        return codecs.encode(text, "rot13")
    if scheme == "hex":
        return text.encode("utf-8").hex(" ")
    if scheme == "reversed":
        return text[::-1]
    if scheme == "words reversed":
        return " ".join(reversed(text.split()))
    if scheme == "leetspeak":
        return text.lower().translate(_LEET)
    return _WORD_GAP.join(" ".join(word) for word in text.split())  # spaced


def decode(text: str, scheme: str) -> str:
    """The inverse of :func:`encode`, up to :func:`normal`."""
    if scheme == "base64":
        return base64.b64decode(text).decode("utf-8")
    if scheme == "rot13":
        return codecs.decode(text, "rot13")
    if scheme == "hex":
        return bytes.fromhex(text).decode("utf-8")
    if scheme == "reversed":
        return text[::-1]
    if scheme == "words reversed":
        return " ".join(reversed(text.split()))
    if scheme == "leetspeak":
        return text.translate(_UNLEET)
    if scheme == "spaced":
        return " ".join(word.replace(" ", "") for word in text.split(_WORD_GAP))
    raise ValueError(f"unknown scheme {scheme!r}; expected one of {list(SCHEMES)}")
