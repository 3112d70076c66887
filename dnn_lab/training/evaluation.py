"""After training: best-epoch bookkeeping, the test set, and MC-dropout estimates."""

from __future__ import annotations

from typing import Any

import numpy as np

from dnn_lab.config.head import Head
from dnn_lab.direction import best_row, is_finite_number

EVAL_BATCH_SIZE = 4096  # evaluation has no gradients; big batches are just faster


def summarize_history(rows: list[dict[str, Any]], head: Head) -> dict[str, Any]:
    """Final and best values from the per-epoch history, and which epoch was best."""
    if not rows:
        return {"epochs_run": 0}
    final = {k: v for k, v in rows[-1].items() if k not in ("epoch", "lr", "seconds")}
    summary: dict[str, Any] = {"epochs_run": len(rows), "final": final, "monitor": head.monitor}
    best = best_row(rows, head.monitor, head.direction)
    if best is not None:
        summary["best_epoch"] = int(best["epoch"])
        summary["best"] = {k: v for k, v in best.items() if k not in ("epoch", "lr", "seconds")}
    seconds = [float(r["seconds"]) for r in rows if is_finite_number(r.get("seconds"))]
    if seconds:
        summary["seconds_per_epoch"] = float(np.median(seconds[1:] or seconds))
        summary["first_epoch_seconds"] = seconds[0]
    return summary


def evaluate(model, x, y) -> dict[str, float]:
    results = model.evaluate(x, y, batch_size=EVAL_BATCH_SIZE, verbose=0, return_dict=True)
    return {k: float(v) for k, v in results.items()}


def mc_dropout(model, x, y, samples: int, task: str) -> dict[str, Any]:
    """Predict ``samples`` times with dropout on; score the mean prediction.

    Only Dropout layers run in training mode: BatchNormalization keeps its
    moving statistics, so this measures dropout's uncertainty and nothing else.
    """
    import keras

    from dnn_lab.training.model import layer_outputs

    dropout_types = (keras.layers.Dropout, keras.layers.AlphaDropout)
    if not any(isinstance(layer, dropout_types) for layer in model.layers):
        return {"skipped": "the model has no dropout layers"}
    x = keras.ops.convert_to_tensor(x)
    is_dropout = lambda layer: isinstance(layer, dropout_types)  # noqa: E731
    draws = [
        keras.ops.convert_to_numpy(layer_outputs(model, x, is_dropout)[-1]) for _ in range(samples)
    ]
    stack = np.stack(draws)  # samples x n x outputs
    mean = stack.mean(axis=0)
    result: dict[str, Any] = {"samples": samples}
    if task == "regression":
        target = np.asarray(y).reshape(mean.shape)
        result["mse"] = float(np.mean((mean - target) ** 2))
        result["mae"] = float(np.mean(np.abs(mean - target)))
        result["prediction_std"] = float(stack.std(axis=0).mean())
        return result
    truth = np.asarray(y)
    truth = truth.argmax(axis=1) if truth.ndim == 2 and truth.shape[1] > 1 else truth.reshape(-1)
    if task == "binary":
        predicted = (mean.reshape(-1) > 0.5).astype(int)
        per_draw = [(d.reshape(-1) > 0.5).astype(int) for d in stack]
    else:
        predicted = mean.argmax(axis=1)
        per_draw = [d.argmax(axis=1) for d in stack]
    draw_accuracy = [float(np.mean(p == truth)) for p in per_draw]
    result["accuracy"] = float(np.mean(predicted == truth))
    result["single_draw_accuracy_mean"] = float(np.mean(draw_accuracy))
    result["single_draw_accuracy_std"] = float(np.std(draw_accuracy))
    # spread of the predicted probability of the chosen class, averaged over samples
    chosen = predicted if task != "binary" else np.zeros_like(predicted)
    probabilities = stack[:, np.arange(len(chosen)), chosen]
    result["probability_std"] = float(probabilities.std(axis=0).mean())
    return result
