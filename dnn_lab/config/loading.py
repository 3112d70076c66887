"""Reading a config: safe YAML, ``--set`` overrides, validation. Imports no Keras."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dnn_lab.config.messages import format_problems, validation_problems
from dnn_lab.config.schema import Config
from dnn_lab.errors import ConfigError, short

MAX_CONFIG_BYTES = 256 * 1024
MAX_YAML_NODES = 20_000


class _StrictLoader(yaml.SafeLoader):
    """``safe_load`` that rejects duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"a key must be plain text, not {type(key).__name__}",
                key_node.start_mark,
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen[key] = loader.construct_object(value_node, deep=deep)
    return seen


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 reads `1e-3` as a string; everyone writing a learning rate means a number.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _count_nodes(node: yaml.Node, budget: list[int]) -> None:
    """Refuse alias bombs: count nodes as they would expand, with a hard ceiling."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(
            f"the config expands to more than {MAX_YAML_NODES} values (a YAML alias bomb?)"
        )
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _count_nodes(child, budget)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _count_nodes(key, budget)
            _count_nodes(value, budget)


def parse_yaml(text: str, source: str) -> Any:
    """Parse one YAML document safely: no tags that build objects, no duplicate keys."""
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _count_nodes(node, [MAX_YAML_NODES])
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except RecursionError:
        raise ConfigError(f"{source}: the YAML is nested too deeply") from None
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: not valid YAML{where}: {problem}") from None


def file_kind(mode: int) -> str | None:
    """What a file that is not a regular file is, in words; None for a regular file."""
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return None if stat.S_ISREG(mode) else "not a regular file"


def read_config_bytes(path: Path, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """A config file's bytes, at most ``limit``; anything but a regular file is refused.

    The file is opened without blocking (a FIFO would otherwise wait for a writer) and
    read no further than ``limit + 1`` bytes, so ``/dev/zero`` or a growing file cannot
    fill the memory before the size is checked.

    Raises:
        ConfigError: the file is missing, unreadable, not a regular file or too large.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    kind = file_kind(os.fstat(fd).st_mode)
    if kind is not None:
        os.close(fd)
        raise ConfigError(f"{path} is {kind}, not a config file")
    with os.fdopen(fd, "rb") as file:
        try:
            raw = file.read(limit + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > limit:
        raise ConfigError(f"{path}: the file is over the {limit}-byte limit")
    return raw


def read_config_file(path: Path) -> dict[str, Any]:
    path = Path(path)
    raw = read_config_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    data = parse_yaml(text, str(path))
    if data is None:
        raise ConfigError(f"{path}: the config is empty; see configs/adam_relu.yaml for an example")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a config is a mapping of sections (name, seed, data, model, train); "
            f"received a {type(data).__name__}"
        )
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``train.epochs=2`` -> (["train", "epochs"], 2); the value is read as YAML."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, for example --set train.epochs=2")
    parts = key.split(".")
    if any(not part for part in parts):
        raise ConfigError(f"--set {text!r}: {key!r} is not a dotted key path")
    return parts, parse_yaml(value, f"--set {key}")


_SECTIONS = ("data", "model", "train")


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides to a raw config; the result is validated like the file.

    Overriding ``model.units`` (or ``model.layers``) with a list also sets the layer
    count, unless ``model.hidden_layers`` is overridden too.
    """
    return apply_values(data, (parse_override(text) for text in overrides))


def dotted_values(values: dict[str, Any]) -> list[tuple[list[str], Any]]:
    """``{"train.epochs": 3}`` (Python's ``--set``) as key paths and values, checked."""
    pairs = []
    for key, value in values.items():
        parts = str(key).strip().split(".")
        if any(not part for part in parts):
            raise ConfigError.at(str(key), f"set: {key!r} is not a dotted key path")
        pairs.append((parts, value))
    return pairs


def apply_values(data: dict[str, Any], pairs: Iterable[tuple[list[str], Any]]) -> dict[str, Any]:
    """``apply_overrides`` for values already parsed: ``(["train", "epochs"], 2)`` pairs."""
    overridden: set[str] = set()
    for parts, value in pairs:
        text = f"{'.'.join(parts)}={value}"
        overridden.add(".".join(parts))
        node: Any = data
        for depth, part in enumerate(parts[:-1]):
            here = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                node = _list_item(node, part, here)
                continue
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif isinstance(child, str):
                # `train.optimizer.momentum=0.9` on `optimizer: sgd`: {name: sgd, momentum: 0.9}
                child = node[part] = {"name": child}
            elif not isinstance(child, (dict, list)):
                raise ConfigError.at(
                    here, f"--set {text}: {here} is {short(child)}, not a section with keys"
                )
            node = child
        last = parts[-1]
        if isinstance(node, list):
            node[_list_index(node, last, ".".join(parts))] = value
        elif len(parts) == 1 and last in _SECTIONS and isinstance(value, dict):
            # `--set model={activation: relu, initializer: he_normal}` changes those keys and
            # keeps the rest of the section; a sweep axis can pair values this way
            current = node.get(last)
            node[last] = {**current, **value} if isinstance(current, dict) else value
            overridden.update(f"{last}.{key}" for key in value)
        else:
            node[last] = value
    model = data.get("model")
    if isinstance(model, dict) and "model.hidden_layers" not in overridden:
        for key in ("units", "layers"):
            if f"model.{key}" in overridden and isinstance(model.get(key), list):
                model.pop("hidden_layers", None)
    return data


def _list_index(items: list, part: str, here: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise ConfigError.at(
            here, f"--set: {here}: expected an index below {len(items)}; received {part!r}"
        )
    return int(part)


def _list_item(items: list, part: str, here: str) -> Any:
    return items[_list_index(items, part, here)]


def validate_config(data: dict[str, Any], source: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc)
        raise ConfigError(format_problems(problems, source), problems) from None


def load_config(
    path: Path | None, overrides: Iterable[str] = (), name: str | None = None
) -> Config:
    """Read, override and validate a config file; ``path=None`` starts from the defaults."""
    data = read_config_file(path) if path is not None else {}
    data.setdefault("name", Path(path).stem if path is not None else "run")
    data = apply_overrides(data, overrides)
    if name is not None:
        data["name"] = name
    return validate_config(data, str(path) if path is not None else "config")
