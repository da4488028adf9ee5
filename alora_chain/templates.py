"""Intrinsic prompt templates: jinja2 in a sandbox, where arguments are data and never code.

Templates come from intrinsic folders a user may have downloaded, so they render in
``SandboxedEnvironment`` (no attribute access to internals such as ``__class__`` or
``__globals__``, no file access, no imports) with ``StrictUndefined`` (a missing argument
is an error, not an empty string). Arguments are passed as values: a document containing
``{{ 7*7 }}`` is inserted literally, because jinja never re-renders a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from .errors import TemplateError, TemplateSecurityError

_MAX_SIZE = 1_000_000  # longest string/list and most digits an operator may produce


class _NoFiles(jinja2.BaseLoader):
    """{% include %}, {% import %} and {% extends %} fail: a template cannot read files."""

    def get_source(self, environment, template):
        raise SecurityError(f"templates cannot include, import or extend other files ({template!r})")


class _Sandbox(SandboxedEnvironment):
    """jinja's sandbox, plus bounds on ``*`` and ``**`` so ``'a' * 10**10`` or ``9**9**9``
    cannot exhaust memory or CPU (intercepted operators are also never constant-folded
    at compile time, so loading such a template is cheap)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" and _is_int(left) and _is_int(right):
            if abs(left) > 1 and right * left.bit_length() > _MAX_SIZE:
                raise SecurityError(f"{left!r} ** {right!r} is too large for a template")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    if len(seq) * times > _MAX_SIZE:
                        raise SecurityError(f"a template may not build sequences over {_MAX_SIZE} items")
        return super().call_binop(context, operator, left, right)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_ENV = _Sandbox(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
    trim_blocks=True,
    lstrip_blocks=True,
    loader=_NoFiles(),
)


@dataclass(frozen=True)
class Template:
    """A compiled intrinsic template, e.g. ``Template.from_string("Q: {{ q }}").render(q="hi")``."""

    source: str
    name: str = "<string>"

    @classmethod
    def from_string(cls, source: str, name: str = "<string>") -> Template:
        template = cls(source, name)
        template._compiled  # compile now so syntax errors surface at load time
        return template

    @classmethod
    def from_file(cls, path: Path) -> Template:
        return cls.from_string(Path(path).read_text(encoding="utf-8"), name=str(path))

    @cached_property
    def _compiled(self) -> jinja2.Template:
        try:
            return _ENV.from_string(self.source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template {self.name} line {exc.lineno}: {exc.message}") from exc
        except (RecursionError, MemoryError) as exc:  # e.g. thousands of nested brackets
            raise TemplateError(f"template {self.name} is too deeply nested to compile") from exc

    def variables(self) -> set[str]:
        """Names the template reads, e.g. ``{"documents", "messages"}``."""
        from jinja2 import meta

        return meta.find_undeclared_variables(_ENV.parse(self.source))

    def render(self, **values) -> str:
        try:
            return self._compiled.render(**values)
        except SecurityError as exc:
            raise TemplateSecurityError(
                f"template {self.name} tried an unsafe operation ({exc}); templates may only "
                "format their arguments"
            ) from exc
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                f"template {self.name} needs a value that was not given: {exc.message}. "
                f"Pass it as a keyword argument to invoke()."
            ) from exc
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template {self.name} failed: {exc}") from exc
        except Exception as exc:  # template code is third-party: any failure is a TemplateError
            raise TemplateError(f"template {self.name} failed on its arguments: {exc}") from exc
