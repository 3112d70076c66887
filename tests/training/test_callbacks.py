"""The monitored metric, resolved once in the head and watched by every callback."""

from __future__ import annotations

import pytest

from dnn_lab.config.head import Monitor, resolve_head
from dnn_lab.config.loading import validate_config
from dnn_lab.direction import Direction
from tests.conftest import TINY, merge, quiet_console

WATCHING = {
    "early_stopping": {"patience": 2},
    "checkpoint": True,
    "schedule": {"kind": "plateau", "patience": 1},
}


@pytest.mark.parametrize(
    ("train", "validation", "early", "plateau"),
    [
        (WATCHING, 0.2, ("val_accuracy", "max"), ("val_loss", "min")),
        (WATCHING, 0.0, ("accuracy", "max"), ("loss", "min")),
        (
            {**WATCHING, "early_stopping": {"monitor": "val_loss"}},
            0.2,
            ("val_loss", "min"),
            ("val_loss", "min"),
        ),
        (
            {**WATCHING, "schedule": {"kind": "plateau", "monitor": "val_accuracy"}},
            0.2,
            ("val_accuracy", "max"),
            ("val_accuracy", "max"),
        ),
    ],
)
def test_the_head_resolves_each_monitor_once(train, validation, early, plateau):
    config = validate_config(
        merge(TINY, {"train": train, "data": {"validation_split": validation}})
    )
    head = resolve_head(config, "multiclass", 10)
    assert (head.early_stopping.metric, head.early_stopping.mode) == early
    assert (head.plateau.metric, head.plateau.mode) == plateau
    assert head.best == Monitor(metric=head.monitor, direction=head.direction)


def test_a_head_without_those_callbacks_watches_nothing_more():
    head = resolve_head(validate_config(merge(TINY, {})), "multiclass", 10)
    assert head.early_stopping is None and head.plateau is None
    assert head.best == Monitor(metric="val_accuracy", direction=Direction.MAX)


def test_every_callback_watches_what_the_head_resolved(tmp_path):
    from dnn_lab.data.prepare import prepare_data
    from dnn_lab.training import backend

    config = validate_config(
        merge(TINY, {"train": {**WATCHING, "early_stopping": {"monitor": "val_loss"}}})
    )
    backend.configure(config.backend, "cpu")
    import keras

    from dnn_lab.training.callbacks import RunCallbacks, for_run
    from dnn_lab.training.pipeline import StepGroups
    from dnn_lab.training.signals import StopSignals

    data = prepare_data(config.data, config.seed)
    head = resolve_head(config, data.task, data.n_classes)
    hooks = for_run(
        config=config,
        head=head,
        data=data,
        run_dir=tmp_path,
        steps=StepGroups(samples=len(data.x_train), batch_size=64, per_call=1),
        console=quiet_console(),
        signals=StopSignals(),
    )
    assert isinstance(hooks, RunCallbacks)
    assert hooks.ordered[-2:] == [hooks.progress, hooks.recorder]
    watched = {
        type(c).__name__: (c.monitor, c.mode)
        for c in hooks.ordered
        if isinstance(
            c,
            (
                keras.callbacks.EarlyStopping,
                keras.callbacks.ReduceLROnPlateau,
                keras.callbacks.ModelCheckpoint,
            ),
        )
    }
    assert watched == {
        "EarlyStopping": ("val_loss", "min"),
        "ReduceLROnPlateau": ("val_loss", "min"),
        "ModelCheckpoint": ("val_accuracy", "max"),
    }

    with pytest.raises(TypeError):  # keyword arguments only: seven in a row were easy to swap
        for_run(config, head, data, tmp_path, None, quiet_console(), StopSignals())
