"""BM25 retrieval (the ``bm25s`` library) over a small document collection, and the demo knowledge base."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import DataError, InvalidArgumentError

_KB_FILE = Path(__file__).resolve().parent / "kb" / "northwind.json"


class Document(BaseModel):
    """One retrievable passage."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    title: str = ""
    text: str = Field(min_length=1)


class KnowledgeBase(BaseModel):
    """A named collection of documents, as stored in ``alora_chain/kb/*.json``."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    documents: list[Document] = Field(min_length=1)


class Hit(BaseModel):
    """A retrieved document and its BM25 score (higher is better; 0 means no shared term)."""

    model_config = ConfigDict(frozen=True)
    document: Document
    score: float


def load_knowledge_base(path: str | Path | None = None) -> KnowledgeBase:
    """The knowledge base at ``path``, by default the fictional "Northwind Robotics" one shipped for the demo."""
    path = Path(path) if path is not None else _KB_FILE
    try:
        return KnowledgeBase.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise DataError(f"knowledge base {path} does not exist") from None
    except (json.JSONDecodeError, ValidationError) as exc:
        raise DataError(f"knowledge base {path} is invalid: {exc}") from None


class Retriever:
    """Lexical search with Okapi BM25; the index is built once, queries take microseconds.

    Example::

        r = Retriever(load_knowledge_base().documents)
        r.search("Scout R2 battery life", k=1)[0].document.id   # -> "product-scout-r2"
    """

    def __init__(self, documents: list[Document]) -> None:
        import bm25s

        if not documents:
            raise InvalidArgumentError("a retriever needs at least one document")
        self.documents = list(documents)
        self._bm25s = bm25s
        self._index = bm25s.BM25()
        self._index.index(
            self._tokenize([f"{d.title}\n{d.text}" for d in self.documents]), show_progress=False
        )

    def _tokenize(self, texts: list[str]):
        return self._bm25s.tokenize(texts, stopwords="en", show_progress=False)

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The ``k`` best documents for ``query``, best first (documents sharing no term are dropped)."""
        if k < 1:
            raise InvalidArgumentError(f"k must be >= 1, got {k}")
        tokens = self._tokenize([query])
        if not any(tokens.ids[0]):  # only stopwords or unknown words: nothing to match
            return []
        k = min(k, len(self.documents))
        indices, scores = self._index.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [
            Hit(document=self.documents[int(i)], score=float(s))
            for i, s in zip(indices[0], scores[0])
            if s > 0
        ]
