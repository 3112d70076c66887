"""How results show a value: one function for numbers, one for config values. No Keras.

Every table, line and report of the results package formats through here, so the same
number reads the same in ``compare``, ``show``, ``runs``, the seed statistics and the
diagnostics.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from dnn_lab.store.collect import is_named_spec

# metric: 4 decimals (3 significant digits when tiny or huge); short: 3 decimals (seconds,
# weight statistics); count: 1,234; scientific: 1.23e-04 (gradient norms); share: 12%.
Style = Literal["metric", "short", "count", "scientific", "share"]


def number(value: Any, style: Style = "metric") -> str:
    """A number as results show it; None is ``-``; anything else goes to ``show_value``."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return show_value(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # nan, inf, -inf
    if style == "count":
        return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    if style == "share":
        return f"{value:.0%}"
    if style == "scientific":
        return f"{value:.2e}"
    if isinstance(value, int):
        return str(value)  # epochs, counts in a metric column
    if style == "short":
        return f"{value:.3f}"
    if value != 0 and not 1e-3 <= abs(value) < 1e5:
        return f"{value:.3g}"
    return f"{value:.4f}"


def show_value(value: Any) -> str:
    """A config value as the YAML it came from: ``sgd(momentum=0.9)``, ``[64,32]``, ``0.001``."""
    if isinstance(value, dict) and is_named_spec(value):
        params = ", ".join(f"{k}={v}" for k, v in value.items() if k != "name")
        return f"{value['name']}({params})"
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "-"
    if isinstance(value, list):
        return "[" + ",".join(show_value(v) for v in value) + "]"
    return str(value)


def short_titles(keys: list[str]) -> dict[str, str]:
    """The shortest dotted suffix of each config key that is still unique among them."""
    parts = {key: key[len("config.") :].split(".") for key in keys}
    titles = {}
    for key, words in parts.items():
        for size in range(1, len(words) + 1):
            title = ".".join(words[-size:])
            if sum(1 for other in parts.values() if ".".join(other[-size:]) == title) == 1:
                break
        # never look like one of the fixed columns: train.epochs is not epochs run
        titles[key] = ".".join(words) if title in _FIXED_TITLES else title
    return titles


_FIXED_TITLES = {"run", "status", "params", "trainable", "epochs", "s/epoch", "curve"}
