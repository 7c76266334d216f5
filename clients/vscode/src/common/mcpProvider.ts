/**
 * Wires mcp.ts to VS Code: offers the Groundhog MCP server to VS Code's agent when this VS Code
 * has the API, and updates the offer when its settings or the workspace folders change, or the
 * server was installed.
 */

import * as vscode from "vscode";
import { MCP_SETTINGS, SERVER_ID } from "./constants";
import type { ServerInstaller } from "./installer";
import type { Logger } from "./logger";
import { type McpInputs, type McpServerOffer, offerMcpServer } from "./mcp";
import { readSettings, workspaceFolder } from "./settings";

function inputs(version: string | undefined, installer: ServerInstaller): McpInputs {
    const settings = readSettings();
    return {
        settings,
        folder: workspaceFolder()?.uri.fsPath,
        env: { ...process.env, ...settings.serverEnv },
        version,
        privatePython: installer.installed(),
    };
}

/** Registers the provider (or logs that it cannot); the disposable ends the offer. */
export function registerMcpServer(logger: Logger, extensionVersion: string | undefined, installer: ServerInstaller): vscode.Disposable {
    const offer: McpServerOffer | undefined = offerMcpServer(vscode, () => inputs(extensionVersion, installer), logger);
    if (offer === undefined) {
        return new vscode.Disposable(() => undefined);
    }
    return vscode.Disposable.from(
        offer,
        vscode.workspace.onDidChangeConfiguration((event) => {
            if (MCP_SETTINGS.some((key) => event.affectsConfiguration(`${SERVER_ID}.${key}`))) {
                offer.update();
            }
        }),
        vscode.workspace.onDidChangeWorkspaceFolders(() => {
            offer.update();
        }),
        installer.onDidInstall(() => {
            offer.update();
        }),
    );
}
