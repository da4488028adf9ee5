"""Train your own from a small labelled file: the intrinsic inferred from its rows, checked against prompting.

``alora-chain train data.jsonl --name NAME`` needs nothing else. The labels come from the
targets, the arguments from the rows' other keys, and the template, when none is given,
only lays the arguments out: the adapter learns the task from the examples, not from an
instruction. After training, :func:`compare_with_prompting` scores the adapter on held-out
rows against the base model asked zero-shot, and :func:`one_label` says when the adapter
answers the same label for every row (it learned the label frequencies, not the task).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import DataError, InvalidArgumentError
from ..intrinsic import Intrinsic
from ..model import Model
from .data import Row, read_objects
from .evaluate import EvalReport, evaluate
from .train import spec_for_training

MAX_LABELS = 10  # more distinct targets than this: a text intrinsic, not a choice
_RESERVED = ("messages", "target", "meta")
_TYPES = {list: "list[str]", str: "str", int: "int", float: "float", bool: "bool"}
_POSITIVE = ("yes", "true", "1", "positive")  # the label whose probability is the score, when present


def infer_intrinsic(
    data: str | Path,
    name: str,
    folder: str | Path,
    *,
    like: Intrinsic | None = None,
    template: str | Path | None = None,
    labels: Sequence[str] | None = None,
    positive: str | None = None,
    output_kind: str | None = None,
    invocation: str | None = None,
) -> Intrinsic:
    """The intrinsic to train on ``data``: what is not given is read from its rows.

    ``like`` copies an intrinsic's template, arguments and output; ``template`` is a jinja2
    file. Without either, :func:`default_template` is written to ``folder`` (which must
    outlive the training run: the spec reads its template from there).

    Example: rows ``{"messages": [...], "target": "complaint"}`` and ``{..., "target": "other"}``
    -> a choice between ``complaint`` and ``other``, no arguments, an empty template.
    """
    objects = [obj for _, obj in read_objects(Path(data))]
    arguments = None if like is not None else _arguments(objects)
    output = None
    if like is None or labels or output_kind:
        output = _output([obj.get("target") for obj in objects], labels, positive, output_kind)
    template_name = None
    if template is not None:
        template_name = Path(template).name
    elif like is None:
        template_name = f"{name}.jinja"
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / template_name).write_text(default_template(arguments), encoding="utf-8")
    spec = spec_for_training(
        name, like=like, template=template_name, invocation=invocation, output=output, arguments=arguments
    )
    if template is not None:
        return spec.with_folder(Path(template).parent)
    return spec if like is not None else spec.with_folder(Path(folder))


def default_template(arguments: dict[str, str]) -> str:
    """A template that lays out the arguments and asks nothing: empty when there are none.

    Example: ``{"documents": "list[str]", "topic": "str"}`` renders as
    ``documents:\\n- first\\n- second\\ntopic: tides``.
    """
    lines = []
    for key, kind in arguments.items():
        if kind == "list[str]":
            lines.append(f"{key}:\n{{% for item in {key} %}}\n- {{{{ item }}}}\n{{% endfor %}}")
        else:
            lines.append(f"{key}: {{{{ {key} }}}}")
    return "\n".join(lines) + ("\n" if lines else "")


def _arguments(objects: list[dict]) -> dict[str, str]:
    """Template arguments: the keys besides messages/target/meta, typed from the first row holding each."""
    found: dict[str, str] = {}
    for obj in objects:
        for key, value in obj.items():
            if key not in _RESERVED and key not in found:
                found[key] = _TYPES.get(type(value), "str")
    return found


def _output(
    targets: list, labels: Sequence[str] | None, positive: str | None, output_kind: str | None
) -> dict:
    """Explicit labels make a choice; otherwise a few distinct targets make one, many make text."""
    if output_kind not in (None, "choice", "score", "text"):
        raise InvalidArgumentError(f"output kind must be choice, score or text, not {output_kind!r}")
    if output_kind == "score":
        return {"kind": "score", "labels": {n: float(n) / 9 for n in labels}} if labels else {"kind": "score"}
    if output_kind == "text":
        return {"kind": "text", "max_new_tokens": 64}
    names = list(labels) if labels else sorted({str(t) for t in targets if t is not None})
    if not labels and output_kind is None and len(names) > MAX_LABELS:
        return {"kind": "text", "max_new_tokens": 64}
    if len(names) < 2:
        raise DataError(
            f"every row has the target {names[0]!r}: a choice needs examples of at least two labels"
            if names
            else "no targets: each row needs a 'target'"
        )
    if positive is None:
        positive = next((n for n in names if n.lower() in _POSITIVE), None)
    return {"kind": "choice", "labels": names, "positive": positive}


# -- after training ------------------------------------------------------------------------------
def zero_shot_template(intrinsic: Intrinsic) -> str:
    """What the prompted base model is asked: the intrinsic's own template when it asks something;
    for one that only lays out arguments (:func:`default_template`), that layout and the labels.

    Example: an inferred ``complaint``/``other`` choice ->
    ``Answer with one of these words and nothing else: complaint, other.``
    """
    source = intrinsic.template_obj.source
    if source.strip() != default_template(intrinsic.arguments).strip() or not intrinsic.labels:
        return source
    question = f"Answer with one of these words and nothing else: {', '.join(intrinsic.labels)}."
    return f"{source}{question}\n" if source.strip() else f"{question}\n"


def compare_with_prompting(
    model: Model, intrinsic: Intrinsic, rows: Sequence[Row], *, progress: bool = True
) -> EvalReport:
    """:func:`~alora_chain.training.evaluate.evaluate` of the trained ``intrinsic`` on held-out
    ``rows`` against the base model prompted zero-shot with :func:`zero_shot_template`."""
    with tempfile.TemporaryDirectory(prefix="zero-shot-") as folder:
        (Path(folder) / "zero_shot.jinja").write_text(zero_shot_template(intrinsic), encoding="utf-8")
        fields = intrinsic.model_dump(by_alias=True) | {"template": "zero_shot.jinja"}
        prompted = Intrinsic.model_validate(fields).with_folder(Path(folder))
        return evaluate(model, intrinsic, rows, compare=("prompt",), prompt=prompted, progress=progress)


def one_label(report: EvalReport) -> str | None:
    """The label the adapter answered for every held-out row, if it answered only one (else None).

    An adapter that learned only the labels' frequencies does this; so does one that reads
    nothing its task depends on. Text outputs are not checked.
    """
    if report.kind not in ("choice", "score"):
        return None
    predictions = next(iter(report.paths.values())).predictions
    outputs = {p.output for p in predictions}
    return outputs.pop() if len(predictions) > 1 and len(outputs) == 1 else None
