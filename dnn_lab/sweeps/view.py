"""A sweep on the terminal: the trial plan, a live table while it runs, the summary."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dnn_lab.render.formatting import number, printable
from dnn_lab.store.status import Status
from dnn_lab.sweeps.plan import draw_notes, search_space
from dnn_lab.sweeps.state import FINISHED, LOGS_DIR, SCORED

FAILED_STATUSES = (Status.FAILED, Status.DIVERGED)


class SweepView:
    """A live table of a sweep on a terminal; one line per finished trial elsewhere."""

    def __init__(self, console: Console, errors: Console | None = None):
        self.console = console
        self.errors = errors or console  # warnings: stderr on the command line
        self.live = None
        self.reported: set[int] = set()
        self._last = 0.0

    def note(self, text: str) -> None:
        self.console.print(
            printable(text, newlines=True), highlight=False, soft_wrap=True, markup=False
        )

    def warn(self, text: str) -> None:
        self.errors.print(f"warning: {text}", highlight=False, soft_wrap=True, markup=False)

    def trial_plan(self, trials, sweep) -> None:
        """A dry run of a new sweep: the trials it would run."""
        print_trial_plan(self.console, trials, sweep)

    def resume_plan(self, state) -> None:
        """A dry run of ``--resume``: the trials that would run again."""
        print_resume_plan(self.console, state)

    def start(self, state, runner) -> None:
        total = state.planned or len(state.trials)
        line = Text("sweep", style="bold")
        line.append(f" {state.folder}: {total} trials, {runner.workers} at a time")
        self.console.print(line, highlight=False, soft_wrap=True)
        for note in draw_notes(state.trials, state.repeats, state.search):
            self.note(f"note: {note}")
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

        for trial in state.trials:
            if trial.status in FINISHED | {Status.INTERRUPTED} and trial.index not in self.reported:
                self.reported.add(trial.index)
                done = sum(1 for t in state.trials if t.status in FINISHED)
                total = state.planned or len(state.trials)
                value = "-" if trial.value is None else number(trial.value)
                line = (
                    f"[{done}/{total}] {trial.status} #{trial.index:03d} {trial.setting()} "
                    f"seed={trial.seed}"
                    + (f" epochs={trial.budget}" if trial.budget is not None else "")
                    + f": {state.monitor} {value}"
                )
                (self.live.console if self.live else self.console).print(
                    printable(line), highlight=False, soft_wrap=True, markup=False
                )
        now = time.monotonic()
        if self.live is not None and now - self._last > 0.2:
            self._last = now
            self.live.update(self._render(state, runner))

    def _render(self, state, runner):
        from rich import box
        from rich.console import Group

        total = state.planned or len(state.trials)
        done = sum(1 for t in state.trials if t.status in FINISHED)
        best = state.best()
        head = Text(
            f"{done}/{total} done, {len(runner.running)} running, "
            f"{sum(1 for t in state.trials if t.status in FAILED_STATUSES)} failed"
            + (
                f"; best {state.monitor} {number(best.value)} "
                f"(#{best.index:03d} {printable(best.setting())})"
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
                f"#{trial.index:03d}",
                Text(printable(trial.setting())),
                str(trial.seed),
                str(trial.epochs or 0),
            )
        return Group(head, table)

    def stop(self, state) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
        counts = state.counts()
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        line = Text(str(state.status), style="bold")
        line.append(f": {summary}")
        self.console.print(line, highlight=False)
        failures = [t for t in state.trials if t.status in FAILED_STATUSES]
        for trial in failures:
            self.console.print(
                printable(
                    f"  {trial.status} #{trial.index:03d} {trial.setting()} "
                    f"seed={trial.seed}: {trial.message or ''}"
                ),
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
        if state.search == "optuna":  # its settings were drawn as it ran
            for note in draw_notes(state.trials, state.repeats, state.search):
                self.note(f"note: {note}")
        best = state.best()
        if best is not None:
            self.console.print(
                printable(
                    f"best {state.monitor} {number(best.value)}: #{best.index:03d} "
                    f"{best.setting()} seed={best.seed}"
                ),
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
        elif state.status != Status.INTERRUPTED and not any(
            t.status in SCORED for t in state.trials
        ):
            self.note(
                f"no trial completed, so there is no best {state.monitor} and nothing to "
                f"compare; each trial's log is in {state.folder / LOGS_DIR}"
            )
            return
        self.console.print(
            f"next: dnn-lab compare {state.folder}   dnn-lab report {state.folder}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )


def print_trial_plan(console: Console, trials, sweep) -> None:
    from rich import box

    if sweep.search == "optuna":
        goal = f", trading {' against '.join(sweep.objectives)}" if sweep.objectives else ""
        console.print(
            f"{sweep.trials} settings x {sweep.repeats} seeds = "
            f"{(sweep.trials or 0) * sweep.repeats} runs, chosen by Optuna's TPE "
            f"sampler as results come in{goal}, from:",
            highlight=False,
        )
        for key, spec in search_space(sweep).items():
            console.print(f"  {key} ~ {spec}", highlight=False, markup=False)
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold")
    table.add_column("trial", justify="right")
    table.add_column("setting")
    table.add_column("seed", justify="right")
    for trial in trials:
        table.add_row(f"{trial.index:03d}", Text(printable(trial.setting())), str(trial.seed))
    console.print(table)
    settings = len({trial.setting() for trial in trials})
    seeds = len(trials) // max(1, settings)
    console.print(
        f"{len(trials)} runs: {settings} settings x {seeds} seeds ({sweep.search} search)",
        highlight=False,
    )
    for note in draw_notes(trials, sweep.repeats, sweep.search):
        console.print(f"note: {note}", highlight=False, soft_wrap=True, markup=False)
    if sweep.search == "hyperband":
        budget = trials[0].budget if trials else "?"
        console.print(
            f"each trains {budget} epochs first; then only the best 1/{sweep.eta} of the "
            f"settings (mean over seeds) train {sweep.eta} times as many, and so on up to "
            "the config's train.epochs",
            highlight=False,
        )


def print_resume_plan(console: Console, state) -> None:
    """What ``sweep --resume DIR`` would run, read from ``sweep.json`` alone (``--dry-run``)."""
    from rich import box

    todo = [t for t in state.trials if t.status not in FINISHED]
    if todo:
        table = Table(box=box.SIMPLE_HEAD, header_style="bold")
        table.add_column("trial", justify="right")
        table.add_column("setting")
        table.add_column("seed", justify="right")
        table.add_column("now")
        for trial in todo:
            table.add_row(
                f"{trial.index:03d}",
                Text(printable(trial.setting())),
                str(trial.seed),
                Text(printable(trial.status)),
            )
        console.print(table)
    kept = {s: n for s, n in state.counts().items() if s in FINISHED}
    summary = ", ".join(f"{n} {s}" for s, n in sorted(kept.items())) or "none"
    console.print(
        f"{len(todo)} trials would run; kept: {summary} ({state.folder})",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    if state.search == "optuna":
        asked = len({t.group for t in state.trials if t.group is not None})
        more = max(0, state.planned // max(1, state.repeats) - asked)
        if more:
            console.print(
                f"then {more} more settings x {state.repeats} seeds, chosen by Optuna",
                highlight=False,
            )
