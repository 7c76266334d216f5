"""The blob framings every checkpoint, delta and snapshot goes through: whatever goes in comes out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groundhog.errors import DataDamaged
from groundhog.store.codec import Payload
from groundhog.store.values import DIGEST_BYTES, pack_manifest, unpack_manifest

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)


@given(
    values=st.dictionaries(st.text(max_size=30), st.binary(max_size=300), max_size=40),
    removed=st.lists(st.text(max_size=30), max_size=5),
    metadata=st.none() | st.dictionaries(st.text(max_size=10), json_scalars, max_size=5),
    extra=st.none() | st.dictionaries(st.text(max_size=10), json_scalars, max_size=5),
)
def test_pack_then_unpack_gives_back_the_payload(
    values: dict[str, bytes],
    removed: list[str],
    metadata: dict[str, object] | None,
    extra: dict[str, object] | None,
) -> None:
    payload = Payload(values, removed, metadata, extra)
    back = Payload.unpack(payload.pack())
    assert back == payload
    assert list(back.values) == list(values)  # key order is kept (it is the state's order)
    assert all(type(raw) is bytes for raw in back.values.values())


def test_unpack_accepts_any_bytes_like_buffer_and_returns_bytes() -> None:
    packed = Payload({"k": b"v", "\u00e9": b"\x00\xff"}).pack()
    for buffer in (bytearray(packed), memoryview(packed)):
        back = Payload.unpack(buffer)  # type: ignore[arg-type]
        assert back.values == {"k": b"v", "\u00e9": b"\x00\xff"}
        assert all(type(raw) is bytes for raw in back.values.values())


@given(st.dictionaries(st.text(max_size=30), st.binary(min_size=DIGEST_BYTES, max_size=DIGEST_BYTES)))
def test_snapshot_manifests_round_trip_in_key_order(manifest: dict[str, bytes]) -> None:
    back = unpack_manifest(pack_manifest(manifest))
    assert back == manifest and list(back) == list(manifest)


def test_a_manifest_whose_digests_do_not_match_its_keys_is_damage() -> None:
    packed = pack_manifest({"a": b"x" * DIGEST_BYTES, "b": b"y" * DIGEST_BYTES})
    with pytest.raises(DataDamaged):
        unpack_manifest(packed[:-1])
