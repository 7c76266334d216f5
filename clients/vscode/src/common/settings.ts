/**
 * The extension's settings, read once per server start into one fully defaulted object (the
 * server command itself is resolved in serverCommand.ts).
 */

import * as os from "node:os";
import * as vscode from "vscode";
import { RESTART_SETTINGS, SERVER_ID, Settings } from "./constants";
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
}

const RESTORE_VALUES: readonly RestoreEditors[] = ["always", "ask", "never"];
const AUTO_INSTALL_VALUES: readonly AutoInstall[] = ["ask", "always", "never"];

function config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration(SERVER_ID);
}

export function workspaceFolder(): vscode.WorkspaceFolder | undefined {
    return vscode.workspace.workspaceFolders?.[0];
}

/** Reads every setting, falling back to the default for values of the wrong type. */
export function readSettings(): GroundhogSettings {
    const cfg = config();
    const command = cfg.get<unknown>(Settings.serverCommand, []);
    const env = cfg.get<unknown>(Settings.serverEnv, {});
    const restore = cfg.get<unknown>(Settings.restoreEditors, "ask");
    const throttle = cfg.get<unknown>(Settings.editorThrottleMs, 500);
    const storeDir = cfg.get<unknown>(Settings.storeDir, "");
    const autoInstall = cfg.get<unknown>(Settings.autoInstall, "ask");
    return {
        serverCommand: resolveVariables(stringArray(command)),
        serverEnv: stringRecord(env),
        autoInstall: AUTO_INSTALL_VALUES.includes(autoInstall as AutoInstall) ? (autoInstall as AutoInstall) : "ask",
        restoreEditors: RESTORE_VALUES.includes(restore as RestoreEditors) ? (restore as RestoreEditors) : "ask",
        editorTracking: cfg.get<unknown>(Settings.editorTracking, true) !== false,
        editorThrottleMs: typeof throttle === "number" && throttle >= 0 ? throttle : 500,
        storeDir: typeof storeDir === "string" && storeDir.trim() ? (resolveVariables([storeDir.trim()])[0] ?? "") : "",
        readOnly: cfg.get<unknown>(Settings.readOnly, false) === true,
        mcpEnabled: cfg.get<unknown>(Settings.mcpEnabled, true) !== false,
    };
}

/** Whether a configuration change needs the server restarted. */
export function needsRestart(event: vscode.ConfigurationChangeEvent): boolean {
    return RESTART_SETTINGS.some((key) => event.affectsConfiguration(`${SERVER_ID}.${key}`));
}

export function initializationOptions(settings: GroundhogSettings): InitializationOptions {
    const options: InitializationOptions = {
        readOnly: settings.readOnly,
        editorTracking: settings.editorTracking,
    };
    if (settings.storeDir) {
        options.storeDir = settings.storeDir;
    }
    return options;
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

/** Expands `${workspaceFolder}`, `${userHome}` and a leading `~`. */
export function resolveVariables(values: string[]): string[] {
    const folder = workspaceFolder()?.uri.fsPath ?? "";
    const home = os.homedir();
    return values.map((value) =>
        value
            .replace(/\$\{workspaceFolder\}/g, folder)
            .replace(/\$\{userHome\}/g, home)
            .replace(/^~(?=$|\/)/, home),
    );
}
