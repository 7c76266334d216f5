"""The blob framing every checkpoint, delta and snapshot goes through: whatever goes in comes out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from groundhog.store.codec import Payload

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
