"""Terminal output for training and datasets (rich; plain text when piped)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from dnn_lab.results import rundir as runs


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        if abs(value) >= 1e5 or (0 < abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.{digits}f}"
    return str(value)


def print_run_header(console: Console, run_dir, data_summary: dict, totals: dict, device: dict):
    sizes = " / ".join(f"{n} {split}" for split, n in data_summary["sizes"].items())
    console.print(f"[bold]run[/]    {run_dir}", highlight=False, soft_wrap=True)
    console.print(
        f"[bold]data[/]   {data_summary['dataset']} ({data_summary['task']}): {sizes}, "
        f"scaling {data_summary['scaling']}",
        highlight=False,
        soft_wrap=True,
    )
    for note in data_summary.get("notes", []):  # samples left out, and why
        console.print(f"[bold]note[/]   {note}", highlight=False, soft_wrap=True)
    console.print(
        f"[bold]model[/]  {totals['total']:,} params ({totals['trainable']:,} trainable), "
        f"{device['backend']} on {device['kind']} ({device['name']})",
        highlight=False,
        soft_wrap=True,
    )


def print_training_result(console: Console, result) -> None:
    metrics = result.metrics or {}
    colour = {runs.COMPLETED: "green", runs.DIVERGED: "yellow", runs.INTERRUPTED: "yellow"}.get(
        result.status, "red"
    )
    table = Table(title=None, show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("metric")
    table.add_column("final", justify="right")
    table.add_column(f"best (epoch {metrics.get('best_epoch', '-')})", justify="right")
    table.add_column("test", justify="right")
    final = metrics.get("final", {})
    best = metrics.get("best", {})
    test = metrics.get("test", {})
    for key in runs.history_columns([*final, *test]):
        table.add_row(key, fmt(final.get(key)), fmt(best.get(key)), fmt(test.get(key)))
    if final or test:
        console.print(table)
    mc = metrics.get("mc_dropout")
    if mc and "accuracy" in mc:
        console.print(
            f"MC dropout ({mc['samples']} samples, {mc['split']}): accuracy {fmt(mc['accuracy'])} "
            f"(single pass {fmt(mc['single_draw_accuracy_mean'])} "
            f"+/- {fmt(mc['single_draw_accuracy_std'])}; plain {fmt(mc['plain'].get('accuracy'))})",
            highlight=False,
        )
    timing = ""
    if "seconds_per_epoch" in metrics:
        per_epoch = fmt(metrics["seconds_per_epoch"], 3)
        timing = f" in {fmt(metrics.get('wall_seconds'), 1)}s ({per_epoch}s/epoch)"
    console.print(
        f"[bold {colour}]{result.status}[/]{timing}: {result.run_dir}",
        highlight=False,
        soft_wrap=True,
    )
    if result.message:
        console.print(result.message, highlight=False, soft_wrap=True)


def print_datasets(console: Console) -> None:
    from rich import box

    from dnn_lab.data.registry import DATASETS

    wide = console.width >= 110  # the descriptions only fit on a wide terminal
    table = Table(header_style="bold", box=box.SIMPLE_HEAD)
    columns = ["dataset", "task", "samples", "shape", "classes", "scaling"]
    for column in columns + (["description"] if wide else []):
        table.add_column(
            column,
            justify="right" if column in ("samples", "classes") else "left",
            no_wrap=column != "description",
        )
    for info in DATASETS.values():
        samples = "-" if info.n_train is None else f"{info.n_train:,}"
        if info.n_test:
            samples += f"+{info.n_test:,}"
        shape = "x".join(str(d) for d in info.input_shape) if info.input_shape else "file"
        row = [
            info.name,
            info.task or "inferred",
            samples,
            shape,
            str(info.n_classes) if info.n_classes else "-",
            info.default_scaling,
        ]
        table.add_row(*row, *([info.description] if wide else []))
    console.print(table)
    console.print(
        "samples: training + the dataset's own test set; csv/npz take data.path",
        highlight=False,
        soft_wrap=True,
    )


def print_run_list(console: Console, rows: list[dict], limit: int | None = None) -> None:
    from rich import box

    if not rows:
        console.print("no runs")
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for column in ("run", "status", "started", "dataset", "epochs", "best", "path"):
        table.add_column(
            column,
            justify="right" if column in ("epochs", "best") else "left",
            no_wrap=column == "path",
        )
    for row in rows[:limit]:
        best = "-" if row["best"] is None else f"{fmt(row['best'])} {row['metric']}"
        status = row["status"] if row["status"] == runs.COMPLETED else f"[yellow]{row['status']}[/]"
        table.add_row(
            row["run"],
            status,
            (row["started"] or "")[:19].replace("T", " "),
            row["dataset"] or "-",
            str(row["epochs"]),
            best,
            row["path"],
        )
    console.print(table)
    if limit is not None and len(rows) > limit:
        console.print(f"... and {len(rows) - limit} older runs (--all lists them)", highlight=False)


class SweepView:
    """A live table of a sweep on a terminal; one line per finished trial elsewhere."""

    def __init__(self, console: Console):
        self.console = console
        self.live = None
        self.reported: set[int] = set()
        self._last = 0.0

    def start(self, state, runner) -> None:
        total = state.planned or len(state.trials)
        self.console.print(
            f"[bold]sweep[/] {state.folder}: {total} trials, {runner.workers} at a time",
            highlight=False,
            soft_wrap=True,
        )
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(
                self._render(state, runner),
                console=self.console,
                refresh_per_second=4,
                transient=True,
            )
            self.live.start()

    def update(self, state, runner) -> None:
        import time

        from dnn_lab.sweep.runner import FINISHED

        for trial in state.trials:
            if trial.status in FINISHED | {"interrupted"} and trial.index not in self.reported:
                self.reported.add(trial.index)
                done = sum(1 for t in state.trials if t.status in FINISHED)
                total = state.planned or len(state.trials)
                value = "-" if trial.value is None else fmt(trial.value)
                line = (
                    f"[{done}/{total}] {trial.status} #{trial.index:03d} {trial.setting()} "
                    f"seed={trial.seed}: {state.monitor} {value}"
                )
                (self.live.console if self.live else self.console).print(
                    line, highlight=False, soft_wrap=True, markup=False
                )
        now = time.monotonic()
        if self.live is not None and now - self._last > 0.2:
            self._last = now
            self.live.update(self._render(state, runner))

    def _render(self, state, runner):
        from rich import box
        from rich.console import Group
        from rich.text import Text

        from dnn_lab.sweep.runner import FINISHED

        total = state.planned or len(state.trials)
        done = sum(1 for t in state.trials if t.status in FINISHED)
        best = state.best()
        head = Text(
            f"{done}/{total} done, {len(runner.running)} running, "
            f"{sum(1 for t in state.trials if t.status in ('failed', 'diverged'))} failed"
            + (
                f"; best {state.monitor} {fmt(best.value)} (#{best.index:03d} {best.setting()})"
                if best
                else ""
            )
        )
        table = Table(box=box.SIMPLE, header_style="bold")
        for column in ("trial", "setting", "seed", "epochs"):
            table.add_column(column)
        for item in runner.running:
            trial = item.trial
            table.add_row(
                f"#{trial.index:03d}", trial.setting(), str(trial.seed), str(trial.epochs or 0)
            )
        return Group(head, table)

    def stop(self, state) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
        counts = state.counts()
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        self.console.print(f"[bold]{state.status}[/]: {summary}", highlight=False)
        failures = [t for t in state.trials if t.status in ("failed", "diverged")]
        for trial in failures:
            self.console.print(
                f"  {trial.status} #{trial.index:03d} {trial.setting()} "
                f"seed={trial.seed}: {trial.message or ''}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
        best = state.best()
        if best is not None:
            self.console.print(
                f"best {state.monitor} {fmt(best.value)}: #{best.index:03d} "
                f"{best.setting()} seed={best.seed}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
        self.console.print(
            f"next: dnn-lab compare {state.folder}   dnn-lab report {state.folder}",
            highlight=False,
            soft_wrap=True,
        )


def print_trial_plan(console: Console, trials, sweep) -> None:
    from rich import box

    if sweep.search == "optuna":
        console.print(
            f"{sweep.trials} settings x {sweep.repeats} seeds = "
            f"{(sweep.trials or 0) * sweep.repeats} runs, chosen by Optuna's TPE "
            "sampler as results come in, from:",
            highlight=False,
        )
        for key, spec in {
            **{k: {"choice": v} for k, v in sweep.grid.items()},
            **sweep.space,
        }.items():
            console.print(f"  {key} ~ {spec}", highlight=False, markup=False)
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold")
    table.add_column("trial", justify="right")
    table.add_column("setting")
    table.add_column("seed", justify="right")
    for trial in trials:
        table.add_row(f"{trial.index:03d}", trial.setting(), str(trial.seed))
    console.print(table)
    settings = len({trial.setting() for trial in trials})
    console.print(
        f"{len(trials)} runs: {settings} settings x {sweep.repeats} seeds ({sweep.search} search)",
        highlight=False,
    )
