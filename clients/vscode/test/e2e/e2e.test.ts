/**
 * End to end in a real VS Code extension host: code-server runs the packaged extension (the
 * .vsix) and a test-driver extension, headless Chromium opens the workbench on loopback, the
 * Groundhog server is the real Python one with its store in a temporary directory.
 *
 * 1. First window: the extension starts the server, Take Snapshot snapshots the context,
 *    documents are opened and cursors moved, and the server persists them.
 * 2. A new window (fresh VS Code profile, so VS Code itself remembers nothing) on the same
 *    workspace: the documents, the active editor and the cursors come back from Groundhog; the
 *    status bar shows the context and version; New/Switch Context, Roll Back To, Compare
 *    Versions, a state at the 64 MiB limit (`groundhog.snapshotMaxBytes` raised, four 15 MiB
 *    values, Compare Versions from its first version read back from the page), a failing server
 *    command and Restart Server are exercised; then the window reloads and the last switched-to
 *    context is active again.
 * 3. The head of the active context is damaged in the store; another new window, with
 *    `groundhog.restoreEditors: ask`: the recovery warning appears, the restore question appears,
 *    the runner clicks Reopen on the page, and the editors of that context come back.
 * 4. A window where VS Code lists the MCP server the extension provides to its agent (read
 *    through the proposed API `lm.mcpServerDefinitions`, enabled for the driver only), starts it
 *    (when the server under test has `groundhog mcp`) and sees it join the workspace, and
 *    `groundhog.mcp.enabled` withdraws and offers it again.
 * 5. A machine with no server installed (no `groundhog` on PATH, no server setting, a fresh
 *    profile and global storage): first with only a Python 3.8 on PATH and autoInstall "always",
 *    one message says Python 3.11+ is needed and no environment is left behind; then with the
 *    machine's Python, the user clicks Install in the offer, the extension installs the server
 *    from the wheel in the .vsix into its private environment (real venv, real pip, dependencies
 *    from PyPI), removes an older version's environment, and the server works.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { serverCommand } from "../protocol/harness";
import { chromiumCommand, clickButton, codeServerBin, freePort, Page, Proc, READ_PAGE, stopAll } from "./browser";
import { type CheckpointAnswer, type CheckpointRequest, CONTROL_ENV, FIXTURE, MCP_SERVER_FILE, type McpServerCheck, type Phase, type PhaseResult } from "./shared";

const EXTENSION_ROOT = resolve(__dirname, "../../..");
const VSIX = join(EXTENSION_ROOT, "dist", "groundhog.vsix");
const DRIVER = join(EXTENSION_ROOT, "out", "test", "e2e", "driver");
const ARTIFACTS = join(EXTENSION_ROOT, ".e2e", "artifacts");
const VSCE = join(EXTENSION_ROOT, "node_modules", ".bin", "vsce");
const DRIVER_ID = "groundhog-test.e2e-driver";
const PHASE_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 2 * PHASE_TIMEOUT_MS + 60_000;
/** An install downloads the server's dependencies from PyPI: more time on a slow network. */
const INSTALL_PHASE_TIMEOUT_MS = 300_000;
/** Where code-server keeps the extension's global storage (the private environments) in a profile. */
const EXTENSION_STORAGE = join("User", "globalStorage", "groundhog.groundhog");

interface Sandbox {
    root: string;
    workspace: string;
    control: string;
    extensions: string;
    env: NodeJS.ProcessEnv;
}

function userSettings(restoreEditors: string, overrides: Record<string, unknown>): object {
    return {
        "groundhog.server.command": serverCommand(),
        ...overrides,
        "groundhog.restoreEditors": restoreEditors,
        "groundhog.editorThrottleMs": 100,
        // The message trace lands in the profile's logs, which a failing run prints.
        "groundhog.trace.server": "messages",
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": false,
        "workbench.enableExperiments": false,
        "security.workspace.trust.enabled": false,
        "telemetry.telemetryLevel": "off",
        "extensions.autoCheckUpdates": false,
        "extensions.autoUpdate": false,
        "update.mode": "none",
        "git.enabled": false,
    };
}

/** Settings of a machine where the server is not installed: no server command (JSON drops undefined). */
function noServerSettings(autoInstall: string): Record<string, unknown> {
    return { "groundhog.server.command": undefined, "groundhog.server.autoInstall": autoInstall };
}

/**
 * The environment of a code-server on a machine without the server, with this PATH for the
 * extension host: VSCODE_CLI=1 stops code-server from taking PATH from a login shell instead
 * (its "resolve shell environment"), whose profile scripts would put their own PATH back.
 */
function noServerEnv(sandbox: Sandbox, path: string): NodeJS.ProcessEnv {
    return { ...sandbox.env, PATH: path, VSCODE_CLI: "1" };
}

/** PATH without any folder that holds a `groundhog` command: a machine without the server. */
function pathWithoutServer(): string {
    return (process.env.PATH ?? "")
        .split(delimiter)
        .filter((dir) => dir !== "" && !existsSync(join(dir, "groundhog")))
        .join(delimiter);
}

/** The private environments the extension made in a profile's global storage. */
function privateEnvironments(profile: string): string[] {
    const servers = join(profile, EXTENSION_STORAGE, "servers");
    return existsSync(servers) ? readdirSync(servers).sort() : [];
}

function makeSandbox(): Sandbox {
    const root = mkdtempSync(join(tmpdir(), "groundhog-e2e-"));
    const dirs = Object.fromEntries(["workspace", "control", "extensions", "home", "config", "xdg"].map((d) => [d, join(root, d)]));
    for (const dir of Object.values(dirs)) {
        mkdirSync(dir, { recursive: true });
    }
    for (const file of FIXTURE) {
        writeFileSync(join(dirs.workspace!, file.name), file.text);
    }
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        GROUNDHOG_HOME: dirs.home,
        GROUNDHOG_CONFIG_DIR: dirs.config,
        [CONTROL_ENV]: dirs.control,
        XDG_CONFIG_HOME: dirs.xdg,
        XDG_DATA_HOME: dirs.xdg,
    };
    return { root, workspace: dirs.workspace!, control: dirs.control!, extensions: dirs.extensions!, env };
}

function newProfile(sandbox: Sandbox, name: string, restoreEditors = "always", overrides: Record<string, unknown> = {}): string {
    const dir = join(sandbox.root, name);
    mkdirSync(join(dir, "User"), { recursive: true });
    writeFileSync(join(dir, "User", "settings.json"), JSON.stringify(userSettings(restoreEditors, overrides), null, 2));
    return dir;
}

/** Files of the "Groundhog" output channel written by the extension host of a profile. */
function extensionLogs(profile: string): string {
    const found: string[] = [];
    const walk = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
            const path = join(dir, entry.name);
            if (entry.isDirectory()) {
                walk(path);
            } else if (/Groundhog|exthost|remoteexthost/i.test(entry.name) && entry.name.endsWith(".log")) {
                found.push(`--- ${path}\n${readFileSync(path, "utf8").slice(-6000)}`);
            }
        }
    };
    if (existsSync(join(profile, "logs"))) {
        walk(join(profile, "logs"));
    }
    return found.join("\n");
}

/** Answers the driver's checkpoint requests by reading the page. */
async function serveCheckpoints(sandbox: Sandbox, page: Page): Promise<void> {
    for (const file of readdirSync(sandbox.control)) {
        if (!file.endsWith(".request")) {
            continue;
        }
        const base = join(sandbox.control, file.slice(0, -".request".length));
        if (existsSync(`${base}.done`)) {
            continue;
        }
        const request = JSON.parse(readFileSync(`${base}.request`, "utf8")) as CheckpointRequest;
        const answer: CheckpointAnswer = { ok: false, statusTexts: [], notifications: [], sidebar: [], quickInput: "", dialog: "", diff: [], diffInserted: 0 };
        const deadline = Date.now() + 15000;
        // The DOM follows the extension host asynchronously: look until it matches or time runs out.
        for (;;) {
            // A page in the middle of a reload may not answer: that is "not yet", not a failure.
            const raw = await page
                .evaluate<string>(READ_PAGE)
                .catch(() => JSON.stringify({ items: [], notes: [], sidebar: [], quickInput: "", dialog: "", diff: [], diffInserted: 0 }));
            const seen = JSON.parse(raw) as { items: string[]; notes: string[]; sidebar: string[]; quickInput: string; dialog: string; diff: string[]; diffInserted: number };
            answer.statusTexts = seen.items;
            answer.notifications = seen.notes;
            answer.sidebar = seen.sidebar;
            answer.quickInput = seen.quickInput;
            answer.dialog = seen.dialog;
            answer.diff = seen.diff;
            answer.diffInserted = seen.diffInserted;
            const quickOk = request.quickInputIncludes === undefined || seen.quickInput.includes(request.quickInputIncludes);
            const dialogOk = request.dialogIncludes === undefined || seen.dialog.includes(request.dialogIncludes);
            const sidebarOk = (request.sidebarIncludes ?? []).every((text) => seen.sidebar.some((row) => row.includes(text)));
            const statusOk = request.statusIncludes === undefined || seen.items.some((t) => t.includes(request.statusIncludes ?? ""));
            const noteOk = request.notificationIncludes === undefined || seen.notes.some((t) => t.includes(request.notificationIncludes ?? ""));
            const diffOk =
                (request.diffIncludes ?? []).every((text) => seen.diff.some((line) => line.startsWith(text))) &&
                (request.diffInserted === undefined || seen.diffInserted === request.diffInserted);
            if (statusOk && noteOk && sidebarOk && quickOk && dialogOk && diffOk) {
                // Looked at before acting on it, so the picture shows what the user saw.
                await page.screenshot(join(ARTIFACTS, `${file.slice(0, -".request".length)}.png`)).catch(() => undefined);
                answer.ok = true;
                if (request.type !== undefined) {
                    await page.typeAndEnter(request.type).catch((error: unknown) => {
                        answer.ok = false;
                        answer.error = `typing failed: ${String(error)}`;
                    });
                }
                if (request.click !== undefined && !(await page.evaluate<boolean>(clickButton(request.click)).catch(() => false))) {
                    answer.ok = false;
                    answer.error = `no button '${request.click}' in a notification or dialog`;
                }
                break;
            }
            if (Date.now() > deadline) {
                answer.error = `wanted ${JSON.stringify(request)}`;
                break;
            }
            await new Promise((r) => setTimeout(r, 250));
        }
        answer.screenshot = join(ARTIFACTS, `${file.slice(0, -".request".length)}.png`);
        if (!answer.ok) {
            await page.screenshot(answer.screenshot).catch(() => undefined);
        }
        writeFileSync(`${base}.done`, JSON.stringify(answer));
    }
}

/**
 * Opens one browser window on code-server with `profile` and waits for the driver's phases.
 * `env` replaces the sandbox's environment for code-server (and so the extension host).
 */
async function runWindow(sandbox: Sandbox, profile: string, phases: Phase[], options: { env?: NodeJS.ProcessEnv; phaseTimeoutMs?: number } = {}): Promise<PhaseResult[]> {
    const phaseTimeoutMs = options.phaseTimeoutMs ?? PHASE_TIMEOUT_MS;
    const chromium = chromiumCommand();
    assert.ok(chromium, "no chromium-headless-shell or chromium on PATH (set CHROMIUM)");
    const port = await freePort();
    const codeServer = new Proc(
        "code-server",
        [
            codeServerBin(),
            "--auth",
            "none",
            "--bind-addr",
            `127.0.0.1:${port}`,
            "--config",
            join(sandbox.root, "code-server.yaml"),
            "--user-data-dir",
            profile,
            "--extensions-dir",
            sandbox.extensions,
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--disable-getting-started-override",
            "--ignore-last-opened",
            "--enable-proposed-api",
            DRIVER_ID,
        ],
        options.env ?? sandbox.env,
    );
    const results: PhaseResult[] = [];
    let browser: Proc | undefined;
    let page: Page | undefined;
    try {
        await codeServer.waitForOutput(/HTTP server listening/, 60000);
        const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(sandbox.workspace)}`;
        browser = new Proc(
            "chromium",
            [
                ...chromium,
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                `--user-data-dir=${join(profile, "chromium")}`,
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1400,900",
                url,
            ],
            sandbox.env,
        );
        const devtools = await browser.waitForOutput(/DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//, 30000);
        page = await Page.connect(Number(devtools[1]));
        for (const phase of phases) {
            const resultFile = join(sandbox.control, `result-${phase}.json`);
            const deadline = Date.now() + phaseTimeoutMs;
            while (!existsSync(resultFile)) {
                if (Date.now() > deadline) {
                    await page.screenshot(join(ARTIFACTS, `timeout-${phase}.png`)).catch(() => undefined);
                    throw new Error(`phase ${phase}: no result within ${phaseTimeoutMs / 1000} s`);
                }
                await serveCheckpoints(sandbox, page);
                await new Promise((r) => setTimeout(r, 250));
            }
            const result = JSON.parse(readFileSync(resultFile, "utf8")) as PhaseResult;
            results.push(result);
            await page.screenshot(join(ARTIFACTS, `end-${phase}.png`)).catch(() => undefined);
            if (!result.ok) {
                break;
            }
        }
    } catch (error) {
        const logs = extensionLogs(profile);
        writeFileSync(join(ARTIFACTS, `logs-${phases[0] ?? "window"}.txt`), `${codeServer.output}\n${logs}`);
        throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- code-server\n${codeServer.output.slice(-4000)}\n${logs.slice(-8000)}`);
    } finally {
        page?.close();
        await browser?.stop();
        await codeServer.stop();
        writeFileSync(join(ARTIFACTS, `logs-${phases[0] ?? "window"}.txt`), `${codeServer.output}\n${extensionLogs(profile)}`);
    }
    return results;
}

/**
 * Flips one bit of the newest version's delta of the context whose head is `version`, behind the
 * server's back (the way the server's own recovery tests damage a store).
 */
function damageHead(store: { path: string }, version: number): void {
    const script = `
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
rows = conn.execute("SELECT context_id FROM versions GROUP BY context_id HAVING MAX(version) = ?", (int(sys.argv[2]),)).fetchall()
assert len(rows) == 1, f"expected one context with head {sys.argv[2]}, found {len(rows)}"
(cid,) = rows[0]
(blob,) = conn.execute("SELECT delta_blob FROM versions WHERE context_id = ? AND version = ?", (cid, int(sys.argv[2]))).fetchone()
damaged = bytearray(blob)
damaged[-5] ^= 1
conn.execute("UPDATE versions SET delta_blob = ? WHERE context_id = ? AND version = ?", (bytes(damaged), cid, int(sys.argv[2])))
conn.close()
`;
    execFileSync("python3", ["-c", script, store.path, String(version)], { stdio: "pipe" });
}

/** Whether the server under test has the `mcp` command (`serve` swapped for `mcp --help`). */
function mcpServerCheck(): McpServerCheck {
    const [program, ...args] = serverCommand();
    const at = args.indexOf("serve");
    try {
        execFileSync(program ?? "groundhog", [...(at < 0 ? args : args.slice(0, at)), "mcp", "--help"], { stdio: "pipe", timeout: 30000 });
        return { available: true };
    } catch (error) {
        const said = (error as { stderr?: Buffer }).stderr?.toString().trim().split("\n").pop();
        return { available: false, reason: said !== undefined && said !== "" ? said : String(error) };
    }
}

function assertPhase(result: PhaseResult | undefined, phase: Phase): void {
    assert.ok(result, `no result for ${phase}`);
    for (const step of result.steps) {
        console.log(`  ${step.ok ? "ok  " : "FAIL"} [${phase}] ${step.name} (${step.ms} ms)`);
    }
    assert.ok(result.ok, `${phase} failed: ${result.error ?? "?"}\n${JSON.stringify(result.steps.filter((s) => !s.ok), null, 2)}`);
}

describe("VS Code end to end (code-server + headless Chromium + the real server)", () => {
    let sandbox: Sandbox | undefined;

    before(() => {
        assert.ok(existsSync(VSIX), `${VSIX} is missing: run 'npm run package' first`);
        assert.ok(existsSync(join(DRIVER, "extension.js")), `${DRIVER} is missing: run 'node esbuild.mjs --tests' first`);
        assert.ok(existsSync(codeServerBin()), `code-server is not installed at ${codeServerBin()} (scripts/ci.sh installs it; or set CODE_SERVER)`);
        rmSync(ARTIFACTS, { recursive: true, force: true });
        mkdirSync(ARTIFACTS, { recursive: true });
        sandbox = makeSandbox();
        writeFileSync(join(sandbox.root, "code-server.yaml"), "auth: none\ncert: false\n");
        // Installs the packaged extension the way a user would, and the driver beside it.
        const driverVsix = join(sandbox.root, "e2e-driver.vsix");
        execFileSync(VSCE, ["package", "--no-dependencies", "--allow-missing-repository", "--skip-license", "--out", driverVsix], {
            cwd: DRIVER,
            stdio: "pipe",
        });
        execFileSync(
            codeServerBin(),
            ["--extensions-dir", sandbox.extensions, "--user-data-dir", join(sandbox.root, "install"), "--install-extension", VSIX, "--install-extension", driverVsix],
            { env: sandbox.env, stdio: "pipe" },
        );
    });

    after(async () => {
        await stopAll();
        if (sandbox && !process.env.GROUNDHOG_E2E_KEEP) {
            rmSync(sandbox.root, { recursive: true, force: true });
        }
    });

    test("first window: the server starts, a snapshot is taken, documents are opened and cursors moved", { timeout: TEST_TIMEOUT_MS }, async () => {
        assert.ok(sandbox);
        writeFileSync(join(sandbox.control, "phase"), "first-session");
        const [result] = await runWindow(sandbox, newProfile(sandbox, "profile-1"), ["first-session"]);
        assertPhase(result, "first-session");
    });

    test("a new window gets the documents and cursors back; commands work; a reload keeps the context", { timeout: TEST_TIMEOUT_MS }, async () => {
        assert.ok(sandbox);
        writeFileSync(join(sandbox.control, "phase"), "resume");
        const results = await runWindow(sandbox, newProfile(sandbox, "profile-2"), ["resume", "after-reload"]);
        assertPhase(results[0], "resume");
        assertPhase(results[1], "after-reload");
    });

    test("damage is recovered with a warning; with restoreEditors 'ask' the editors come back once the user says Reopen", { timeout: TEST_TIMEOUT_MS }, async () => {
        assert.ok(sandbox);
        damageHead(JSON.parse(readFileSync(join(sandbox.control, "store.json"), "utf8")) as { path: string }, 2);
        writeFileSync(join(sandbox.control, "phase"), "ask");
        const [result] = await runWindow(sandbox, newProfile(sandbox, "profile-3", "ask"), ["ask"]);
        assertPhase(result, "ask");
    });

    test("VS Code's agent is offered Groundhog's MCP server with no configuration; the setting withdraws it", { timeout: TEST_TIMEOUT_MS }, async () => {
        assert.ok(sandbox);
        const check = mcpServerCheck();
        if (!check.available) {
            console.log(`  note: the server has no 'mcp' command (${check.reason ?? "?"}): VS Code lists the server but does not start it`);
        }
        writeFileSync(join(sandbox.control, MCP_SERVER_FILE), JSON.stringify(check));
        writeFileSync(join(sandbox.control, "phase"), "mcp");
        const [result] = await runWindow(sandbox, newProfile(sandbox, "profile-4"), ["mcp"]);
        assertPhase(result, "mcp");
    });

    test("no server and only Python 3.8: one message says Python 3.11+ is needed; no environment is left", { timeout: TEST_TIMEOUT_MS }, async () => {
        assert.ok(sandbox);
        // python3 and python answer 3.8.10, as on an old distribution.
        const oldPython = join(sandbox.root, "old-python");
        mkdirSync(oldPython, { recursive: true });
        for (const name of ["python3", "python"]) {
            writeFileSync(join(oldPython, name), '#!/bin/sh\necho "Python 3.8.10"\n', { mode: 0o755 });
        }
        const profile = newProfile(sandbox, "profile-no-python", "always", noServerSettings("always"));
        writeFileSync(join(sandbox.control, "phase"), "no-python");
        const env = noServerEnv(sandbox, `${oldPython}${delimiter}${pathWithoutServer()}`);
        const [result] = await runWindow(sandbox, profile, ["no-python"], { env });
        assertPhase(result, "no-python");
        assert.deepEqual(privateEnvironments(profile), [], "a half-made environment was left behind");
    });

    test("no server installed: the user accepts the offer, the server is installed from the .vsix into a private environment and works", { timeout: INSTALL_PHASE_TIMEOUT_MS + 60_000 }, async () => {
        assert.ok(sandbox);
        const profile = newProfile(sandbox, "profile-install", "always", noServerSettings("ask"));
        // An environment an earlier extension version installed: the new version removes it.
        const old = join(profile, EXTENSION_STORAGE, "servers", "0.0.1-000000000000");
        mkdirSync(join(old, "bin"), { recursive: true });
        writeFileSync(join(sandbox.control, "phase"), "install");
        const env = noServerEnv(sandbox, pathWithoutServer());
        const [result] = await runWindow(sandbox, profile, ["install"], { env, phaseTimeoutMs: INSTALL_PHASE_TIMEOUT_MS });
        assertPhase(result, "install");
        const environments = privateEnvironments(profile);
        assert.equal(environments.length, 1, `environments: ${JSON.stringify(environments)}`);
        assert.match(environments[0] ?? "", /^\d+\.\d+\.\d+-[0-9a-f]{12}$/);
        assert.ok(existsSync(join(profile, EXTENSION_STORAGE, "servers", environments[0] ?? "", "bin", "python")));
    });
});
