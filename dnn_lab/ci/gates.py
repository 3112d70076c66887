"""``dnn-lab check``: gates that fail a CI job on a metric threshold or a regression.

A threshold (``--expect 'val_accuracy>=0.9'``) is checked on each run. A baseline is
compared setting by setting; where either side has several seeds, the verdict comes
from the interval of the difference (Student's t, as the seed statistics compute it):
*regressed* only when the whole interval is worse than the tolerance, *inconclusive*
when it straddles it, *passed* otherwise. A difference smaller than the seed-to-seed
spread is noise, and is called so.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any

from dnn_lab.analysis.study import Setting, t_critical
from dnn_lab.ci.baseline import Group, match
from dnn_lab.direction import Direction, is_finite_number
from dnn_lab.errors import DnnLabError, did_you_mean
from dnn_lab.views.compare import column_for

PASSED = "passed"
FAILED = "failed"  # a threshold not met, or nothing to judge by
REGRESSED = "regressed"
INCONCLUSIVE = "inconclusive"

_OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_FORM = "expected METRIC OP NUMBER with OP one of >=, <=, >, <, e.g. --expect 'val_accuracy>=0.9'"
_EXPECT = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|>|<)\s*(.*?)\s*$")


@dataclass(frozen=True, kw_only=True)
class Expectation:
    """One ``--expect``: a metric, a comparison and a number."""

    text: str
    metric: str
    symbol: str
    threshold: float

    def holds(self, value: float) -> bool:
        return bool(_OPERATORS[self.symbol](value, self.threshold))


def parse_expectation(text: str) -> Expectation:
    """``val_accuracy>=0.9`` -> an Expectation; anything else is one clear error."""
    found = _EXPECT.match(text)
    if found is None:
        raise DnnLabError(f"--expect {text!r}: no comparison; {_FORM}")
    metric, symbol, value = found.groups()
    try:
        threshold = float(value)
    except ValueError:
        raise DnnLabError(
            f"--expect {text!r}: {value!r} is not a number after {metric}{symbol}; {_FORM}"
        ) from None
    if not math.isfinite(threshold):
        raise DnnLabError(f"--expect {text!r}: the threshold must be a finite number")
    return Expectation(text=text, metric=metric, symbol=symbol, threshold=threshold)


@dataclass(frozen=True, kw_only=True)
class Tolerance:
    """How much worse than the baseline is still fine: absolute, or a share of it."""

    amount: float
    relative: bool

    def of(self, baseline: float) -> float:
        return self.amount * abs(baseline) if self.relative else self.amount

    def __str__(self) -> str:
        return f"{self.amount:.4g}" if not self.relative else f"{self.amount * 100:g}%"


def parse_tolerance(text: str) -> Tolerance:
    """``0.01`` (absolute) or ``2%`` (of the baseline's value)."""
    relative = text.strip().endswith("%")
    try:
        amount = float(text.strip().removesuffix("%"))
    except ValueError:
        amount = math.nan
    if not math.isfinite(amount) or amount < 0:
        raise DnnLabError(
            f"--max-drop {text!r}: expected a number >= 0, absolute (0.01) or relative (2%)"
        )
    return Tolerance(amount=amount / 100 if relative else amount, relative=relative)


def resolve_metric(name: str, rows: list[dict[str, Any]], option: str) -> str:
    """The column ``compare`` shows for ``name`` (``val_accuracy`` -> ``best_val_accuracy``)."""
    try:
        return column_for(name, rows)
    except DnnLabError:
        pass
    prefixes = ("best_", "final_", "test_")
    columns = sorted({k for row in rows for k in row if k.startswith(prefixes)})
    metrics = sorted({k.split("_", 1)[1] for k in columns} | set(columns))
    raise DnnLabError(
        f"{option}: no metric {name!r} in these runs{did_you_mean(name, metrics)} "
        f"Metrics: {', '.join(metrics)}"
    )


@dataclass(kw_only=True)
class Gate:
    """One verdict: a JUnit test case, a row of the markdown table."""

    name: str
    subject: str  # a run, or a setting's config name
    metric: str
    verdict: str
    message: str
    value: float | None = None
    reference: float | None = None  # the threshold, or the baseline's mean
    change: float | None = None  # value - reference
    low: float | None = None  # the interval of the difference, where seeds give one
    high: float | None = None
    seeds: int = 1
    baseline_seeds: int = 0

    def fails(self, strict: bool) -> bool:
        return self.verdict in (FAILED, REGRESSED) or (strict and self.verdict == INCONCLUSIVE)

    def mark(self, strict: bool) -> str:
        """✓ passed, ✗ failed, ? inconclusive (and not failing)."""
        if self.fails(strict):
            return "✗"
        return "✓" if self.verdict == PASSED else "?"

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def expectation_gates(expectation: Expectation, column: str, rows: list[dict]) -> list[Gate]:
    """The threshold on each run."""
    gates = []
    for row in rows:
        value = row.get(column)
        name = f"{row['run']}: {expectation.text}"
        if not is_finite_number(value):
            verdict, message = FAILED, f"{row['run']} has no value of {column} ({row['status']})"
            value = None
        elif expectation.holds(value):
            verdict, message = (
                PASSED,
                f"{column} = {value:.4g} {expectation.symbol} " + (f"{expectation.threshold:g}"),
            )
        else:
            verdict = FAILED
            message = (
                f"{column} = {value:.4g}, expected {expectation.symbol} {expectation.threshold:g}"
            )
        gates.append(
            Gate(
                name=name,
                subject=row["run"],
                metric=column,
                verdict=verdict,
                message=message,
                value=value,
                reference=expectation.threshold,
                change=None if value is None else value - expectation.threshold,
            )
        )
    return gates


@dataclass(frozen=True, kw_only=True)
class Difference:
    """candidate - baseline, and its 95% interval (NaN half-width without seeds)."""

    candidate: Setting
    baseline: Setting
    change: float
    half_width: float


def difference(candidate: list[float], baseline: list[float]) -> Difference:
    """The mean difference and its interval: Welch's where both sides have seeds; where one
    side has, its spread stands for both (the seed-to-seed spread is the setting's)."""
    ours, theirs = Setting(values={}, scores=candidate), Setting(values={}, scores=baseline)
    change = ours.mean - theirs.mean
    if ours.n >= 2 and theirs.n >= 2:
        a, b = ours.std**2 / ours.n, theirs.std**2 / theirs.n
        se = math.sqrt(a + b)
        df = (a + b) ** 2 / (a**2 / (ours.n - 1) + b**2 / (theirs.n - 1)) if a + b else 1
        half = t_critical(max(1, int(df))) * se
    elif ours.n >= 2 or theirs.n >= 2:
        spread = ours if ours.n >= 2 else theirs
        se = spread.std * math.sqrt(1 / ours.n + 1 / theirs.n)
        half = t_critical(spread.n - 1) * se
    else:
        half = math.nan
    return Difference(candidate=ours, baseline=theirs, change=change, half_width=half)


def judge(diff: Difference, direction: Direction, tolerance: Tolerance) -> tuple[str, float]:
    """The verdict, and the drop allowed: by the interval where there is one."""
    allowed = tolerance.of(diff.baseline.mean)
    gain = diff.change if direction.higher_is_better else -diff.change
    if math.isnan(diff.half_width):
        return (REGRESSED if gain < -allowed else PASSED), allowed
    if gain + diff.half_width < -allowed:
        return REGRESSED, allowed
    if gain - diff.half_width < -allowed:
        return INCONCLUSIVE, allowed
    return PASSED, allowed


def baseline_gates(
    column: str, candidates: list[Group], baselines: list[Group], tolerance: Tolerance
) -> list[Gate]:
    """Each candidate setting against its baseline setting."""
    direction = Direction.of(column)
    gates = []
    for group in candidates:
        name = f"{group.name}: {column} vs baseline"
        other = match(group, candidates, baselines)
        ours = group.scores.get(column, [])
        theirs = other.scores.get(column, []) if other is not None else []
        if other is None or not ours or not theirs:
            why = (
                "no baseline setting matches it (same settings, or the same config name)"
                if other is None
                else f"no value of {column} in the {'runs' if not ours else 'baseline'}"
            )
            gates.append(
                Gate(name=name, subject=group.name, metric=column, verdict=FAILED, message=why)
            )
            continue
        diff = difference(ours, theirs)
        verdict, allowed = judge(diff, direction, tolerance)
        half = diff.half_width
        interval = "" if math.isnan(half) else f" (95% interval {diff.change - half:+.4g} to "
        interval += "" if math.isnan(half) else f"{diff.change + half:+.4g})"
        better = "higher" if direction.higher_is_better else "lower"
        share = f" ({tolerance})" if tolerance.relative else ""
        message = (
            f"{column} {diff.candidate.mean:.4g} (n={diff.candidate.n}) vs baseline "
            f"{diff.baseline.mean:.4g} (n={diff.baseline.n}): change {diff.change:+.4g}"
            f"{interval}; {better} is better, allowed drop {allowed:.4g}{share}: {verdict}"
        )
        gates.append(
            Gate(
                name=name,
                subject=group.name,
                metric=column,
                verdict=verdict,
                message=message,
                value=diff.candidate.mean,
                reference=diff.baseline.mean,
                change=diff.change,
                low=None if math.isnan(half) else diff.change - half,
                high=None if math.isnan(half) else diff.change + half,
                seeds=diff.candidate.n,
                baseline_seeds=diff.baseline.n,
            )
        )
    return gates


def exit_code(gates: list[Gate], strict: bool) -> int:
    """0 when every gate passed (inconclusive too, unless strict), 1 when one failed."""
    return 1 if any(gate.fails(strict) for gate in gates) else 0
