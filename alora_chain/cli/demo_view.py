"""How `alora-chain demo` shows itself: rich output as it runs, silent under ``--json``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .demo import Summary, Turn


class DemoView:
    """Rich output as the demo runs; silent with --json."""

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console

        self.quiet = quiet
        self.console = Console(stderr=quiet)

    def status(self, text: str):
        from contextlib import nullcontext

        return nullcontext() if self.quiet else self.console.status(text)

    def intrinsics(self, status: dict[str, str]) -> None:
        if self.quiet:
            return
        self.console.rule("[bold]alora-chain demo: a guarded RAG conversation")
        self.console.print(
            "Knowledge base: [bold]Northwind Robotics[/] (fictional, shipped with the package). Every "
            "intrinsic runs on a fork of the conversation's KV cache."
        )
        for name, state in status.items():
            if state != "ok":
                self.console.print(f"[yellow]note:[/] intrinsic [bold]{name}[/] is skipped ({state})")

    def turn(self, number: int, turn: Turn) -> None:
        if self.quiet:
            return
        from rich.panel import Panel
        from rich.table import Table

        self.console.print()
        self.console.rule(f"Turn {number}")
        self.console.print(f"[bold cyan]user:[/] {turn.user}")
        table = Table(show_header=True, header_style="bold", expand=True)
        for column, justify in [("step", "left"), ("decision", "left"), ("score", "right"),
                                ("time", "right"), ("reused tokens", "right")]:  # fmt: skip
            table.add_column(column, justify=justify, overflow="fold")
        for step in turn.steps:
            style = "dim" if step.skipped else None
            table.add_row(
                step.name,
                step.decision if not step.skipped else f"{step.decision} [{step.skipped}]",
                "" if step.score is None else f"{step.score:.2f}",
                f"{step.seconds * 1000:.0f} ms" if step.seconds else "",
                "" if step.reused_tokens is None else str(step.reused_tokens),
                style=style,
            )
        self.console.print(table)
        colour = "yellow" if turn.declined else "green"
        self.console.print(Panel(turn.answer, title="assistant", border_style=colour))

    def agent(self, agent: dict[str, Any] | None) -> None:
        if self.quiet:
            return
        self.console.print()
        self.console.rule("Agent step: instruct, validate, repair")
        if agent is None:
            self.console.print("[yellow]note:[/] requirement_check is not installed; agent step skipped")
            return
        self.console.print(f"[bold cyan]user:[/] {agent['request']}")
        for number, attempt in enumerate(agent["attempts"], 1):
            self.console.print(f"[bold]attempt {number}:[/] {attempt['text']}")
            for v in attempt["verdicts"]:
                mark = "[green]pass[/]" if v["satisfied"] else "[red]fail[/]"
                self.console.print(
                    f"   {mark} {v['requirement']}  P={v['score']:.2f}  {v['seconds'] * 1000:.0f} ms  "
                    f"reused {v['reused_tokens']} tokens"
                )
        verdict = "all requirements met" if agent["satisfied"] else "best attempt kept, not all met"
        self.console.print(f"[bold]committed[/] after {agent['attempts_used']} attempt(s): {verdict}")

    def input_guards(self, inputs: dict[str, Any] | None) -> None:
        if self.quiet:
            return
        self.console.print()
        self.console.rule("Input guards: a jailbreak turn, an injected page")
        if inputs is None:
            self.console.print("[yellow]note:[/] jailbreak and prompt_injection are not installed; skipped")
            return

        def p(value: float | None) -> str:
            return "not run" if value is None else f"{value:.2f}"

        jailbreak = inputs["jailbreak"]
        self.console.print(f"[bold cyan]user:[/] {jailbreak['turn']}")
        if jailbreak["p_jailbreak"] is None:
            self.console.print("   [yellow]jailbreak is not installed:[/] the turn is not checked")
        else:
            verdict = "[red]refused[/]" if jailbreak["refused"] else "[green]answered[/]"
            self.console.print(f"   jailbreak P={p(jailbreak['p_jailbreak'])}: {verdict}")
        injection = inputs["prompt_injection"]
        self.console.print(
            f"[bold cyan]user:[/] {injection['question']}  (P(jailbreak)={p(jailbreak['question_p_jailbreak'])})"
        )
        for document in injection["documents"]:
            mark = "[red]dropped[/]" if document["dropped"] else "[green]kept[/]"
            self.console.print(f"   prompt_injection P={p(document['p_injection'])} {mark}: {document['text'][:90]}...")

    def summary(self, summary: Summary) -> None:
        from rich.table import Table

        self.console.print()
        self.console.rule("Summary")
        table = Table(show_header=False)
        table.add_row("intrinsic calls", str(summary.intrinsic_calls))
        table.add_row("tokens reused from the cache", str(summary.reused_tokens))
        table.add_row("time in intrinsics (aLoRA)", f"{summary.intrinsic_seconds:.2f} s")
        table.add_row("same calls with standard LoRA (estimate)", f"{summary.lora_estimate_seconds:.2f} s")
        speedup = f" ({summary.speedup:.1f}x)" if summary.speedup else ""
        table.add_row("time saved", f"[bold green]{summary.saved_seconds:.2f} s{speedup}[/]")
        table.add_row("demo wall time", f"{summary.total_seconds:.1f} s")
        self.console.print(table)
        self.console.print(f"[dim]How: {summary.method}.[/]")
