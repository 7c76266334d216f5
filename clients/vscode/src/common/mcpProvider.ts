/**
 * Wires mcp.ts to VS Code: offers the Groundhog MCP server to VS Code's agent when this VS Code
 * has the API, and updates the offer when its settings or the workspace folders change.
 */

import * as vscode from "vscode";
import { MCP_SETTINGS, SERVER_ID } from "./constants";
import type { Logger } from "./logger";
import { type McpInputs, type McpServerOffer, offerMcpServer } from "./mcp";
import { readSettings, workspaceFolder } from "./settings";

function inputs(version: string | undefined): McpInputs {
    const settings = readSettings();
    return {
        settings,
        folder: workspaceFolder()?.uri.fsPath,
        env: { ...process.env, ...settings.serverEnv },
        version,
    };
}

/** Registers the provider (or logs that it cannot); the disposable ends the offer. */
export function registerMcpServer(logger: Logger, extensionVersion: string | undefined): vscode.Disposable {
    const offer: McpServerOffer | undefined = offerMcpServer(vscode, () => inputs(extensionVersion), logger);
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
    );
}
