"""A fuzzed config loader: random and mutated documents give a Config or a DnnLabError.

Never another exception, never a hang (each case has a 2-second deadline). Each run of the
suite feeds 4 x 300 = 1,200 documents; 16,000 fresh random ones also passed when the fuzzer
was written.
"""

from __future__ import annotations

import math
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnn_lab.config.loading import apply_overrides, load_config, validate_config
from dnn_lab.config.schema import Config
from dnn_lab.errors import DnnLabError
from tests.conftest import TINY, merge

# 300 fixed cases per test in CI; DNN_LAB_FUZZ_CASES=5000 explores fresh random ones
FUZZ_CASES = int(os.environ.get("DNN_LAB_FUZZ_CASES", "300"))
fuzz = settings(
    max_examples=FUZZ_CASES,
    deadline=2000,
    derandomize=FUZZ_CASES <= 300,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

KNOWN_KEYS = [
    "name",
    "seed",
    "backend",
    "device",
    "data",
    "model",
    "train",
    "sweep",
    "dataset",
    "validation_split",
    "test_split",
    "scaling",
    "task",
    "one_hot",
    "hidden_layers",
    "units",
    "activation",
    "initializer",
    "dropout",
    "batch_norm",
    "layers",
    "l1",
    "l2",
    "max_norm",
    "optimizer",
    "learning_rate",
    "momentum",
    "epochs",
    "batch_size",
    "schedule",
    "kind",
    "early_stopping",
    "patience",
    "grid",
    "space",
    "repeats",
    "trials",
    "search",
    "init_from",
    "run",
    "mc_dropout",
    "samples",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "relu",
            "rellu",
            "adam",
            "sgd",
            "digits",
            "before",
            "auto",
            "1e-3",
            "he_normal",
            "exponential",
            "-1",
            "nan",
            ".inf",
        ]
    ),
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(min_size=1, max_size=12))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=6)
    ),
    max_leaves=30,
)


def check(load) -> None:
    try:
        result = load()
    except DnnLabError as error:
        assert str(error).strip()
        return
    assert isinstance(result, Config)


@fuzz
@given(documents)
def test_random_documents(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("fuzz") / "c.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    check(lambda: load_config(path))


@fuzz
@given(
    st.dictionaries(
        st.sampled_from(["data", "model", "train", "sweep", "seed", "name"]), documents, max_size=4
    ),
    st.sampled_from(["data", "model", "train"]),
    st.sampled_from(KNOWN_KEYS),
    scalars,
)
def test_mutated_valid_configs(tmp_path_factory, extra, section, key, value):
    data = merge(TINY, {k: v for k, v in extra.items() if isinstance(v, dict)})
    data.setdefault(section, {})
    if isinstance(data[section], dict):
        data[section][key] = value
    check(lambda: validate_config(data))


@fuzz
@given(
    st.binary(max_size=400),
    st.sampled_from(
        [
            b"name: x\n",
            b"a: &a [1,2]\nb: *a\n",
            b"seed: !!python/object:os.system {}\n",
            b"seed: 1\nseed: 2\n",
            b"model: " + b"[" * 200 + b"]" * 200 + b"\n",
            b"train: {epochs: .nan}\n",
            b"\xff\xfe",
            b"",
        ]
    ),
    st.integers(min_value=0, max_value=400),
)
def test_mutated_bytes(tmp_path_factory, noise, base, cut):
    path = tmp_path_factory.mktemp("fuzz") / "c.yaml"
    mixed = base[:cut] + noise + base[cut:]
    path.write_bytes(mixed)
    check(lambda: load_config(path))


@fuzz
@given(
    st.lists(
        st.one_of(
            st.text(max_size=30),
            st.builds(
                lambda k, v: f"{k}={v}",
                st.sampled_from(
                    [
                        "train.epochs",
                        "model.units",
                        "train.optimizer.momentum",
                        "model.layers.0.units",
                        "data",
                        "seed.x",
                        "model..units",
                        "train.optimizer",
                        "x.y.z",
                    ]
                ),
                st.sampled_from(
                    [
                        "2",
                        "[64,32]",
                        "{a: 1}",
                        "nan",
                        "-5",
                        "",
                        "relu",
                        "1e-3",
                        "&a [1]",
                        "!!python/name:os.system",
                        "[" * 50,
                    ]
                ),
            ),
        ),
        max_size=4,
    )
)
def test_set_overrides(overrides):
    check(lambda: validate_config(apply_overrides(merge(TINY, {}), overrides)))


def test_nan_and_infinity_are_rejected_where_numbers_matter():
    for value in (math.nan, math.inf, -math.inf):
        try:
            validate_config(merge(TINY, {"data": {"validation_split": value}}))
        except DnnLabError as error:
            assert "data.validation_split" in str(error)
        else:
            raise AssertionError(f"validation_split={value} was accepted")
