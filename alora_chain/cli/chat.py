"""`alora-chain chat`: an interactive terminal chat with streamed replies and intrinsic calls."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

HELP = """\
Type a message to chat. Commands:
  /invoke NAME key=value ...  call an intrinsic (built-in name or folder) on the conversation;
                              values are JSON if they parse, else text: documents=["a","b"] requirement=Be brief
  /intrinsics                 list the built-in intrinsics
  /fork                       continue on a fork of the conversation (O(1); the parent is kept)
  /back                       return to the conversation you forked from
  /undo                       remove the last exchange (your message and the reply)
  /save PATH                  save the conversation
  /help                       this text
  /quit                       leave (end of input works too)"""

_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")  # at the start of a value's text
_NEXT_KEY = re.compile(r"\s([A-Za-z_][A-Za-z0-9_]*)=")  # where an unquoted text value ends


def parse_arguments(text: str) -> dict[str, Any]:
    """``key=value`` pairs; a value is JSON if it parses, else the text up to the next ``key=``.

    Example: ``documents=["a b", "c"] requirement=Be brief`` -> ``{"documents": ["a b", "c"],
    "requirement": "Be brief"}``.
    """
    from alora_chain.errors import InvalidArgumentError

    text = text.strip()
    arguments: dict[str, Any] = {}
    position = 0
    decoder = json.JSONDecoder()
    while position < len(text):
        match = _KEY.match(text, position)
        if match is None:
            raise InvalidArgumentError(f"expected key=value at {text[position:]!r}")
        key, start = match.group(1), match.end()
        try:
            value, end = decoder.raw_decode(text, start)
            if end < len(text) and not text[end].isspace():
                raise ValueError("JSON followed by more text: treat it all as text")
        except ValueError:
            following = _NEXT_KEY.search(text, start)
            end = following.start() if following else len(text)
            value = text[start:end].strip()
        arguments[key] = value
        position = end
        while position < len(text) and text[position].isspace():
            position += 1
    return arguments


class Chat:
    """The chat loop's state: the current session and the stack of sessions it forked from."""

    def __init__(self, model, system: str | None, max_new_tokens: int) -> None:
        import alora_chain as ac

        self.session = ac.Session(model, system=system or None)
        self.stack: list[Any] = []
        self.max_new_tokens = max_new_tokens

    def handle(self, line: str) -> bool:
        """Act on one input line; False means quit."""
        line = line.strip()
        if not line:
            return True
        if not line.startswith("/"):
            self.reply(line)
            return True
        name, _, rest = line[1:].partition(" ")
        handler = getattr(self, f"do_{name.lower()}", None)
        if handler is None:
            _say(f"unknown command /{name}; type /help")
            return True
        return handler(rest.strip()) is not False

    def reply(self, text: str) -> None:
        self.session.user(text)
        _say("assistant: ", nl=False)
        try:
            for piece in self.session.stream(max_new_tokens=self.max_new_tokens):
                _say(piece, nl=False)
        except KeyboardInterrupt:
            self.session.undo()  # the stream left the session as before; drop the question too
            _say("\n[interrupted]")
            return
        _say("")

    def do_invoke(self, rest: str) -> None:
        name, _, args = rest.partition(" ")
        if not name:
            _say("usage: /invoke NAME key=value ...")
            return
        result = self.session.invoke(name, **parse_arguments(args))
        score = "" if result.score is None else f"  score={result.score:.3f}"
        if result.item_scores is not None:  # per_item intrinsics: which document, sentence, ...
            score += "  items=[" + ", ".join(f"{p:.2f}" for p in result.item_scores) + "]"
        stats = result.stats
        _say(
            f"[{result.intrinsic}] value={json.dumps(result.value, default=str)}{score}  "
            f"({stats.seconds * 1000:.0f} ms, reused {stats.reused_tokens} cached tokens, "
            f"computed {stats.new_tokens})"
        )

    def do_intrinsics(self, rest: str) -> None:
        import alora_chain as ac
        from alora_chain.intrinsic import builtin

        names = ac.intrinsics()
        if not names:
            _say("no built-in intrinsics installed; /invoke also takes an intrinsic folder path")
        for name in names:
            spec = builtin(name)
            arguments = ", ".join(f"{k}: {v}" for k, v in spec.arguments.items()) or "no arguments"
            _say(f"  {name} ({arguments})  {spec.description}")

    def do_fork(self, rest: str) -> None:
        self.stack.append(self.session)
        self.session = self.session.fork()
        _say(f"[forked: depth {len(self.stack)}; /back returns]")

    def do_back(self, rest: str) -> None:
        if not self.stack:
            _say("[not on a fork]")
            return
        self.session = self.stack.pop()
        _say(f"[back: depth {len(self.stack)}]")

    def do_undo(self, rest: str) -> None:
        removed = []
        transcript = self.session.transcript
        while transcript and transcript[-1].role != "system":
            removed.append(self.session.undo())
            transcript.pop()
            if removed[-1].role == "user":
                break
        _say(f"[removed {len(removed)} turn(s)]" if removed else "[nothing to undo]")

    def do_save(self, rest: str) -> None:
        if not rest:
            _say("usage: /save PATH")
            return
        path = Path(rest).expanduser()
        save = getattr(self.session, "save", None)
        if callable(save):
            save(path)
        else:
            transcript = [m.model_dump() for m in self.session.transcript]
            path.write_text(json.dumps({"transcript": transcript}, indent=2), encoding="utf-8")
        _say(f"[saved {len(self.session.transcript)} turns to {path}]")

    def do_help(self, rest: str) -> None:
        _say(HELP)

    def do_quit(self, rest: str) -> bool:
        return False

    do_exit = do_quit


def _say(text: str, nl: bool = True) -> None:
    typer.echo(text, nl=nl)


def command(
    model_path: Annotated[
        Path | None,
        typer.Option("--model", help="A local HF model folder or GGUF file (default: the embedded SmolLM2)."),
    ] = None,
    system: Annotated[
        str, typer.Option("--system", help="The system prompt (empty for none).")
    ] = "You are a helpful assistant.",
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", min=1, help="Length cap of each reply.")
    ] = 256,
) -> None:
    """Chat with the model in the terminal; /help lists commands (/invoke, /fork, /undo, /save, ...).

    Reads standard input line by line, so it can be scripted: printf 'Hi\\n/quit\\n' | alora-chain chat
    """
    import alora_chain as ac
    from alora_chain.errors import AloraChainError

    try:
        chat = Chat(ac.load_model(model_path), system, max_new_tokens)
    except AloraChainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    interactive = sys.stdin.isatty()
    if interactive:
        _say("alora-chain chat: type a message, /help for commands, /quit to leave")
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            break
        except KeyboardInterrupt:
            _say("")
            break
        try:
            if not chat.handle(line):
                break
        except AloraChainError as exc:
            _say(f"error: {exc}")
