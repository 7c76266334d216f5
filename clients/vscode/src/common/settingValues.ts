/**
 * The extension's settings as values: their defaults, how what the user wrote becomes a fully
 * defaulted object (a value of the wrong type or out of range is the default), and the
 * initialization options derived from them. settings.ts reads them from VS Code.
 * This module must not import `vscode`: the unit tests run it in plain Node.
 */

import { Settings } from "./constants";
import type { InitializationOptions } from "./protocol";

export type RestoreEditors = "always" | "ask" | "never";
/** What to do when no server is found (installer.ts). */
export type AutoInstall = "ask" | "always" | "never";

export interface GroundhogSettings {
    /** argv of the server; empty means "find it". */
    serverCommand: string[];
    serverEnv: Record<string, string>;
    autoInstall: AutoInstall;
    restoreEditors: RestoreEditors;
    editorTracking: boolean;
    editorThrottleMs: number;
    storeDir: string;
    readOnly: boolean;
    /** Offer the MCP server to VS Code's agent (mcp.ts). */
    mcpEnabled: boolean;
    /** Versions kept per context (initialization option `historyLimit`, `mcp --history-limit`). */
    historyLimit: number;
    /** The largest state an update or snapshot may make, in compact JSON bytes (`snapshotMaxBytes`, `mcp --snapshot-max-bytes`). */
    snapshotMaxBytes: number;
}

/** An integer setting: its default and the range package.json allows. */
export interface IntegerSetting {
    default: number;
    minimum: number;
    maximum: number;
}

/** The server's default. */
export const HISTORY_LIMIT: IntegerSetting = { default: 1000, minimum: 1, maximum: 1_000_000 };
/**
 * The server's default (1 MiB); the server takes up to 1 GiB, but it reads LSP messages of at most
 * 64 MiB, so a larger state could never be written in one update nor read back in one response.
 */
export const SNAPSHOT_MAX_BYTES: IntegerSetting = { default: 1_048_576, minimum: 1024, maximum: 67_108_864 };

const RESTORE_VALUES: readonly RestoreEditors[] = ["always", "ask", "never"];
const AUTO_INSTALL_VALUES: readonly AutoInstall[] = ["ask", "always", "never"];

/**
 * The settings from what the user wrote: `get` answers a key relative to the `groundhog` section
 * (undefined when unset), `resolve` expands variables in paths and commands.
 */
export function settingsFrom(get: (key: string) => unknown, resolve: (values: string[]) => string[]): GroundhogSettings {
    const restore = get(Settings.restoreEditors);
    const throttle = get(Settings.editorThrottleMs);
    const storeDir = get(Settings.storeDir);
    const autoInstall = get(Settings.autoInstall);
    return {
        serverCommand: resolve(stringArray(get(Settings.serverCommand))),
        serverEnv: stringRecord(get(Settings.serverEnv)),
        autoInstall: AUTO_INSTALL_VALUES.includes(autoInstall as AutoInstall) ? (autoInstall as AutoInstall) : "ask",
        restoreEditors: RESTORE_VALUES.includes(restore as RestoreEditors) ? (restore as RestoreEditors) : "ask",
        editorTracking: get(Settings.editorTracking) !== false,
        editorThrottleMs: typeof throttle === "number" && throttle >= 0 ? throttle : 500,
        storeDir: typeof storeDir === "string" && storeDir.trim() ? (resolve([storeDir.trim()])[0] ?? "") : "",
        readOnly: get(Settings.readOnly) === true,
        mcpEnabled: get(Settings.mcpEnabled) !== false,
        historyLimit: integer(get(Settings.historyLimit), HISTORY_LIMIT),
        snapshotMaxBytes: integer(get(Settings.snapshotMaxBytes), SNAPSHOT_MAX_BYTES),
    };
}

/**
 * The options the server is started with. The limits are sent only when they are not the
 * server's defaults (as `groundhog mcp` gets its flags only then, mcp.ts), so a server that
 * predates an option is never told about it unless the user set it.
 */
export function initializationOptions(settings: GroundhogSettings): InitializationOptions {
    const options: InitializationOptions = {
        readOnly: settings.readOnly,
        editorTracking: settings.editorTracking,
    };
    if (settings.storeDir) {
        options.storeDir = settings.storeDir;
    }
    if (settings.historyLimit !== HISTORY_LIMIT.default) {
        options.historyLimit = settings.historyLimit;
    }
    if (settings.snapshotMaxBytes !== SNAPSHOT_MAX_BYTES.default) {
        options.snapshotMaxBytes = settings.snapshotMaxBytes;
    }
    return options;
}

/** An integer within the setting's range, else its default (the server would refuse anything else). */
function integer(value: unknown, setting: IntegerSetting): number {
    return typeof value === "number" && Number.isInteger(value) && value >= setting.minimum && value <= setting.maximum ? value : setting.default;
}

function stringArray(value: unknown): string[] {
    if (typeof value === "string") {
        return value.trim() ? value.trim().split(/\s+/) : [];
    }
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function stringRecord(value: unknown): Record<string, string> {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return {};
    }
    const record: Record<string, string> = {};
    for (const [key, v] of Object.entries(value)) {
        if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") {
            record[key] = String(v);
        }
    }
    return record;
}
