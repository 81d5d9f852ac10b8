"""Reading YAML the safe way, remembering where each key was written.

``yaml.safe_load`` refuses ``!!python/object`` tags but silently keeps the last of two duplicate
keys and forgets line numbers.  This loader refuses duplicates and returns :class:`Mapping`
objects that know the line of each key, so validation errors can point at ``file:line``.

It is also bounded, because basket files are shared: a file over :data:`MAX_FILE_BYTES`, or
that is not a regular file (a FIFO, ``/dev/zero``), is refused before it is read; the composed
document is measured before anything is constructed, so aliases that would expand beyond
:data:`MAX_NODES` nodes or :data:`MAX_TEXT` characters ("billion laughs") are refused, and so is
any scalar longer than :data:`MAX_SCALAR`.

Two YAML 1.1 traps are closed: ``1e-3`` (no dot) is a number, as in YAML 1.2 and JSON; and
the unquoted words YAML 1.1 reads as booleans or null (``ON``, ``NO``, ``NULL``...) keep their
text in :attr:`Mapping.value_texts`, so a validator can say "quote it".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ConfigError
from engine.files import UnreadableFile, read_bounded

#: Largest YAML file read (a 10,000-constituent basket is about 600 KB).
MAX_FILE_BYTES = 1_000_000
#: Most nodes (scalars, lists, mappings) the document may hold once aliases are expanded.
MAX_NODES = 200_000
#: Most characters the scalars may hold in total once aliases are expanded.
MAX_TEXT = 4_000_000
#: Longest single scalar (a description, a reason).
MAX_SCALAR = 10_000


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

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        _check_size(self.name, node)
        return node

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


#: YAML 1.2 / JSON floats without a dot (``1e-3``, ``-2E+5``), which YAML 1.1 reads as text.
_EXPONENT_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_LineLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789"))

def _check_size(path: str, root: yaml.Node | None) -> None:
    """Refuse a document whose expansion (aliases followed) exceeds :data:`MAX_NODES` nodes or
    :data:`MAX_TEXT` characters, that refers to itself, or holds a scalar over
    :data:`MAX_SCALAR` characters.  Each distinct node is measured once (memoised), so this is
    linear in the file, however far its aliases would expand."""
    if root is None:
        return
    sizes: dict[int, tuple[int, int]] = {}
    # Iterative post-order walk: a deep file cannot exhaust the Python stack here.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            if len(node.value) > MAX_SCALAR:
                raise ConfigError(
                    path,
                    f"a value of {len(node.value):,} characters is longer than the limit "
                    f"of {MAX_SCALAR:,}",
                    line=node.start_mark.line + 1,
                    hint="shorten it",
                )
            sizes[key] = (1, len(node.value))
            continue
        children = _children(node)
        if not children_done:
            if key in open_nodes:
                raise ConfigError(
                    path, "an alias refers to the value that contains it",
                    line=node.start_mark.line + 1, hint="write the value out",
                )
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        open_nodes.discard(key)
        nodes = 1 + sum(sizes[id(child)][0] for child in children)
        text = sum(sizes[id(child)][1] for child in children)
        if nodes > MAX_NODES or text > MAX_TEXT:
            raise ConfigError(
                path,
                f"the YAML expands to more than {MAX_NODES:,} values or {MAX_TEXT:,} "
                "characters (aliases used over and over?)",
                line=node.start_mark.line + 1,
                hint="write the values out instead of repeating *aliases, or split the file",
            )
        sizes[key] = (nodes, text)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value)


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
        text = read_bounded(path, MAX_FILE_BYTES).decode("utf-8")
    except UnreadableFile as error:
        raise ConfigError(path, error.reason) from None
    except UnicodeDecodeError:
        raise ConfigError(path, "is not UTF-8 text") from None
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
