"""The agents' answers (groundhog.mcp.answers) over generated results and caps: a write's answer
never fails, every answer's text copy is its structured result, and the whole answer (both copies,
the summary and the envelope) stays within the cap whenever it can be made to."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundhog.errors import TooLarge
from groundhog.mcp import answers

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
NAME = st.from_regex(r"[a-z][a-z0-9/_.-]{0,127}", fullmatch=True)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=20,
)
TIME = st.just("2026-12-05T10:00:00.000Z")
LABEL = st.none() | st.text(max_size=1024, alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)))
SNAPSHOT = st.fixed_dictionaries(
    {
        "id": st.just("snap-" + "0" * 32),
        "context": NAME,
        "version": st.integers(1, 2**40),
        "timestamp": TIME,
        "label": LABEL,
        "sizeBytes": st.integers(0, 2**30),
    }
)
ENTRY = st.fixed_dictionaries(
    {
        "version": st.integers(1, 2**40),
        "timestamp": TIME,
        "kind": st.sampled_from(["create", "update", "rollback"]),
        "session": st.just("s-0123456789abcdef"),
        "changedKeys": st.lists(TEXT, max_size=20),
    }
)
EDITOR = st.just({"openDocuments": [], "activeUri": None, "selections": []})
RESULTS: dict[str, Any] = {
    "get": st.fixed_dictionaries(
        {
            "context": NAME,
            "version": st.integers(1, 2**40),
            "lastModified": TIME,
            "data": st.dictionaries(TEXT, JSON, max_size=40),
            "metadata": st.dictionaries(TEXT, JSON, max_size=3),
            "editor": EDITOR,
        }
    ),
    "switch": st.fixed_dictionaries(
        {"name": NAME, "version": st.integers(1, 2**40), "data": st.dictionaries(TEXT, JSON, max_size=40)}
    ),
    "snapshot": SNAPSHOT,
    "snapshots": st.fixed_dictionaries({"snapshots": st.lists(SNAPSHOT, max_size=30)}),
    "history": st.fixed_dictionaries(
        {"entries": st.lists(ENTRY, max_size=40), "oldestVersion": st.integers(1, 9)}
    ),
    "rollback": st.fixed_dictionaries(
        {
            "context": NAME,
            "version": st.integers(1, 2**40),
            "restoredFrom": st.just({"snapshotId": "snap-" + "1" * 32}),
            "changedKeys": st.lists(TEXT, max_size=400),
            "recoveryPoint": st.just("snap-" + "2" * 32),
        }
    ),
    "update": st.fixed_dictionaries(
        {"context": NAME, "version": st.integers(1, 2**62), "merged": st.booleans()}
    ),
}
WRITES = {"switch", "snapshot", "rollback", "update"}


def wire_size(answer: Any) -> int:
    """What the answer costs on the wire, with the 2026-07-28 era's stamps on it."""
    body = json.loads(answer.model_dump_json(by_alias=True, exclude_none=True))
    body["resultType"] = "complete"
    body["_meta"] = {"io.modelcontextprotocol/serverInfo": {"name": "groundhog", "version": "0.1.0"}}
    return len(orjson.dumps(body))


@pytest.mark.parametrize("verb", sorted(RESULTS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), cap=st.integers(1024, 20_000))
def test_answers_fit_the_cap_and_repeat_the_result_as_text(verb: str, data: st.DataObject, cap: int) -> None:
    result = data.draw(RESULTS[verb])
    writes = verb in WRITES
    try:
        answer = answers.success(verb, result, cap, writes=writes)
    except TooLarge:
        assert not writes  # a write committed: it never answers an error
        return
    summary, copy = answer.content
    assert summary.type == "text" and copy.type == "text"
    assert json.loads(copy.text) == answer.structured_content
    if cap >= 2048 or not writes:
        assert wire_size(answer) <= cap, (verb, cap, wire_size(answer))


def test_the_text_copy_is_counted_as_the_escaped_string_it_travels_in() -> None:
    data = {f"k{i}": '"' * 200 for i in range(100)}  # every quote costs two bytes in the text copy
    answer = answers.success(
        "get",
        {"context": "c", "version": 1, "lastModified": "t", "data": data, "metadata": {}, "editor": {}},
        8192,
        writes=False,
    )
    assert wire_size(answer) <= 8192
    kept = answer.structured_content["data"]  # type: ignore[index]
    assert 0 < len(kept) < 100 and len(answer.structured_content["truncated"]["omittedKeys"]) == 100 - len(
        kept
    )  # type: ignore[index]


def test_errors_carry_no_structured_content_and_their_details_as_text() -> None:
    from groundhog.errors import VersionConflict

    answer = answers.failure(VersionConflict("Stale.", currentVersion=7, conflictingKeys=["a"]))
    assert answer.is_error and answer.structured_content is None
    line, body = answer.content
    assert line.text == "VersionConflict (-32001): Stale."  # type: ignore[union-attr]
    assert json.loads(body.text) == {  # type: ignore[union-attr]
        "error": {
            "kind": "VersionConflict",
            "code": -32001,
            "message": "Stale.",
            "currentVersion": 7,
            "conflictingKeys": ["a"],
        }
    }
