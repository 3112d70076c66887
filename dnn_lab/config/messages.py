"""Pydantic's validation errors as one line per problem, in the words of the config."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from dnn_lab.config.schema import Config
from dnn_lab.errors import ConfigProblem, did_you_mean, short


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Config
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = next(
            (
                arg
                for arg in (getattr(annotation, "__args__", None) or (annotation,))
                if isinstance(arg, type) and issubclass(arg, BaseModel)
            ),
            None,
        )
    return model


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    parent = _model_at(tuple(p for p in loc[:-1] if isinstance(p, str)))
    return list(parent.model_fields) if parent else []


_UNION_TAG = re.compile(r"^(str|int|float|bool|none|[a-z-]+\[.*\])$")


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem: ``key.path: what is wrong (received ...); did you mean ...``."""
    return format_problems(validation_problems(exc), source)


def format_problems(problems: list[ConfigProblem], source: str) -> str:
    """The message of a ``ConfigError``: one problem on one line, several below a heading."""
    found = [problem.message for problem in problems]
    if len(found) == 1:
        return f"{source}: {found[0]}"
    return f"{source}: invalid config\n  " + "\n  ".join(found)


def validation_problems(exc: ValidationError) -> list[ConfigProblem]:
    """Pydantic's errors as one ``ConfigProblem`` per key path and kind of problem."""
    lines: dict[str, ConfigProblem] = {}
    expected: dict[str, list[str]] = {}  # type errors, merged per path (unions report one each)
    received: dict[str, Any] = {}
    for error in exc.errors():
        kind = error["type"]
        raw = tuple(error["loc"])
        # pydantic names union members and validator functions in the path; users do not.
        # The last part of an unknown-key error is the user's key, whatever it looks like.
        keep_last = raw[-1:] if kind == "extra_forbidden" else ()
        head = raw[: len(raw) - len(keep_last)]
        loc = tuple(p for p in head if not (isinstance(p, str) and _UNION_TAG.match(p)))
        loc += keep_last
        path = ".".join(str(p) for p in loc) or "(top level)"
        if kind == "extra_forbidden":
            allowed = _allowed_keys(loc)
            parent = "".join(f"{p}." for p in loc[:-1])
            text = f"{path}: unknown key" + did_you_mean(str(loc[-1]), allowed, prefix=parent)
            text += f" Allowed here: {', '.join(allowed)}" if allowed else ""
        elif kind == "dnn_lab":
            param = (error.get("ctx") or {}).get("param")
            if param:  # a parameter of a named spec: train.optimizer.learning_rate
                path = f"{path}.{param}"
            # cross-field checks name their keys in full already
            text = error["msg"] if f"{path}." in error["msg"] else f"{path}: {error['msg']}"
        elif kind == "literal_error":
            options = re.findall(r"'([^']*)'", error.get("ctx", {}).get("expected", ""))
            text = f"{path}: received {short(error['input'])}; allowed: {', '.join(options)}"
            text += did_you_mean(str(error["input"]), options)
        elif kind == "missing":
            text = f"{path}: required key is missing"
        elif kind.endswith("_type") or kind.endswith("_parsing"):
            want = error["msg"].replace("Input should be ", "").replace("a valid ", "")
            expected.setdefault(path, []).append(want)
            received[path] = error["input"]
            continue
        else:
            message = error["msg"][0].lower() + error["msg"][1:]
            text = f"{path}: {message}; received {short(error['input'])}"
        lines.setdefault(path + text, ConfigProblem(key=path, message=text))
    for path, wants in expected.items():
        if not any(key.startswith(path) for key in lines):  # a specific message says more
            want = " or ".join(dict.fromkeys(wants))
            text = f"{path}: expected {want}; received {short(received[path])}"
            lines[path] = ConfigProblem(key=path, message=text)
    return list(lines.values())
