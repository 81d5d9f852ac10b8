"""config.yaml is written through libyaml (C): the same values as PyYAML's pure-Python
SafeDumper, and the same text for ASCII.  Beyond ASCII (escaped as
``\\uXXXX``: PyYAML's SafeDumper does not write unicode) the two wrap long quoted strings at
other columns, and quote control characters and empty keys differently; never to other values."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.results.runfolder import YAML_DUMPER


def configs(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict]:
    """What a run's configuration holds once JSON-ready: text, numbers, booleans, None, lists
    and maps, with keys that are never empty (field names and symbols)."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**40), 2**40)
        | st.floats(allow_nan=False, allow_infinity=False)
        | text
        | st.sampled_from(["ON", "NO", "1e-3", "2025-01-27", "0700.HK", "^IXIC", "a: b", "- x"])
    )
    keys = text.filter(bool)
    nested = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=25,
    )
    return st.dictionaries(keys, nested, max_size=6)


#: Printable ASCII, as the project's basket and study files are written.
PLAIN = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=90)


def test_the_c_emitter_is_used():
    assert YAML_DUMPER is yaml.CSafeDumper


@settings(max_examples=150, deadline=None, derandomize=True)
@given(config=configs(PLAIN))
def test_c_yaml_writes_the_text_pure_python_yaml_writes(config):
    text = yaml.dump(config, Dumper=YAML_DUMPER, sort_keys=False)
    assert text == yaml.safe_dump(config, sort_keys=False)
    assert yaml.safe_load(text) == config


@settings(max_examples=150, deadline=None, derandomize=True)
@given(config=configs(st.text(max_size=40)))
def test_c_yaml_reads_back_the_same_values_whatever_the_characters(config):
    """Other characters may be quoted or wrapped differently (``'': x`` against ``? ''``),
    never read back differently."""
    for text in (yaml.dump(config, Dumper=YAML_DUMPER), yaml.safe_dump(config)):
        assert yaml.safe_load(text) == config
