"""How smoke runs are shared out over workers (no training here)."""

from __future__ import annotations

from dnn_lab.ci.smoke import find_configs, plan
from dnn_lab.training.smoke import SmokeRequest
from tests.conftest import TINY, merge, write_yaml


def requests(tmp_path, configs: dict[str, dict]) -> list[SmokeRequest]:
    for name, extra in configs.items():
        write_yaml(tmp_path / name, merge(TINY, extra))
    return [SmokeRequest(config=str(p), steps=5, samples=64) for p in find_configs([tmp_path])]


def names(lanes) -> list[list[str]]:
    return [[r.config.rsplit("/", 1)[1] for r in lane.requests] for lane in lanes]


def test_configs_of_one_program_stay_on_one_worker_one_after_the_other(tmp_path):
    found = requests(
        tmp_path,
        {
            "a.yaml": {"seed": 1},
            "b.yaml": {"model": {"units": 8}},
            "c.yaml": {"seed": 2, "name": "other"},  # a's program
            "d.yaml": {"model": {"units": 12}},
        },
    )
    lanes = names(plan(found, 2))
    assert len(lanes) == 2
    (with_a,) = [lane for lane in lanes if "a.yaml" in lane]
    assert with_a.index("c.yaml") == with_a.index("a.yaml") + 1
    assert sorted(n for lane in lanes for n in lane) == ["a.yaml", "b.yaml", "c.yaml", "d.yaml"]


def test_each_backend_gets_a_worker_of_its_own(tmp_path):
    found = requests(tmp_path, {"tf.yaml": {}, "jax.yaml": {"backend": "jax"}})
    lanes = plan(found, 1)
    assert sorted(names(lanes)) == [["jax.yaml"], ["tf.yaml"]]
    assert sorted(lane.backend for lane in lanes) == ["jax", "tensorflow"]


def test_one_worker_takes_everything_in_order_of_groups(tmp_path):
    found = requests(
        tmp_path, {"a.yaml": {}, "b.yaml": {"model": {"units": 8}}, "bad.yaml": {"x": 1}}
    )
    (lane,) = names(plan(found, 1))
    assert sorted(lane) == ["a.yaml", "b.yaml", "bad.yaml"]
