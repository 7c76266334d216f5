"""The blob framings every checkpoint, delta and snapshot goes through: whatever goes in comes out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groundhog.errors import DataDamaged
from groundhog.store.codec import Cipher, Payload
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


def test_seal_each_is_seal_with_the_name_as_the_last_part_of_the_place() -> None:
    cipher = Cipher(bytes(32), "workspace", 1)
    sealed = cipher.seal_each({"a1": b"one", "b2": b"two"}, "snapshot_values", "uid")
    assert cipher.open(sealed["a1"], "snapshot_values", "uid", "a1") == b"one"
    assert cipher.open_each(sealed, "snapshot_values", "uid") == {"a1": b"one", "b2": b"two"}
    with pytest.raises(DataDamaged):  # a blob under another name fails its associated data
        cipher.open_each({"a1": sealed["b2"]}, "snapshot_values", "uid")


def test_encoded_values_hold_their_length_not_orjsons_worst_case_buffer() -> None:
    """orjson sizes its output buffer for the worst case and never shrinks it (8 KB for a 1 KB
    string): a 1 MB state of 1,000 such values held 8 MB (issue 23). Measured with the allocator."""
    import tracemalloc

    from groundhog.store.codec import encode_value, values_from_object

    strings = [f"{i:05d}" + "x" * 1000 for i in range(200)]
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        held = [encode_value(s, "k") for s in strings]
        held.append(values_from_object({"a": {"nested": strings[:3]}}, strict=True)["a"])
        used = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert used < sum(len(raw) for raw in held) * 1.2, used  # not 8x
