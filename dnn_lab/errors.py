"""The errors dnn-lab reports to users, and the exit codes they map to.

Anything that is the user's to fix (a config, a data file, an argument) is a
``DnnLabError``: the CLI prints its message without a traceback and exits 2.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import reprlib
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_BUG = 1
EXIT_USER_ERROR = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130  # SIGINT, as a shell reports it
EXIT_TERMINATED = 143  # SIGTERM


def exit_code_for(signum: int) -> int:
    """The exit code of a run a signal stopped: 143 for SIGTERM, 130 for SIGINT."""
    return EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED


class DnnLabError(Exception):
    """A problem the user can fix; its message says what and where."""

    exit_code = EXIT_USER_ERROR


class Interrupted(DnnLabError):
    """SIGINT or SIGTERM before a run directory existed: the run ends, nothing was written."""

    def __init__(self, signum: int):
        self.signum = signum
        self.exit_code = exit_code_for(signum)
        super().__init__(
            f"stopped by {signal.Signals(signum).name} before training began; "
            "no run directory was written"
        )


@dataclass(frozen=True, kw_only=True)
class ConfigProblem:
    """One thing wrong with a config: where (a dotted key path) and what."""

    key: str  # "train.optimizer.learning_rate"; "" when it is the file as a whole
    message: str  # the line a user reads, key path included


class ConfigError(DnnLabError):
    """A config file or ``--set`` override that does not validate.

    ``errors`` lists each problem with its key path, so a program (or a notebook) can
    tell which key to change without parsing the message.
    """

    def __init__(self, message: str, errors: Iterable[ConfigProblem] | None = None):
        super().__init__(message)
        self.errors: list[ConfigProblem] = (
            list(errors) if errors is not None else [ConfigProblem(key="", message=message)]
        )

    @classmethod
    def at(cls, key: str, message: str) -> ConfigError:
        """One problem with the value at ``key`` (a dotted key path)."""
        return cls(message, [ConfigProblem(key=key, message=message)])


class DataError(DnnLabError):
    """A dataset that cannot be loaded or does not fit the config."""


class RunDirError(DnnLabError):
    """A run directory that cannot be created, read or used."""


def close_match(word: str, options: Iterable[str]) -> str | None:
    """The option a typo most likely meant, ignoring case; None when nothing is close."""
    by_lower = {str(option).lower(): option for option in options}
    word = str(word).lower()
    matches = difflib.get_close_matches(word, list(by_lower), n=1, cutoff=0.6)
    if matches:
        return by_lower[matches[0]]
    # "slope" for "negative_slope": a part of exactly one option
    containing = [option for lower, option in by_lower.items() if len(word) >= 3 and word in lower]
    return containing[0] if len(containing) == 1 else None


def did_you_mean(word: str, options: Iterable[str], prefix: str = "") -> str:
    """The hint every message ends its problem with: ``"; did you mean 'x'?"``, or ``""``.

    Args:
        word: what the user wrote.
        options: what is allowed there.
        prefix: put before the match in the hint (``"model."`` suggests ``'model.units'``);
            default none.
    """
    hint = close_match(word, options)
    return f"; did you mean {prefix + str(hint)!r}?" if hint is not None else ""


def short(value: Any, limit: int = 60) -> str:
    """A received value as a message shows it: its repr, cut to ``limit`` characters."""
    text = reprlib.repr(value) if isinstance(value, (list, dict, tuple, set)) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
