"""The markdown a CI job shows: written to ``--markdown FILE`` and appended to the
GitHub Actions job summary (``$GITHUB_STEP_SUMMARY``) when that is set."""

from __future__ import annotations

import os
from pathlib import Path

from dnn_lab.ci.gates import PASSED, Gate
from dnn_lab.render.formatting import number
from dnn_lab.render.tables import render_markdown
from dnn_lab.store import files, runs
from dnn_lab.training.smoke import SmokeResult

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
MARK = {"✓": "✅", "✗": "❌", "?": "⚠️"}  # the terminal's marks, as GitHub draws them


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def smoke_markdown(results: list[SmokeResult], table) -> str:
    passed = sum(r.passed for r in results)
    title = f"### dnn-lab smoke: {passed} of {len(results)} configs passed\n\n"
    return title + render_markdown(table)


def gates_markdown(gates: list[Gate], strict: bool) -> str:
    failing = sum(gate.fails(strict) for gate in gates)
    unsure = sum(gate.mark(strict) == "?" for gate in gates)
    verdict = "all gates passed"
    if failing:
        verdict = f"{failing} of {len(gates)} gates failed"
    elif unsure:
        verdict = f"no gate failed, {unsure} inconclusive"
    lines = [
        f"### dnn-lab check: {verdict}",
        "",
        "| | run | metric | value | threshold / baseline | change | verdict |",
        "| --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for gate in gates:
        change = number(gate.change)
        if gate.low is not None and gate.high is not None:
            change += f" ({number(gate.low)} to {number(gate.high)})"
        reference = number(gate.reference)
        if gate.baseline_seeds > 1:
            reference += f" (n={gate.baseline_seeds})"
        lines.append(
            "| "
            + " | ".join(
                [
                    MARK[gate.mark(strict)],
                    _cell(gate.subject),
                    _cell(gate.metric),
                    number(gate.value),
                    reference,
                    change,
                    _cell(gate.verdict if gate.verdict == PASSED else gate.message),
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def publish(text: str, path: Path | None) -> None:
    """Write ``text`` to ``path`` (if given) and append it to the job summary (if set)."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        runs.atomic_write_text(Path(path), text)
    summary = os.environ.get(STEP_SUMMARY)
    if summary:
        fd = files.open_for_writing(Path(summary), append=True)  # never through a link
        try:
            os.write(fd, (text + "\n").encode("utf-8"))
        finally:
            os.close(fd)
