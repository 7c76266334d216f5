/**
 * The extension's settings, read once per server start into one fully defaulted object (the
 * rules and defaults are in settingValues.ts; the server command itself is resolved in
 * serverCommand.ts).
 */

import * as os from "node:os";
import * as vscode from "vscode";
import { RESTART_SETTINGS, SERVER_ID } from "./constants";
import { type GroundhogSettings, settingsFrom } from "./settingValues";

export { initializationOptions } from "./settingValues";
export type { AutoInstall, GroundhogSettings, RestoreEditors } from "./settingValues";

export function workspaceFolder(): vscode.WorkspaceFolder | undefined {
    return vscode.workspace.workspaceFolders?.[0];
}

/** Reads every setting, falling back to the default for values of the wrong type or out of range. */
export function readSettings(): GroundhogSettings {
    const cfg = vscode.workspace.getConfiguration(SERVER_ID);
    return settingsFrom((key) => cfg.get<unknown>(key), resolveVariables);
}

/** Whether a configuration change needs the server restarted. */
export function needsRestart(event: vscode.ConfigurationChangeEvent): boolean {
    return RESTART_SETTINGS.some((key) => event.affectsConfiguration(`${SERVER_ID}.${key}`));
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
