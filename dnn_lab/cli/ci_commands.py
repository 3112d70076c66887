"""Commands for CI jobs: smoke (every config, a few steps each) and check (gates)."""

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dnn_lab.cli.app import (
    Format,
    RunPathsArg,
    _complete_dir,
    _stderr,
    _stdout,
    _user_errors,
    app,
)
from dnn_lab.errors import DnnLabError


class DataMode(str, Enum):
    auto = "auto"
    real = "real"
    stand_in = "stand-in"


JunitOption = Annotated[
    Path | None,
    typer.Option("--junit", metavar="FILE", help="Write a JUnit XML report (one case each)."),
]
MarkdownOption = Annotated[
    Path | None,
    typer.Option(
        "--markdown",
        metavar="FILE",
        help="Write a markdown table; also appended to $GITHUB_STEP_SUMMARY when that is set.",
    ),
]
FormatOption = Annotated[
    Format, typer.Option("--format", help="table, markdown, csv or json on stdout.")
]


@app.command()
def smoke(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Config files, or folders searched for *.yaml (default: configs/).",
            show_default=False,
            autocompletion=_complete_dir,
        ),
    ] = None,
    steps: Annotated[int, typer.Option("--steps", min=2, help="Training steps per config.")] = 50,
    samples: Annotated[
        int, typer.Option("--samples", min=8, help="Stratified training samples per config.")
    ] = 512,
    data: Annotated[
        DataMode,
        typer.Option(
            "--data",
            help="auto: a stand-in of the same shape where a dataset's files are absent; "
            "real: refuse instead; stand-in: always.",
        ),
    ] = DataMode.auto,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Worker processes (default: one per core)."),
    ] = None,
    junit: JunitOption = None,
    markdown: MarkdownOption = None,
    output_format: FormatOption = Format.table,
) -> None:
    """Smoke-test configs: validate, build, train a few steps on CPU, save and reload.

    Exit 0 when every config passed, 1 when one failed, 2 on a usage error.
    """
    with _user_errors():
        from dnn_lab.ci import smoke as ci_smoke
        from dnn_lab.training.smoke import SmokeRequest

        configs = ci_smoke.find_configs(paths or [Path("configs")])
        requests = [
            SmokeRequest(config=str(c), steps=steps, samples=samples, data=data.value)
            for c in configs
        ]
        results = ci_smoke.run_smoke(requests, workers)
        table = ci_smoke.to_table(results)
        _report(
            table,
            output_format,
            junit,
            markdown,
            cases=[_smoke_case(r) for r in results],
            suite="dnn-lab smoke",
            summary=lambda: _smoke_summary(results, table),
        )
        if output_format is Format.table:
            for result in results:
                if not result.passed:
                    _stderr().print(f"failed: {result.config}: {result.reason}", soft_wrap=True)
    raise typer.Exit(ci_smoke.exit_code(results))


@app.command()
def check(
    paths: RunPathsArg,
    expect: Annotated[
        list[str] | None,
        typer.Option(
            "--expect",
            metavar="METRIC>=N",
            help="A threshold every run must meet, e.g. 'val_accuracy>=0.9'. Repeatable.",
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            metavar="RUN|SWEEP|FILE",
            help="Compare with these runs, or a file --save-baseline wrote.",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            help="Metric compared with the baseline (default: the --expect metrics, else the "
            "runs' monitor). Repeatable.",
        ),
    ] = None,
    max_drop: Annotated[
        str,
        typer.Option("--max-drop", help="Allowed drop: absolute (0.01) or relative (2%)."),
    ] = "0",
    strict: Annotated[
        bool, typer.Option("--strict", help="An inconclusive comparison fails too.")
    ] = False,
    save_baseline: Annotated[
        Path | None,
        typer.Option("--save-baseline", metavar="FILE", help="Write these runs as a baseline."),
    ] = None,
    junit: JunitOption = None,
    markdown: MarkdownOption = None,
    output_format: FormatOption = Format.table,
) -> None:
    """Gate runs on thresholds and on a baseline; fail the CI job on a regression.

    Exit 0 when every gate passed (inconclusive too, unless --strict), 1 when one failed.

    Exit 2 on a usage error.
    """
    with _user_errors():
        from dnn_lab.ci import baseline as baselines
        from dnn_lab.ci import gates as ci_gates

        expectations = [ci_gates.parse_expectation(text) for text in expect or []]
        tolerance = ci_gates.parse_tolerance(max_drop)
        if not expectations and baseline is None and save_baseline is None:
            raise DnnLabError(
                "nothing to check: give --expect 'METRIC>=N', --baseline RUN|FILE, "
                "or --save-baseline FILE"
            )
        rows = baselines.rows_of(paths)
        groups = baselines.group_rows(rows)
        found: list = []
        for expectation in expectations:
            column = ci_gates.resolve_metric(
                expectation.metric, rows, f"--expect {expectation.text!r}"
            )
            found += ci_gates.expectation_gates(expectation, column, rows)
        if baseline is not None:
            names = list(metric or []) or [e.metric for e in expectations]
            columns = [ci_gates.resolve_metric(n, rows, f"--metric {n!r}") for n in names]
            if not columns:
                monitors = [row["monitor"] for row in rows if row.get("monitor")]
                if not monitors:
                    raise DnnLabError("these runs name no monitored metric; give --metric")
                columns = [f"best_{max(set(monitors), key=monitors.count)}"]
            reference = baselines.baseline_groups(baseline)
            for column in dict.fromkeys(columns):
                found += ci_gates.baseline_gates(column, groups, reference, tolerance)
        if save_baseline is not None:
            baselines.save(groups, save_baseline)
            _stderr().print(
                f"baseline of {len(groups)} setting(s) written to {save_baseline}", soft_wrap=True
            )
        if found:
            _report(
                _gates_table(found, strict),
                output_format,
                junit,
                markdown,
                cases=[_gate_case(g, strict) for g in found],
                suite="dnn-lab check",
                summary=lambda: _gates_summary(found, strict),
            )
    raise typer.Exit(ci_gates.exit_code(found, strict))


def _report(table, output_format, junit, markdown, cases, suite, summary) -> None:
    """The table on stdout in the chosen format, then the JUnit and markdown files."""
    from dnn_lab.ci import junit as junit_file
    from dnn_lab.ci.summary import publish
    from dnn_lab.render import tables

    # the files first: a reader that stops reading stdout early (| head) leaves them whole
    if junit is not None:
        junit_file.write(junit, suite, cases)
    publish(summary(), markdown)
    if output_format is Format.table:
        tables.render_table(table, _stdout(wide_when_piped=True), limit=None)
    else:
        render = {
            Format.markdown: tables.render_markdown,
            Format.csv: tables.render_csv,
            Format.json: tables.render_json,
        }[output_format]
        typer.echo(render(table), nl=False)


def _smoke_case(result):
    from dnn_lab.ci.junit import Case

    message = result.reason
    if result.loss_first is not None and result.loss_last is not None:
        message += (
            f" (loss {result.loss_first:.4g} -> {result.loss_last:.4g} in {result.steps} steps"
        )
        message += f", {result.params} params" if result.params is not None else ""
        message += f", {result.data} data)"
    return Case(
        name=result.config,
        classname="dnn-lab.smoke",
        failed=not result.passed,
        message=message,
        seconds=result.seconds,
    )


def _gate_case(gate, strict: bool):
    from dnn_lab.ci.junit import Case

    return Case(
        name=gate.name, classname="dnn-lab.check", failed=gate.fails(strict), message=gate.message
    )


def _smoke_summary(results, table) -> str:
    from dnn_lab.ci.summary import smoke_markdown

    return smoke_markdown(results, table)


def _gates_summary(found, strict: bool) -> str:
    from dnn_lab.ci.summary import gates_markdown

    return gates_markdown(found, strict)


def _gates_table(found, strict: bool):
    from dnn_lab.render.tables import Column, Table

    rows = [{**gate.to_json(), "mark": gate.mark(strict)} for gate in found]
    failing = sum(gate.fails(strict) for gate in found)
    unsure = sum(gate.mark(strict) == "?" for gate in found)
    return Table(
        columns=[
            Column(key="mark", title="", exported=False),
            Column(key="name", title="gate"),
            Column(key="value", title="value", style="metric"),
            Column(key="reference", title="expected/baseline", style="metric"),
            Column(key="change", title="change", style="metric"),
            Column(key="verdict", title="verdict", plain="passed"),
            Column(key="message", title="why"),
            *(
                Column(key=key, title=key, drawn=False)
                for key in ("subject", "metric", "low", "high", "seeds", "baseline_seeds")
            ),
        ],
        rows=rows,
        header={"failed": failing, "total": len(found), "strict": strict},
        rows_name="gates",
        footer=f"{len(found) - failing - unsure} of {len(found)} gates passed"
        + (f", {unsure} inconclusive (a failure with --strict)" if unsure else "")
        + (f", {failing} failed" if failing else ""),
        empty="no gates",
    )
