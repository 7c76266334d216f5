# One place for every developer task; each target creates/uses the local venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYDIRS := $(wildcard server tests bench scripts)

.PHONY: install run test test-python test-package test-vscode lint lint-lua typecheck dist bench clean agents-npm mcp-clients-npm

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The real agent programs tests/agents drives (Claude Code from npm): `npm ci` again only when the
# lock file changed.
AGENTS_NPM := tests/agents/node_modules/.installed
$(AGENTS_NPM): tests/agents/package-lock.json
	cd tests/agents && npm ci --no-audit --no-fund --loglevel=error
	touch $(AGENTS_NPM)

agents-npm: $(AGENTS_NPM)

# The MCP client libraries the agents' face is tested with (TypeScript SDK 1.x and 2.x, MCP
# Inspector 0.15): `npm ci` again only when the lock file changed.
MCP_CLIENTS_NPM := tests/mcp_clients/node_modules/.installed
$(MCP_CLIENTS_NPM): tests/mcp_clients/package-lock.json
	cd tests/mcp_clients && npm ci --no-audit --no-fund --loglevel=error
	touch $(MCP_CLIENTS_NPM)

mcp-clients-npm: $(MCP_CLIENTS_NPM)

# Start the server for an editor (stdio, embedded default store, no configuration).
run:
	@./scripts/groundhog serve

lint: $(STAMP)
	$(BIN)/ruff check $(PYDIRS)
	$(BIN)/ruff format --check $(PYDIRS)

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict scripts/smoke_wheel.py

# Lua lint of the Neovim plugin (Debian's lua-check; .ci/run installs it).
lint-lua:
	luacheck --config clients/neovim/.luacheckrc clients/neovim tests/neovim/lua

# Two workers (pytest-xdist; each starts its own throwaway PostgreSQL cluster when it needs one):
# most tests wait on server processes, fsync and subprocess start-up. PYTEST_WORKERS=0 runs in one.
PYTEST_WORKERS ?= 2
test-python: $(STAMP) $(AGENTS_NPM) $(MCP_CLIENTS_NPM)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# The package as users get it: build the sdist and the wheel, install the wheel alone into a new venv
# under a temporary directory and smoke-test `groundhog --version`, `serve`, `mcp` and `doctor` there.
test-package: $(STAMP)
	$(BIN)/python scripts/smoke_wheel.py

# The wheel and the sdist, ready to publish, in dist/.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

# The VS Code extension: lint, types, build, .vsix, unit, protocol and code-server end-to-end tests.
# Installs its own Debian/npm dependencies on a new machine (needs root for apt-get).
test-vscode: $(STAMP)
	bash clients/vscode/scripts/ci.sh

# Everything CI runs: lint (Python, Lua), types, all tests (Python incl. Neovim, the installed wheel, VS Code).
test: lint lint-lua typecheck test-python test-package test-vscode

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis dist
