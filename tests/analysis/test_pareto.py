"""Pareto fronts of the metric against the parameter count and seconds per epoch."""

from __future__ import annotations

import json

from dnn_lab.analysis import pareto
from dnn_lab.analysis.study import group_runs
from dnn_lab.direction import Direction
from dnn_lab.store import runs
from dnn_lab.store.collect import collect
from tests.conftest import fake_run
from tests.sweeps.conftest import acc_history, cli


def test_pareto_front_by_hand():
    pairs = [(0.90, 100), (0.95, 200), (0.85, 150), (0.95, 300), (0.80, 50)]
    assert pareto.pareto_front(pairs, Direction.MAX) == [True, True, False, False, True]
    # for a loss lower is better: (0.85, 150) is beaten by (0.80, 50)
    assert pareto.pareto_front(pairs, Direction.MIN) == [False, False, False, False, True]


def costed_sweep(root):
    """Three widths over two seeds: params grow with width, accuracy saturates; 16 is slowest."""
    spec = {8: (0.80, 1000, 0.01), 16: (0.90, 2000, 0.05), 32: (0.91, 4000, 0.02)}
    for units, (score, params, seconds) in spec.items():
        for seed in (0, 1):
            path = fake_run(
                root,
                f"u{units}-{seed}",
                {"name": f"u{units}", "seed": seed, "model": {"units": units}},
                acc_history(score - 0.1, score + 0.002 * seed),
            )
            info = json.loads((path / runs.RUN_FILE).read_text())
            info["params"] = {"total": params, "trainable": params, "non_trainable": 0}
            runs.write_json(path / runs.RUN_FILE, info)
            metrics = json.loads((path / runs.METRICS_FILE).read_text())
            metrics["seconds_per_epoch"] = seconds
            runs.write_json(path / runs.METRICS_FILE, metrics)
    return root


def test_fronts_of_a_study(tmp_path):
    result = pareto.tradeoffs(group_runs(collect([costed_sweep(tmp_path)])[0]))
    fronts = {p.setting.values["model.units"]: p.fronts for p in result.points}
    # every width buys accuracy with parameters: all three on that front
    assert fronts == {
        32: ["params", "seconds_per_epoch"],
        16: ["params"],
        8: ["params", "seconds_per_epoch"],
    }
    assert [p.setting.values["model.units"] for p in result.front("params")] == [8, 16, 32]
    assert "front against s/epoch: model.units=8" in pareto.summary(result)


def test_compare_pareto_with_a_plot(tmp_path):
    folder = costed_sweep(tmp_path / "sweep")
    target = tmp_path / "pareto.png"
    result = cli("compare", folder, "--pareto", "--format", "json", "--plot", target)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output[: result.output.rindex("}") + 1])
    rows = {r["units"]: r for r in payload["settings"]}
    assert rows["16"]["front"] == "params" and rows["16"]["params"] == 2000
    assert target.read_bytes()[:4] == b"\x89PNG"
