"""How results show a value: one function for numbers, one for config values. No Keras.

Every table, line and report of the results package formats through here, so the same
number reads the same in ``compare``, ``show``, ``runs``, the seed statistics and the
diagnostics.
"""

from __future__ import annotations

import math
import re
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


# What a name read from a run's files must not send to a terminal as it is: control
# characters (newline, escape sequences, NUL, DEL, C1), bidi overrides and isolates, zero
# width and line separators, and lone surrogates (undecodable bytes).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)


def printable(text: str, newlines: bool = False) -> str:
    """``text`` safe to print: each unsafe character written as its escape (``\\x1b``).

    Args:
        text: a name, path or message read from a run's or sweep's files.
        newlines: keep line breaks and tabs (a summary, a message of several lines).
            Default False: a name is one line.
    """
    if text.isprintable():  # the common case, decided in C
        return text

    def escaped(match: re.Match) -> str:
        char = match.group()
        return char if newlines and char in "\n\t" else repr(char)[1:-1]

    return _UNSAFE.sub(escaped, text)


def show_value(value: Any) -> str:
    """A config value as the YAML it came from: ``sgd(momentum=0.9)``, ``[64,32]``, ``0.001``.

    Text is made ``printable``: every value shown comes from a file someone could have edited.
    """
    return printable(_show_value(value))


def _show_value(value: Any) -> str:
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
