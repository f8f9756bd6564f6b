"""Typed dataclass configs: to and from dicts, ``--set key=value`` overrides, config files.

Values are checked against the dataclass field types (``int``, ``float``, ``bool``, ``str``,
``Literal[...]``, ``X | None``, ``list[X]``/``tuple[X, ...]`` and nested dataclasses); every
problem raises :class:`~quotient.errors.ConfigError` naming the key and the expected type.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union, get_args, get_origin

from ..errors import ConfigError

if TYPE_CHECKING:
    from .rundir import RunDir

__all__ = [
    "apply_overrides",
    "check_ranges",
    "config_from_dict",
    "config_keys",
    "config_to_dict",
    "load_config_file",
    "saved_config",
]

T = TypeVar("T")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null"}


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _fields(cls: type) -> dict[str, Any]:
    hints = _hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def config_keys(cls: type, prefix: str = "") -> list[str]:
    """All dotted keys of a config dataclass, e.g. ``["train.epochs", ..., "channels"]``."""
    keys: list[str] = []
    for name, tp in _fields(cls).items():
        if _is_dataclass_type(tp):
            keys.extend(config_keys(tp, f"{prefix}{name}."))
        else:
            keys.append(prefix + name)
    return keys


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as a nested dict of plain values."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance, got {type(config).__name__}")
    return dataclasses.asdict(config)


def _describe(tp: Any) -> str:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        parts = [_describe(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or none" if type(None) in args else "")
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple):
        inner = [a for a in args if a is not Ellipsis]
        return f"a list of {_describe(inner[0])}s" if inner else "a list"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp)))


def _coerce(value: Any, tp: Any, key: str, from_string: bool) -> Any:
    """Check ``value`` against ``tp`` (parsing it when ``from_string``); return the typed value."""

    def bad(detail: str = "") -> ConfigError:
        shown = value if from_string else json.dumps(value) if _jsonable(value) else repr(value)
        return ConfigError(
            f"bad value for {key}: {shown} is not {_describe(tp)}{detail}")

    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if type(None) in args and (
            value is None or (from_string and str(value).strip().lower() in _NONE)
        ):
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key, from_string)
            except ConfigError:
                continue
        raise bad()
    if origin is Literal:
        for choice in args:
            if (from_string and str(choice) == str(value).strip()) or (
                not from_string and value == choice and type(value) is type(choice)
            ):
                return choice
        raise bad()
    if origin in (list, tuple) or tp in (list, tuple):
        items = value
        if from_string:
            text = str(value).strip()
            items = _parse_json(text, bad) if text.startswith("[") else [
                s.strip() for s in text.split(",") if s.strip()]
            from_string = not text.startswith("[")
        if not isinstance(items, (list, tuple)):
            raise bad()
        inner = [a for a in args if a is not Ellipsis]
        out = [_coerce(v, inner[0], key, from_string) if inner else v for v in items]
        return tuple(out) if (origin or tp) is tuple else out
    if _is_dataclass_type(tp):
        if from_string or not isinstance(value, Mapping):
            keys = ", ".join(config_keys(tp, key + "."))
            raise ConfigError(f"{key} is a group of settings; set one of: {keys}")
        return config_from_dict(tp, value, prefix=key + ".")
    if tp is bool:
        if from_string:
            text = str(value).strip().lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise bad()
        if isinstance(value, bool):
            return value
        raise bad()
    if tp is int:
        if from_string:
            try:
                return int(str(value).strip())
            except ValueError:
                raise bad() from None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad()
    if tp is float:
        if from_string:
            try:
                return float(str(value).strip())
            except ValueError:
                raise bad() from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad()
    if tp is str:
        if from_string or isinstance(value, str):
            return str(value)
        raise bad()
    if origin is dict or tp is dict:
        return _parse_json(str(value), bad) if from_string else value
    return value


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _parse_json(text: str, bad: Any) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise bad(" (could not parse it as JSON)") from None


def _unknown(key: str, cls: type, prefix: str) -> ConfigError:
    valid = config_keys(cls, prefix)
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ConfigError(f"unknown setting {key!r}{hint}; valid keys: {', '.join(valid)}")


def config_from_dict(cls: type[T], data: Mapping[str, Any], *, prefix: str = "") -> T:
    """Build config dataclass ``cls`` from a nested dict; missing keys keep their defaults.

    Raises:
        ConfigError: an unknown key (the message lists the valid ones), or a value of the wrong
            type (the message names the key and the expected type).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"settings{' of ' + prefix.rstrip('.') if prefix else ''} must be a "
                          f"mapping of key to value, got {type(data).__name__}")
    fields = _fields(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name not in fields:
            raise _unknown(prefix + str(name), cls, prefix)
        kwargs[name] = _coerce(value, fields[name], prefix + name, from_string=False)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field without a value
        raise ConfigError(f"incomplete settings for {cls.__name__}: {exc}") from exc


def apply_overrides(config: T, assignments: Iterable[str]) -> T:
    """Return a copy of ``config`` with ``key=value`` assignments applied.

    Keys are dotted for nested configs (``train.epochs=2``); values are parsed to the field's
    type (``true``/``false`` for booleans, ``none`` for optional fields, ``1,2,3`` or a JSON list
    for lists).
    """
    cls = type(config)
    data = config_to_dict(config)
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {assignment!r}")
        parts = key.split(".")
        node, node_cls = data, cls
        for depth, part in enumerate(parts):
            fields = _fields(node_cls)
            if part not in fields:
                raise _unknown(key, cls, "")
            tp = fields[part]
            if depth < len(parts) - 1:
                if not _is_dataclass_type(tp):
                    raise _unknown(key, cls, "")
                node, node_cls = node.setdefault(part, {}), tp
            else:
                node[part] = _coerce(text, tp, key, from_string=True)
    return config_from_dict(cls, data)


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``.json``, ``.yaml`` or ``.yml`` config file into a dict.

    A saved run config (``{"experiment": ..., "config": {...}}``, as in a run's
    ``config.json``) is accepted too; its ``config`` part is returned with the experiment name
    under the key ``"__experiment__"``.

    Raises:
        ConfigError: the file is missing, malformed, not a mapping, has an unsupported suffix,
            or is YAML while PyYAML is not installed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise ConfigError(f"config file {path} must end in .json, .yaml or .yml")
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid JSON: {exc}") from exc
    else:
        try:
            import yaml  # optional dependency
        except ImportError:
            raise ConfigError(
                f"reading {path} needs PyYAML, which is not installed; install it with "
                "'pip install pyyaml' or use a .json config file") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            reason = " ".join(str(exc).split())
            raise ConfigError(f"config file {path} is not valid YAML: {reason}") from exc
        data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of settings, found {type(data).__name__}")
    if "config" in data and "experiment" in data and isinstance(data["config"], dict):
        return {**data["config"], "__experiment__": data["experiment"]}
    return data


def check_ranges(config: Any, *, positive: Iterable[str] = (), non_negative: Iterable[str] = (),
                 fraction: Iterable[str] = ()) -> None:
    """Check numeric settings of ``config`` (for a config's ``__post_init__``).

    ``positive`` fields must be > 0, ``non_negative`` ones >= 0, ``fraction`` ones in (0, 1];
    a tuple field is checked element by element and must not be empty.

    Raises:
        ConfigError: naming the first setting out of range, its value and the allowed range.
    """
    rules = [(positive, lambda v: v > 0, "> 0"), (non_negative, lambda v: v >= 0, ">= 0"),
             (fraction, lambda v: 0 < v <= 1, "in (0, 1]")]
    for names, ok, what in rules:
        for name in names:
            value = getattr(config, name)
            items = value if isinstance(value, (tuple, list)) else (value,)
            if not items or not all(ok(v) for v in items):
                each = "every entry of " if isinstance(value, (tuple, list)) else ""
                raise ConfigError(f"{each}{name} must be {what}"
                                  f"{' and non-empty' if not items else ''}, got {value!r}")


def saved_config(run_dir: RunDir, cls: type[T], *, device: str | None = "cpu") -> T:
    """The settings a run was trained with (its ``config.json``), as a ``cls`` instance.

    With ``device`` (default ``"cpu"``) a nested ``train.device`` is replaced, so a run trained
    on a GPU can be evaluated anywhere; ``None`` keeps the saved device.
    """
    saved = run_dir.read_config()
    try:
        cfg = config_from_dict(cls, saved.get("config", {}))
    except ConfigError as exc:
        from .. import __version__

        written = (saved.get("versions") or {}).get("quotient", "an unknown version")
        raise ConfigError(
            f"the settings in {run_dir.path}/config.json (written by quotient {written}) do not "
            f"fit {saved.get('experiment', 'this experiment')!r} of quotient {__version__}: "
            f"{exc}") from None
    train = getattr(cfg, "train", None)
    if device is not None and dataclasses.is_dataclass(train) and hasattr(train, "device"):
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(train, device=device))
    return cfg
