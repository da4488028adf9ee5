"""Rich (terminal) and HTML (Jupyter) views of a Session and an IntrinsicResult."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

_SHOWN_TURNS = 10  # a longer conversation shows its last turns and says how many are hidden
_PREVIEW_CHARS = 70
_BAR_WIDTH = 10


def score_bar(p: float) -> str:
    """A probability as a row of blocks. Example: 0.8 -> "████████░░"."""
    full = round(min(max(p, 0.0), 1.0) * _BAR_WIDTH)
    return "█" * full + "░" * (_BAR_WIDTH - full)


def preview(text: str) -> str:
    """Text on one line of at most 70 characters."""
    line = " ".join(text.split())
    return line if len(line) <= _PREVIEW_CHARS else line[: _PREVIEW_CHARS - 1] + "…"


@dataclass(frozen=True)
class SessionView:
    """What a Session shows: its turns, the cache's size, its intrinsic calls, the loaded adapters."""

    turns: list[tuple[str, str, int]]  # (role, text, tokens the turn added to the cache)
    cached: int
    calls: int
    reused: int
    adapters: list[str]

    def _parts(self) -> tuple[str, str, list[tuple[str, str, str]]]:
        title = f"Session: {len(self.turns)} turns, {self.cached} tokens cached"
        adapters = ", ".join(self.adapters) or "none"
        calls = f"{self.calls} intrinsic call{'' if self.calls == 1 else 's'}"
        footer = f"{calls}, {self.reused} tokens reused from the cache; adapters loaded: {adapters}"
        hidden = max(0, len(self.turns) - _SHOWN_TURNS)
        rows = [("…", f"{hidden} earlier turns", "")] if hidden else []
        rows += [(role, preview(text), str(tokens)) for role, text, tokens in self.turns[hidden:]]
        return title, footer, rows

    def __rich__(self):
        from rich.table import Table

        title, footer, rows = self._parts()
        table = Table(title=title, caption=footer, title_justify="left", caption_justify="left")
        table.add_column("role", style="bold")
        table.add_column("content")
        table.add_column("tokens", justify="right")
        for row in rows:
            table.add_row(*row)
        return table

    def _repr_html_(self) -> str:
        title, footer, rows = self._parts()
        body = "".join(
            f"<tr><td><b>{escape(role)}</b></td><td>{escape(text)}</td><td>{tokens}</td></tr>"
            for role, text, tokens in rows
        )
        return (
            f"<table><caption style='text-align:left'><b>{escape(title)}</b></caption>"
            f"<tr><th>role</th><th>content</th><th>tokens</th></tr>{body}</table><p>{escape(footer)}</p>"
        )


def result_rows(result) -> list[tuple[str, str]]:
    """(field, text) lines of an IntrinsicResult: value, score and bar, item scores, tokens, time."""
    stats = result.stats
    rows = [("intrinsic", result.intrinsic), ("value", repr(result.value) if isinstance(result.value, str) else str(result.value))]
    if result.score is not None:
        rows.append(("score", f"{result.score:.2f} {score_bar(result.score)}"))
    if result.item_scores is not None:
        rows.append(("items", " ".join(f"{p:.2f}" for p in result.item_scores) or "none"))
    rows.append(("tokens", f"{stats.reused_tokens} reused, {stats.new_tokens} new"))
    rows.append(("time", f"{stats.seconds * 1000:.0f} ms"))
    return rows


def result_rich(result):
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for row in result_rows(result):
        table.add_row(*row)
    return table


def result_html(result) -> str:
    body = "".join(f"<tr><td><b>{name}</b></td><td>{escape(text)}</td></tr>" for name, text in result_rows(result))
    return f"<table>{body}</table>"
