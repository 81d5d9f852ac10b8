"""Reading YAML the safe way, remembering where each key was written.

``yaml.safe_load`` refuses ``!!python/object`` tags but silently keeps the last of two duplicate
keys and forgets line numbers.  This loader refuses duplicates and returns :class:`Mapping`
objects that know the line of each key, so validation errors can point at ``file:line``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.errors import ConfigError


class Mapping(dict):
    """A YAML mapping that remembers the line (1-based) of each key and of itself, and the text
    each plain value was written as (``1.00`` and ``1.0`` both load as 1.0)."""

    line: int | None = None
    key_lines: dict[str, int]
    value_texts: dict[str, str]

    def line_of(self, key: str) -> int | None:
        return self.key_lines.get(key, self.line)

    def text_of(self, key: str) -> str | None:
        """The value of ``key`` as written in the file, for a scalar; None otherwise."""
        return getattr(self, "value_texts", {}).get(key)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records key lines, rejects duplicate keys, and turns a value its tag
    cannot construct (``!!int x``, ``2025-13-01``) into a :class:`ConfigError` on its line."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ConfigError, yaml.YAMLError, RecursionError):
            raise
        except (ValueError, TypeError, LookupError, AttributeError, ArithmeticError):
            raise _unreadable(self.name, node) from None


class _BadValue(ConfigError):
    """A value that cannot be constructed; ``node`` lets the enclosing mapping name its key."""

    node: yaml.Node


def _unreadable(path: str, node: yaml.Node, key: str | None = None) -> _BadValue:
    """The error for a node whose (explicit or implied) tag cannot construct its value."""
    tag = node.tag.removeprefix("tag:yaml.org,2002:")
    if isinstance(node, yaml.ScalarNode):
        text = " ".join(str(node.value).split())
        shown = repr(text if len(text) <= 40 else text[:37] + "...")
    else:
        shown = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
    if tag == "timestamp":
        message, hint = f"{shown} is not a valid date", "write dates as YYYY-MM-DD"
    else:
        message = f"{shown} is not a valid {tag}"
        hint = f"remove the '!!{tag}' tag or fix the value"
    error = _BadValue(path, message, field=key, line=node.start_mark.line + 1, hint=hint)
    error.node = node
    return error


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Mapping:
    loader.flatten_mapping(node)
    mapping = Mapping()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    mapping.value_texts = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in mapping:
            raise ConfigError(
                loader.name,
                f"duplicate key '{key}' (first on line {mapping.key_lines[key]})",
                line=key_node.start_mark.line + 1,
                hint="keep one of them",
            )
        try:
            mapping[key] = loader.construct_object(value_node, deep=True)
        except _BadValue as error:
            if error.node is not value_node:
                raise
            raise _unreadable(loader.name, value_node, key) from None
        mapping.key_lines[key] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.ScalarNode):
            mapping.value_texts[key] = value_node.value
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: str | Path) -> Any:
    """Parse one YAML file safely.  Errors become :class:`ConfigError` naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "file not found") from None
    except IsADirectoryError:
        raise ConfigError(path, "is a folder, not a YAML file") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "is not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(path, f"cannot be read ({error.strerror})") from None
    try:
        loader = _LineLoader(text)
    except yaml.reader.ReaderError as error:
        # Raised before parsing: a control character (NUL...) that YAML does not allow.
        line = text.count("\n", 0, error.position) + 1
        raise ConfigError(
            path,
            f"not valid YAML: character #x{error.character:04x} is not allowed",
            line=line,
            hint="basket files are plain text",
        ) from None
    loader.name = str(path)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise ConfigError(path, "not valid YAML: nested too deeply") from None
    except yaml.constructor.ConstructorError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else None
        raise ConfigError(
            path,
            f"tag not allowed: {error.problem}",
            line=line,
            hint="basket files hold plain data; Python object tags are refused",
        ) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(
            path, f"not valid YAML: {error.problem or error.context}", line=line
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError(path, f"not valid YAML: {error}") from None
    finally:
        loader.dispose()
