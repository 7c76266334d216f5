/** The MCP server definition offered to VS Code's agent, in plain Node with a fake `vscode` module. */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { buildMcpLaunch, detectMcpApi, type McpDefinitionProvider, type McpInputs, mcpArgs, type McpServerOffer, offerMcpServer } from "../../src/common/mcp";
import type { ServerCommand } from "../../src/common/serverCommand";
import type { GroundhogSettings } from "../../src/common/settingValues";
import { testSettings as settings } from "./settings";

const bin = mkdtempSync(join(tmpdir(), "groundhog-mcp-unit-"));
after(() => {
    rmSync(bin, { recursive: true, force: true });
});

function executable(name: string): string {
    const file = join(bin, name);
    writeFileSync(file, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    return file;
}

const groundhog = executable("groundhog");
const python = executable("python3");
const WORKSPACE = "/home/me/project";


function inputs(overrides: Partial<GroundhogSettings> = {}, rest: Partial<McpInputs> = {}): McpInputs {
    return { settings: settings(overrides), folder: WORKSPACE, env: { PATH: bin }, ...rest };
}

/** A stand-in for `vscode.McpStdioServerDefinition`, with the constructor of vscode.d.ts 1.101. */
class FakeStdioDefinition {
    cwd?: unknown;
    constructor(
        readonly label: string,
        public command: string,
        public args: string[] = [],
        public env: Record<string, string | number | null> = {},
        public version?: string,
    ) {}
}

interface FakeHost {
    version: string;
    lm: { registerMcpServerDefinitionProvider?: (id: string, provider: McpDefinitionProvider) => { dispose(): void } };
    McpStdioServerDefinition?: typeof FakeStdioDefinition;
    Uri: { file(path: string): { fsPath: string } };
    registrations: { id: string; provider: McpDefinitionProvider; disposed: boolean }[];
}

function fakeHost(withApi = true): FakeHost {
    const host: FakeHost = { version: "1.117.0", lm: {}, Uri: { file: (path) => ({ fsPath: path }) }, registrations: [] };
    if (withApi) {
        host.McpStdioServerDefinition = FakeStdioDefinition;
        host.lm.registerMcpServerDefinitionProvider = (id, provider) => {
            const registration = { id, provider, disposed: false };
            host.registrations.push(registration);
            return {
                dispose: () => {
                    registration.disposed = true;
                },
            };
        };
    }
    return host;
}

function recordingLog(): { lines: string[]; info(m: string): void; warn(m: string): void } {
    const lines: string[] = [];
    return { lines, info: (m) => lines.push(`info: ${m}`), warn: (m) => lines.push(`warn: ${m}`) };
}

describe("the mcp command line", () => {
    const options = { workspace: WORKSPACE, storeDir: "", readOnly: false };

    test("`groundhog serve` on PATH becomes `groundhog mcp --workspace <folder>`", () => {
        assert.deepEqual(mcpArgs({ command: groundhog, args: ["serve"], origin: "PATH" }, options), ["mcp", "--workspace", WORKSPACE]);
    });

    test("`python3 -m groundhog serve` becomes `python3 -m groundhog mcp ...`", () => {
        assert.deepEqual(mcpArgs({ command: python, args: ["-m", "groundhog", "serve"], origin: "private" }, options), [
            "-m",
            "groundhog",
            "mcp",
            "--workspace",
            WORKSPACE,
        ]);
    });

    test("of the serve options in the setting, only those mcp takes too are kept", () => {
        const args = ["-m", "groundhog", "serve", "--stdio", "--log-level", "debug", "--max-message-bytes=5", "--allow-workspace", "/x", "--store-dir=/s", "--log-file", "/l"];
        assert.deepEqual(mcpArgs({ command: python, args, origin: "setting" }, options), [
            "-m",
            "groundhog",
            "mcp",
            "--log-level",
            "debug",
            "--store-dir=/s",
            "--log-file",
            "/l",
            "--workspace",
            WORKSPACE,
        ]);
    });

    test("a command without `serve` (scripts/groundhog, python -m groundhog) gets `mcp` appended", () => {
        assert.deepEqual(mcpArgs({ command: "/repo/scripts/groundhog", args: [], origin: "setting" }, options), ["mcp", "--workspace", WORKSPACE]);
    });

    test("the store directory and read-only settings become flags", () => {
        assert.deepEqual(mcpArgs({ command: groundhog, args: ["serve"], origin: "PATH" }, { workspace: WORKSPACE, storeDir: "/stores", readOnly: true }), [
            "mcp",
            "--workspace",
            WORKSPACE,
            "--store-dir",
            "/stores",
            "--read-only",
        ]);
    });

    test("the limits at their defaults add no flags, so a server without --history-limit/--snapshot-max-bytes keeps working", () => {
        const resolved: ServerCommand = { command: groundhog, args: ["serve"], origin: "PATH" };
        const expected = ["mcp", "--workspace", WORKSPACE];
        assert.deepEqual(mcpArgs(resolved, { ...options, historyLimit: 1000, snapshotMaxBytes: 1_048_576 }), expected);
        assert.deepEqual(mcpArgs(resolved, options), expected);
    });

    test("limits other than the defaults become --history-limit and --snapshot-max-bytes, each on its own", () => {
        const resolved: ServerCommand = { command: groundhog, args: ["serve"], origin: "PATH" };
        assert.deepEqual(mcpArgs(resolved, { ...options, readOnly: true, historyLimit: 50, snapshotMaxBytes: 67_108_864 }), [
            "mcp",
            "--workspace",
            WORKSPACE,
            "--read-only",
            "--history-limit",
            "50",
            "--snapshot-max-bytes",
            "67108864",
        ]);
        assert.deepEqual(mcpArgs(resolved, { ...options, historyLimit: 1000, snapshotMaxBytes: 2048 }), ["mcp", "--workspace", WORKSPACE, "--snapshot-max-bytes", "2048"]);
        assert.deepEqual(mcpArgs(resolved, { ...options, historyLimit: 1, snapshotMaxBytes: 1_048_576 }), ["mcp", "--workspace", WORKSPACE, "--history-limit", "1"]);
    });
});

describe("the launch", () => {
    test("the server found for the LSP server, with the same environment, in the folder", () => {
        const launch = buildMcpLaunch(inputs({ serverEnv: { GROUNDHOG_HOME: "/gh" } }, { version: "0.1.0" }));
        assert.deepEqual(launch, {
            label: "Groundhog",
            command: groundhog,
            args: ["mcp", "--workspace", WORKSPACE],
            env: { GROUNDHOG_HOME: "/gh" },
            cwd: WORKSPACE,
            version: "0.1.0",
        });
    });

    test("the groundhog.historyLimit and groundhog.snapshotMaxBytes settings reach the MCP server's command line", () => {
        const launch = buildMcpLaunch(inputs({ historyLimit: 20, snapshotMaxBytes: 67_108_864 }));
        assert.ok(!("problem" in launch));
        assert.deepEqual(launch.args, ["mcp", "--workspace", WORKSPACE, "--history-limit", "20", "--snapshot-max-bytes", "67108864"]);
    });

    test("the private environment's Python before groundhog on PATH; the configured command before both", () => {
        const launch = buildMcpLaunch(inputs({}, { privatePython: python }));
        assert.ok(!("problem" in launch));
        assert.deepEqual([launch.command, ...launch.args], [python, "-m", "groundhog", "mcp", "--workspace", WORKSPACE]);
        const configured = buildMcpLaunch(inputs({ serverCommand: [python, "-m", "groundhog", "serve", "--log-level", "info"] }, { privatePython: "/elsewhere/python" }));
        assert.ok(!("problem" in configured));
        assert.deepEqual([configured.command, ...configured.args], [python, "-m", "groundhog", "mcp", "--log-level", "info", "--workspace", WORKSPACE]);
    });

    test("no folder, or no server to run, is a problem that says so", () => {
        assert.deepEqual(buildMcpLaunch(inputs({}, { folder: undefined })), { problem: "no folder is open" });
        const missing = buildMcpLaunch(inputs({ serverCommand: ["/nonexistent/groundhog"] }));
        assert.ok("problem" in missing && missing.problem.includes("/nonexistent/groundhog"), JSON.stringify(missing));
        const nothing = buildMcpLaunch(inputs({}, { env: { PATH: "/nonexistent" } }));
        assert.ok("problem" in nothing && nothing.problem.includes("groundhog.server.command"), JSON.stringify(nothing));
    });
});

describe("feature detection", () => {
    test("a VS Code without the API (before 1.101) gets nothing registered and one line in the log", () => {
        const log = recordingLog();
        assert.equal(offerMcpServer(fakeHost(false), () => inputs(), log), undefined);
        assert.equal(log.lines.length, 1);
        assert.match(log.lines[0]!, /^info: This VS Code \(1\.117\.0\) has no API .*1\.101.*\.vscode\/mcp\.json/);
        assert.equal(detectMcpApi({}), undefined);
        assert.equal(detectMcpApi({ lm: {} }), undefined);
    });

    test("VS Code 1.100's draft of the API (other contribution names) counts as absent", () => {
        const log = recordingLog();
        assert.equal(offerMcpServer({ ...fakeHost(), version: "1.100.3" }, () => inputs(), log), undefined);
        assert.match(log.lines[0] ?? "", /^info: This VS Code \(1\.100\.3\) has no API/);
        assert.ok(detectMcpApi({ ...fakeHost(), version: "1.101.0" }));
        assert.ok(detectMcpApi({ ...fakeHost(), version: "2.0.0-insider" }));
    });

    test("a definition is a real McpStdioServerDefinition with the folder as a Uri for cwd", () => {
        const api = detectMcpApi(fakeHost());
        assert.ok(api);
        const definition = api.define({ label: "Groundhog", command: groundhog, args: ["mcp"], env: { A: "1" }, cwd: WORKSPACE, version: "2" });
        assert.ok(definition instanceof FakeStdioDefinition);
        const { label, command, args, env, version, cwd } = definition;
        assert.deepEqual({ label, command, args, env, version, cwd }, { label: "Groundhog", command: groundhog, args: ["mcp"], env: { A: "1" }, version: "2", cwd: { fsPath: WORKSPACE } });
    });

    test("a VS Code that refuses the registration (a proposed API) is logged once and not retried", () => {
        const host = fakeHost();
        let calls = 0;
        host.lm.registerMcpServerDefinitionProvider = () => {
            calls++;
            throw new Error("Extension 'groundhog.groundhog' CANNOT use API proposal: mcpConfigurationProvider.");
        };
        const log = recordingLog();
        const offer = offerMcpServer(host, () => inputs(), log);
        offer?.update();
        assert.equal(calls, 1);
        assert.deepEqual(log.lines, ["warn: VS Code did not accept the MCP server definition provider: Extension 'groundhog.groundhog' CANNOT use API proposal: mcpConfigurationProvider."]);
    });
});

describe("the provider", () => {
    function setUp(initial: Partial<GroundhogSettings> = {}): { host: FakeHost; offer: McpServerOffer; log: ReturnType<typeof recordingLog>; current: { settings: Partial<GroundhogSettings> } } {
        const host = fakeHost();
        const log = recordingLog();
        const current = { settings: initial };
        const offer = offerMcpServer(host, () => inputs(current.settings), log);
        assert.ok(offer);
        return { host, offer, log, current };
    }

    test("registers under the id of package.json and provides the one Groundhog server", () => {
        const { host, offer } = setUp();
        assert.equal(host.registrations.length, 1);
        assert.equal(host.registrations[0]!.id, "groundhog");
        assert.equal(host.registrations[0]!.provider, offer);
        const [definition, ...more] = offer.provideMcpServerDefinitions();
        assert.equal(more.length, 0);
        assert.ok(definition);
        assert.equal(definition.label, "Groundhog");
        assert.deepEqual([definition.command, ...definition.args], [groundhog, "mcp", "--workspace", WORKSPACE]);
    });

    test("turning groundhog.mcp.enabled off unregisters; on again registers anew", () => {
        const { host, offer, current, log } = setUp();
        current.settings = { mcpEnabled: false };
        offer.update();
        assert.equal(host.registrations[0]!.disposed, true);
        assert.equal(offer.registered, false);
        assert.deepEqual(offer.provideMcpServerDefinitions(), []);
        assert.ok(log.lines.some((l) => l.includes("groundhog.mcp.enabled is off")));
        current.settings = {};
        offer.update();
        assert.equal(host.registrations.length, 2);
        assert.equal(host.registrations[1]!.disposed, false);
    });

    test("starting disabled registers nothing until it is turned on", () => {
        const { host, offer, current } = setUp({ mcpEnabled: false });
        assert.equal(host.registrations.length, 0);
        current.settings = {};
        offer.update();
        assert.equal(host.registrations.length, 1);
    });

    test("another change while registered fires onDidChangeMcpServerDefinitions, once per change", () => {
        const { host, offer, current } = setUp();
        let fired = 0;
        const listener = offer.onDidChangeMcpServerDefinitions(() => fired++);
        current.settings = { readOnly: true };
        offer.update();
        assert.equal(fired, 1);
        assert.equal(host.registrations.length, 1);
        assert.deepEqual(offer.provideMcpServerDefinitions()[0]?.args.slice(-1), ["--read-only"]);
        listener.dispose();
        offer.update();
        assert.equal(fired, 1);
    });

    test("a problem is logged once however often VS Code asks, and again after it was fixed and came back", () => {
        const { offer, current, log } = setUp({ serverCommand: ["/nonexistent/groundhog"] });
        for (let i = 0; i < 3; i++) {
            assert.deepEqual(offer.provideMcpServerDefinitions(), []);
        }
        const warnings = () => log.lines.filter((l) => l.startsWith("warn:"));
        assert.equal(warnings().length, 1);
        assert.match(warnings()[0]!, /not offered to VS Code's agent: the server command '\/nonexistent\/groundhog'/);
        current.settings = {};
        assert.equal(offer.provideMcpServerDefinitions().length, 1);
        current.settings = { serverCommand: ["/nonexistent/groundhog"] };
        offer.provideMcpServerDefinitions();
        assert.equal(warnings().length, 2);
    });

    test("resolving (VS Code starting the server) uses the settings of that moment", () => {
        const { offer, current } = setUp();
        const [definition] = offer.provideMcpServerDefinitions();
        assert.ok(definition);
        current.settings = { serverCommand: [python, "-m", "groundhog", "serve"], serverEnv: { X: "y" } };
        const resolved = offer.resolveMcpServerDefinition(definition);
        assert.equal(resolved, definition);
        assert.deepEqual([definition.command, ...definition.args], [python, "-m", "groundhog", "mcp", "--workspace", WORKSPACE]);
        assert.deepEqual(definition.env, { X: "y" });
        current.settings = { serverCommand: ["/nonexistent/groundhog"] };
        assert.throws(() => offer.resolveMcpServerDefinition(definition), /The Groundhog MCP server cannot start: the server command '\/nonexistent\/groundhog'/);
        current.settings = { mcpEnabled: false };
        assert.equal(offer.resolveMcpServerDefinition(definition), undefined);
    });

    test("dispose unregisters for good", () => {
        const { host, offer } = setUp();
        let fired = 0;
        offer.onDidChangeMcpServerDefinitions(() => fired++);
        offer.dispose();
        assert.equal(host.registrations[0]!.disposed, true);
        offer.update();
        assert.equal(fired, 0);
        assert.equal(host.registrations.length, 1);
    });
});
