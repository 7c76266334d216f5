"""RFC 6902 JSON Patch (groundhog.patch): the RFC's own examples, failures, malformed ops, the
all-or-nothing rule, touched keys (decision 9) and the per-key diff (decision 19)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groundhog import InvalidParams, VersionConflict
from groundhog.patch import (
    apply_patch,
    check_ops,
    escape,
    extends,
    json_equal,
    key_diff,
    parse_pointer,
    same_encoded,
    touched_keys,
)
from groundhog.store.codec import decode_value, encode_value, values_from_object

# RFC 6902 appendix A (documents that are objects at the top, as context data always is).
RFC_EXAMPLES: list[tuple[str, dict[str, Any], list[dict[str, Any]], dict[str, Any]]] = [
    (
        "A.1 add object member",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux"}],
        {"baz": "qux", "foo": "bar"},
    ),
    (
        "A.2 add array element",
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    (
        "A.3 remove object member",
        {"baz": "qux", "foo": "bar"},
        [{"op": "remove", "path": "/baz"}],
        {"foo": "bar"},
    ),
    (
        "A.4 remove array element",
        {"foo": ["bar", "qux", "baz"]},
        [{"op": "remove", "path": "/foo/1"}],
        {"foo": ["bar", "baz"]},
    ),
    (
        "A.5 replace a value",
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        "A.6 move a value",
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        "A.7 move an array element",
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        "A.8 test success",
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        "A.10 add nested member",
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        "A.11 ignore unrecognized elements",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    (
        "A.14 ~ escape ordering",
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": 10}, {"op": "test", "path": "/~1", "value": 9}],
        {"/": 9, "~1": 10},
    ),
    (
        "A.16 add an array value",
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
    (
        "copy",
        {"a": {"b": [1]}},
        [{"op": "copy", "from": "/a", "path": "/c"}],
        {"a": {"b": [1]}, "c": {"b": [1]}},
    ),
    ("add replaces an existing member", {"a": 1}, [{"op": "add", "path": "/a", "value": 2}], {"a": 2}),
    ("add at the end index", {"a": [1]}, [{"op": "add", "path": "/a/1", "value": 2}], {"a": [1, 2]}),
    ("whole document", {"a": 1}, [{"op": "add", "path": "", "value": {"b": 2}}], {"b": 2}),
    ("remove whole document", {"a": 1}, [{"op": "remove", "path": ""}], {}),
    ("move to itself", {"a": {"b": 1}}, [{"op": "move", "from": "/a/b", "path": "/a/b"}], {"a": {"b": 1}}),
    ("empty key", {"": 1}, [{"op": "replace", "path": "/", "value": 2}], {"": 2}),
    (
        "keys like code",
        {},
        [{"op": "add", "path": "/class", "value": {"from": "/src/a.py"}}],
        {"class": {"from": "/src/a.py"}},
    ),
    ("test numbers as JSON", {"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], {"a": 1}),
]


@pytest.mark.parametrize(
    ("doc", "ops", "expected"), [e[1:] for e in RFC_EXAMPLES], ids=[e[0] for e in RFC_EXAMPLES]
)
def test_rfc_examples(doc: dict[str, Any], ops: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    original = copy.deepcopy(doc)
    assert apply_patch(doc, check_ops(ops)) == expected
    assert doc == original, "the input document is never modified"


@pytest.mark.parametrize(
    ("doc", "ops", "key"),
    [
        ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], "baz"),  # A.9
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], "~1"),  # A.15
        ({"a": 1}, [{"op": "test", "path": "/missing", "value": None}], "missing"),
        ({"a": True}, [{"op": "test", "path": "/a", "value": 1}], "a"),
        ({"a": 1}, [{"op": "test", "path": "/a", "value": True}], "a"),
        ({"a": [1, 2]}, [{"op": "test", "path": "/a", "value": [2, 1]}], "a"),
        ({"a": {"b": [1]}}, [{"op": "test", "path": "/a/b/5", "value": 1}], "a"),
        ({"a": 1}, [{"op": "test", "path": "", "value": {"a": 2}}], ""),
        ({"a": 1}, [{"op": "add", "path": "/b", "value": 1}, {"op": "test", "path": "/b", "value": 2}], "b"),
    ],
)
def test_failed_test_is_a_version_conflict(doc: dict[str, Any], ops: list[dict[str, Any]], key: str) -> None:
    original = copy.deepcopy(doc)
    with pytest.raises(VersionConflict) as caught:
        apply_patch(doc, check_ops(ops))
    assert caught.value.details["conflictingKeys"] == [key]
    assert doc == original


@pytest.mark.parametrize(
    "ops",
    [
        {"op": "add"},
        [None],
        [{"path": "/a", "value": 1}],
        [{"op": "ADD", "path": "/a", "value": 1}],
        [{"op": "add", "path": "a", "value": 1}],
        [{"op": "add", "path": 5, "value": 1}],
        [{"op": "add", "value": 1}],
        [{"op": "add", "path": "/a"}],
        [{"op": "replace", "path": "/a"}],
        [{"op": "test", "path": "/a"}],
        [{"op": "move", "path": "/a"}],
        [{"op": "copy", "path": "/a", "from": "b"}],
        [{"op": "add", "path": "/~2", "value": 1}],
        [{"op": "add", "path": "/a~", "value": 1}],
    ],
)
def test_malformed_ops_are_invalid_params(ops: Any) -> None:
    with pytest.raises(InvalidParams):
        check_ops(ops)


@pytest.mark.parametrize(
    ("doc", "ops"),
    [
        ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}]),  # A.12
        ({"a": 1}, [{"op": "remove", "path": "/b"}]),
        ({"a": 1}, [{"op": "replace", "path": "/b", "value": 1}]),
        ({"a": [1]}, [{"op": "add", "path": "/a/2", "value": 1}]),
        ({"a": [1]}, [{"op": "add", "path": "/a/01", "value": 1}]),
        ({"a": [1]}, [{"op": "add", "path": "/a/-1", "value": 1}]),
        ({"a": [1]}, [{"op": "remove", "path": "/a/1"}]),
        ({"a": [1]}, [{"op": "remove", "path": "/a/-"}]),
        ({"a": 1}, [{"op": "add", "path": "/a/b", "value": 1}]),
        ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/c"}]),
        ({"a": 1}, [{"op": "move", "from": "/b", "path": "/c"}]),
        ({"a": 1}, [{"op": "copy", "from": "/b", "path": "/c"}]),
        ({"a": 1}, [{"op": "add", "path": "", "value": [1]}]),
        ({"a": 1}, [{"op": "replace", "path": "", "value": "text"}]),
    ],
)
def test_impossible_ops_are_invalid_params(doc: dict[str, Any], ops: list[dict[str, Any]]) -> None:
    original = copy.deepcopy(doc)
    with pytest.raises(InvalidParams):
        apply_patch(doc, check_ops(ops))
    assert doc == original


def test_all_or_nothing() -> None:
    doc = {"a": {"list": [1, 2]}, "b": 1}
    original = copy.deepcopy(doc)
    ops = [
        {"op": "add", "path": "/a/list/-", "value": 3},
        {"op": "remove", "path": "/b"},
        {"op": "add", "path": "/c", "value": {"x": 1}},
        {"op": "remove", "path": "/nope"},
    ]
    with pytest.raises(InvalidParams):
        apply_patch(doc, check_ops(ops))
    assert doc == original
    ops[-1] = {"op": "test", "path": "/b", "value": 1}  # fails: b was removed by op 1
    with pytest.raises(VersionConflict):
        apply_patch(doc, check_ops(ops))
    assert doc == original


def test_added_values_are_copies() -> None:
    value = {"inner": [1]}
    result = apply_patch(
        {}, [{"op": "add", "path": "/a", "value": value}, {"op": "copy", "from": "/a", "path": "/b"}]
    )
    result["a"]["inner"].append(2)
    assert value == {"inner": [1]}
    assert result["b"] == {"inner": [1]}


@pytest.mark.parametrize(
    ("ops", "keys"),
    [
        ([{"op": "add", "path": "/a/b/c", "value": 1}], {"a"}),
        ([{"op": "move", "from": "/x/1", "path": "/y"}], {"x", "y"}),
        ([{"op": "copy", "from": "/x", "path": "/y/0"}], {"x", "y"}),
        ([{"op": "test", "path": "/t", "value": 1}], {"t"}),
        ([{"op": "remove", "path": "/a~1b/c"}], {"a/b"}),
        ([{"op": "remove", "path": "/~0"}], {"~"}),
        ([{"op": "add", "path": "/a", "value": 1}, {"op": "remove", "path": ""}], None),
        ([{"op": "move", "from": "", "path": "/a"}], None),
        ([], set()),
    ],
)
def test_touched_keys(ops: list[dict[str, Any]], keys: set[str] | None) -> None:
    assert touched_keys(check_ops(ops)) == keys


@pytest.mark.parametrize("key", ["a", "", "/", "~", "~1", "a/b~c", "ü 😀", "class"])
def test_pointer_round_trip(key: str) -> None:
    assert parse_pointer("/" + escape(key), "path") == [key]


def test_json_equal() -> None:
    assert json_equal(1, 1.0)
    assert json_equal({"a": [1, {"b": 2.0}]}, {"a": [1.0, {"b": 2}]})
    assert not json_equal(True, 1)
    assert not json_equal(0, False)
    assert not json_equal(None, False)
    assert not json_equal([1], [1, 1])
    assert not json_equal({"a": 1}, {"a": 1, "b": 1})
    assert not json_equal("1", 1)


def test_key_diff_one_op_per_changed_key() -> None:
    old = values_from_object({"same": [1, 2], "gone": 1, "changed": {"a": 1}, "num": 1}, strict=True)
    new = values_from_object({"same": [1, 2], "changed": {"a": 2}, "added": None, "num": 1.0}, strict=True)
    assert key_diff(old, new, decode_value) == [
        {"op": "add", "path": "/added", "value": None},
        {"op": "replace", "path": "/changed", "value": {"a": 2}},
        {"op": "remove", "path": "/gone"},
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=8,
)
documents = st.dictionaries(st.text(max_size=4), json_values, max_size=5)


@given(documents, documents)
def test_key_diff_applied_as_a_patch_gives_the_new_document(old: dict[str, Any], new: dict[str, Any]) -> None:
    diff = key_diff(values_from_object(old, strict=True), values_from_object(new, strict=True), decode_value)
    assert apply_patch(old, check_ops(diff)) == new
    assert len(diff) == len(
        {k for k in old.keys() | new.keys() if k not in old or k not in new or old[k] != new[k]}
    )


numbers_too = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.0, -0.0, 1.0, 2.5])
    | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("abc"), children, max_size=3)
    ),
    max_leaves=8,
)


def _grown(value: Any, extra: list[Any]) -> Any:
    """``value`` with members added at its end (the append ``extends`` recognises)."""
    if isinstance(value, list):
        return [*value, *extra]
    if isinstance(value, dict):
        return {**value, **{f"new{i}": item for i, item in enumerate(extra)}}
    return value


@given(numbers_too, numbers_too, st.lists(numbers_too, min_size=1, max_size=2), st.booleans())
def test_same_encoded_agrees_with_json_equal(a: Any, b: Any, extra: list[Any], reorder: bool) -> None:
    """The byte-level shortcuts (strings, literals, types, grown arrays and objects) never decide
    other than decoding would, with 1 and 1.0, -0.0 and 0, and reordered keys in the mix."""
    pairs = [(a, b), (a, _grown(a, extra)), (_grown(b, extra), b), (a, a)]
    if reorder and isinstance(a, dict):
        pairs.append((a, dict(reversed(list(a.items())))))
    for old, new in pairs:
        old_raw, new_raw = encode_value(old, "k"), encode_value(new, "k")
        expected = json_equal(old, new)
        assert same_encoded(old_raw, new_raw, decode_value) is expected, (old_raw, new_raw)
        assert same_encoded(old_raw, new_raw, decode_value, new) is expected


def test_extends_is_only_a_top_level_append() -> None:
    assert extends(b"[1]", b"[1,2]")
    assert extends(b'{"a":1}', b'{"a":1,"b":2}')
    assert extends(b"[[1]]", b"[[1],2]")  # the outer list grew
    assert not extends(b"[]", b"[1]")  # '[' then '1', not ','
    assert not extends(b'["a]"]', b'["a],"]')  # the ']' inside a string is not the closing one
    assert not extends(b"[1]", b"[1]")
    assert not extends(b'"ab"', b'"ab,c"')
