"""Groundhog in the agents' own lifecycle: ``groundhog hook <agent> <event>`` (hand the brief to the
model at every session start, record progress at every stop), the one-step install of those hooks,
and agent sessions captured into the store and restored on another machine (docs/agents.md).
Imports stay light: a hook is a process started at every session start and after every turn."""
