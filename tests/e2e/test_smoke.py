from tests.e2e.harness import Client


async def test_status_update_get_roundtrip(client: Client) -> None:
    status = await client.request("context/status", {})
    assert status["active"] == {"name": "default", "version": 1}
    result = await client.request(
        "context/update", {"set": {"/src/a.py": {"class": 1}, "from": 2, "type_name": 3}}
    )
    assert result == {"context": "default", "version": 2, "merged": False}
    got = await client.request("context/get")
    assert got["data"] == {"/src/a.py": {"class": 1}, "from": 2, "type_name": 3}


async def test_positions_are_utf16_for_every_editor(client: Client) -> None:
    """Stored cursors are shared between editors, so the server always negotiates UTF-16."""
    encoding = client.init.capabilities.position_encoding
    assert encoding in (None, "utf-16")
