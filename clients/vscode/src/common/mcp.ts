/**
 * Groundhog's MCP server (`groundhog mcp`) offered to VS Code's own agent through the MCP server
 * definition provider API (`vscode.lm.registerMcpServerDefinitionProvider`, VS Code 1.101+).
 *
 * The extension supports VS Code 1.82, whose typings lack that API, so the few types it needs are
 * declared here and the API is looked up at run time on the `vscode` module. The definition runs
 * the very command the LSP server is started with (serverCommand.ts, the private environment
 * included), with `mcp --workspace <first folder>` instead of `serve`, and the same environment,
 * store, read-only setting and limits (history, state size).
 * This module must not import `vscode`: the unit tests run it in plain Node with a fake module.
 */

import { MCP_PROVIDER_ID, MCP_SERVER_LABEL, SERVER_ID, Settings } from "./constants";
import { resolveServerCommand, type ServerCommand } from "./serverCommand";
import { type GroundhogSettings, HISTORY_LIMIT, SNAPSHOT_MAX_BYTES } from "./settingValues";

export interface Disposable {
    dispose(): unknown;
}

/** What `vscode.McpStdioServerDefinition` has that the extension uses (vscode.d.ts 1.101). */
export interface McpStdioDefinition {
    readonly label: string;
    command: string;
    args: string[];
    env: Record<string, string | number | null>;
    cwd?: unknown;
    version?: string;
}

/** `vscode.McpServerDefinitionProvider`, restricted to stdio definitions. */
export interface McpDefinitionProvider {
    readonly onDidChangeMcpServerDefinitions: (listener: () => void) => Disposable;
    provideMcpServerDefinitions(token?: unknown): McpStdioDefinition[];
    resolveMcpServerDefinition(server: McpStdioDefinition, token?: unknown): McpStdioDefinition | undefined;
}

/** The MCP part of the `vscode` API, found at run time. */
export interface McpHostApi {
    register(id: string, provider: McpDefinitionProvider): Disposable;
    define(launch: McpLaunch): McpStdioDefinition;
}

/** How to start the MCP server: what a definition carries. */
export interface McpLaunch {
    label: string;
    command: string;
    args: string[];
    /** Added to the extension host's environment, as for the LSP server. */
    env: Record<string, string>;
    cwd: string;
    version?: string;
}

/** What the definition is built from, read afresh on every call. */
export interface McpInputs {
    settings: GroundhogSettings;
    /** The first workspace folder's path, if a folder is open. */
    folder: string | undefined;
    /** The environment the server will get (the extension host's plus `groundhog.server.env`). */
    env: NodeJS.ProcessEnv;
    /** Changes tell VS Code to list the server's tools again. */
    version?: string;
    /** The private environment's Python, when the extension installed the server (privateServer.ts). */
    privatePython?: string;
}

export interface McpLog {
    info(message: string): void;
    warn(message: string): void;
}

/** Options of `groundhog serve` that `groundhog mcp` takes too; the others are dropped. */
const SHARED_OPTIONS: readonly string[] = ["--log-level", "--log-file", "--store-dir"];

/** What the MCP server's command line carries besides the LSP server's command. */
export interface McpArgsOptions {
    workspace: string;
    storeDir: string;
    readOnly: boolean;
    /** Sent only when not the default (1000), so a server without the flag keeps working. */
    historyLimit?: number;
    /** Sent only when not the default (1 MiB), so a server without the flag keeps working. */
    snapshotMaxBytes?: number;
}

/**
 * The arguments that start `groundhog mcp` from the LSP server's resolved command: its `serve`
 * becomes `mcp` (keeping the options both take), or `mcp` is appended when the command has no
 * `serve` (`scripts/groundhog` and `python -m groundhog` run `serve` by default only when told).
 * The limits are those of the LSP server, so the agent may write what the editor may.
 */
export function mcpArgs(resolved: ServerCommand, options: McpArgsOptions): string[] {
    const at = resolved.args.indexOf("serve");
    const args = at < 0 ? [...resolved.args, "mcp"] : [...resolved.args.slice(0, at), "mcp", ...sharedOptions(resolved.args.slice(at + 1))];
    args.push("--workspace", options.workspace);
    if (options.storeDir) {
        args.push("--store-dir", options.storeDir);
    }
    if (options.readOnly) {
        args.push("--read-only");
    }
    if (options.historyLimit !== undefined && options.historyLimit !== HISTORY_LIMIT.default) {
        args.push("--history-limit", String(options.historyLimit));
    }
    if (options.snapshotMaxBytes !== undefined && options.snapshotMaxBytes !== SNAPSHOT_MAX_BYTES.default) {
        args.push("--snapshot-max-bytes", String(options.snapshotMaxBytes));
    }
    return args;
}

function sharedOptions(args: readonly string[]): string[] {
    const kept: string[] = [];
    for (let i = 0; i < args.length; i++) {
        const arg = args[i] ?? "";
        const [name] = arg.split("=", 1);
        if (name === undefined || !SHARED_OPTIONS.includes(name)) {
            continue;
        }
        if (arg.includes("=")) {
            kept.push(arg);
        } else if (i + 1 < args.length) {
            kept.push(arg, args[i + 1] ?? "");
            i++;
        }
    }
    return kept;
}

/** The launch of the MCP server, or why there is none. */
export function buildMcpLaunch(inputs: McpInputs): McpLaunch | { problem: string } {
    if (inputs.folder === undefined) {
        return { problem: "no folder is open" };
    }
    const resolved = resolveServerCommand(inputs.settings, inputs.env, inputs.privatePython);
    if ("problem" in resolved) {
        return resolved;
    }
    const launch: McpLaunch = {
        label: MCP_SERVER_LABEL,
        command: resolved.command,
        args: mcpArgs(resolved, {
            workspace: inputs.folder,
            storeDir: inputs.settings.storeDir,
            readOnly: inputs.settings.readOnly,
            historyLimit: inputs.settings.historyLimit,
            snapshotMaxBytes: inputs.settings.snapshotMaxBytes,
        }),
        env: { ...inputs.settings.serverEnv },
        cwd: inputs.folder,
    };
    if (inputs.version !== undefined) {
        launch.version = inputs.version;
    }
    return launch;
}

type StdioConstructor = new (label: string, command: string, args?: string[], env?: Record<string, string>, version?: string) => McpStdioDefinition;

/** The first VS Code with the final API; 1.100 has a draft of it under other contribution names. */
const FIRST_VERSION = [1, 101];

function isBefore(version: unknown, [major, minor]: number[]): boolean {
    const match = typeof version === "string" ? /^(\d+)\.(\d+)/.exec(version) : null;
    if (match === null) {
        return false;
    }
    const [have, haveMinor] = [Number(match[1]), Number(match[2])];
    return have < (major ?? 0) || (have === major && haveMinor < (minor ?? 0));
}

/** The MCP API of `host` (the `vscode` module), if this VS Code has it. */
export function detectMcpApi(host: object): McpHostApi | undefined {
    const { lm, McpStdioServerDefinition: Stdio, Uri, version } = host as {
        lm?: Record<string, unknown>;
        McpStdioServerDefinition?: unknown;
        Uri?: { file?: unknown };
        version?: unknown;
    };
    const register = lm?.registerMcpServerDefinitionProvider;
    if (typeof register !== "function" || typeof Stdio !== "function" || isBefore(version, FIRST_VERSION)) {
        return undefined;
    }
    const file = Uri?.file;
    return {
        register: (id, provider) => (register as (id: string, provider: McpDefinitionProvider) => Disposable).call(lm, id, provider),
        define: (launch) => {
            const definition = new (Stdio as StdioConstructor)(launch.label, launch.command, launch.args, launch.env, launch.version);
            definition.cwd = typeof file === "function" ? (file as (path: string) => unknown).call(Uri, launch.cwd) : undefined;
            return definition;
        },
    };
}

/**
 * The provider of the one Groundhog MCP server: registered while `groundhog.mcp.enabled` is on,
 * unregistered when it is turned off, and telling VS Code to ask again when what the definition
 * is built from changes.
 */
export class McpServerOffer implements McpDefinitionProvider, Disposable {
    private registration: Disposable | undefined;
    /** Refused by VS Code, or disposed: no more registering. */
    private stopped = false;
    private lastProblem: string | undefined;
    private readonly listeners = new Set<() => void>();

    readonly onDidChangeMcpServerDefinitions = (listener: () => void): Disposable => {
        this.listeners.add(listener);
        return { dispose: () => this.listeners.delete(listener) };
    };

    constructor(
        private readonly api: McpHostApi,
        private readonly inputs: () => McpInputs,
        private readonly log: McpLog,
    ) {}

    get registered(): boolean {
        return this.registration !== undefined;
    }

    /** Call after a settings or workspace folder change (and once at the start). */
    update(): void {
        if (this.stopped) {
            return;
        }
        if (!this.inputs().settings.mcpEnabled) {
            if (this.registration !== undefined) {
                this.unregister();
                this.log.info(`The MCP server is no longer offered to VS Code's agent (${SERVER_ID}.${Settings.mcpEnabled} is off).`);
            }
            return;
        }
        if (this.registration !== undefined) {
            for (const listener of [...this.listeners]) {
                listener();
            }
            return;
        }
        try {
            this.registration = this.api.register(MCP_PROVIDER_ID, this);
        } catch (error) {
            // A VS Code that has the function but not for this extension (a proposed API) throws.
            this.stopped = true;
            this.log.warn(`VS Code did not accept the MCP server definition provider: ${error instanceof Error ? error.message : String(error)}`);
            return;
        }
        this.log.info("The MCP server is offered to VS Code's agent (MCP server definition provider registered).");
    }

    provideMcpServerDefinitions(): McpStdioDefinition[] {
        const launch = this.launch();
        return launch === undefined ? [] : [this.api.define(launch)];
    }

    /** Called when VS Code starts the server: the command is resolved again, as for a restart. */
    resolveMcpServerDefinition(server: McpStdioDefinition): McpStdioDefinition | undefined {
        const inputs = this.inputs();
        if (!inputs.settings.mcpEnabled) {
            return undefined;
        }
        const built = buildMcpLaunch(inputs);
        if ("problem" in built) {
            throw new Error(`The Groundhog MCP server cannot start: ${built.problem}.`);
        }
        const fresh = this.api.define(built);
        server.command = fresh.command;
        server.args = fresh.args;
        server.env = fresh.env;
        server.cwd = fresh.cwd;
        return server;
    }

    dispose(): void {
        this.stopped = true;
        this.unregister();
        this.listeners.clear();
    }

    private unregister(): void {
        this.registration?.dispose();
        this.registration = undefined;
        this.lastProblem = undefined;
    }

    private launch(): McpLaunch | undefined {
        const inputs = this.inputs();
        if (!inputs.settings.mcpEnabled) {
            return undefined;
        }
        const built = buildMcpLaunch(inputs);
        if ("problem" in built) {
            if (built.problem !== this.lastProblem) {
                this.log.warn(`The MCP server is not offered to VS Code's agent: ${built.problem}.`);
            }
            this.lastProblem = built.problem;
            return undefined;
        }
        this.lastProblem = undefined;
        return built;
    }
}

/**
 * Offers the MCP server if `host` (the `vscode` module) has the API; otherwise says so once in
 * the log and offers nothing, the rest of the extension working as before.
 */
export function offerMcpServer(host: object, inputs: () => McpInputs, log: McpLog): McpServerOffer | undefined {
    const api = detectMcpApi(host);
    if (api === undefined) {
        const version = (host as { version?: unknown }).version;
        log.info(
            `This VS Code (${typeof version === "string" ? version : "unknown version"}) has no API for extensions to offer MCP servers ` +
                "(VS Code 1.101 and later have it): to give its agent Groundhog's MCP server, add `groundhog mcp` to .vscode/mcp.json.",
        );
        return undefined;
    }
    const offer = new McpServerOffer(api, inputs, log);
    offer.update();
    return offer;
}
