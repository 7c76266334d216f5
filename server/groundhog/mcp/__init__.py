"""The agents' face: ``groundhog mcp``, an MCP server (official MCP Python SDK) onto the same
contexts, store, encryption and audit as the editors' LSP face (MCP.md)."""
