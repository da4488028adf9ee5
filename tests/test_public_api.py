"""The public API of docs/design.md stays importable as documented, and importing it stays light."""

from __future__ import annotations

import inspect
import subprocess
import sys

import alora_chain as ac

DOCUMENTED = {
    "GenerationConfig", "Intrinsic", "IntrinsicResult", "Message", "Model", "Session", "SessionCache",
    "errors", "intrinsics", "load_model",
}


def test_every_documented_name_is_exported_and_resolves():
    assert set(ac.__all__) == DOCUMENTED
    for name in DOCUMENTED:
        assert getattr(ac, name) is not None
    assert set(ac.intrinsics()) >= {"answerability", "groundedness", "requirement_check", "query_rewrite",
                                    "certainty", "context_relevance"}


def test_the_documented_signatures_hold():
    assert list(inspect.signature(ac.Session.user).parameters) == ["self", "content", "documents"]
    assert "chat_template" in inspect.signature(ac.load_model).parameters
    assert list(inspect.signature(ac.Session.invoke).parameters) == ["self", "intrinsic", "arguments"]
    for method in ("generate", "stream", "fork", "undo", "assistant", "system", "save", "load", "invoke_many"):
        assert callable(getattr(ac.Session, method))
    assert {"value", "score", "raw", "stats"} <= set(ac.IntrinsicResult.model_fields)


def test_importing_the_package_and_the_cli_loads_no_torch():
    code = "import sys, alora_chain, alora_chain.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
