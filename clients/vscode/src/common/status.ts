/**
 * The status bar item: the active context and its version (kept current from any session's
 * changes); clicking it switches context, or opens the logs when the server is not running.
 */

import * as vscode from "vscode";
import { Commands, SERVER_NAME, STATUS_ITEM_ID } from "./constants";
import type { ServerState } from "./server";
import type { SessionSnapshot } from "./session";

export class StatusItem implements vscode.Disposable {
    private readonly item: vscode.StatusBarItem;
    private serverState: ServerState = "stopped";
    private session: SessionSnapshot | undefined;
    private installing = false;

    constructor() {
        this.item = vscode.window.createStatusBarItem(STATUS_ITEM_ID, vscode.StatusBarAlignment.Left, 50);
        this.item.name = SERVER_NAME;
        this.render();
        this.item.show();
    }

    /** The text shown, as VS Code renders it (icons as `$(name)`); used by tests. */
    get text(): string {
        return this.item.text;
    }

    setServerState(state: ServerState): void {
        this.serverState = state;
        this.render();
    }

    /** While the extension installs the server (installer.ts). */
    setInstalling(installing: boolean): void {
        this.installing = installing;
        this.render();
    }

    setSession(session: SessionSnapshot): void {
        this.session = session;
        this.render();
    }

    private render(): void {
        const item = this.item;
        item.backgroundColor = undefined;
        if (this.installing) {
            item.text = `$(sync~spin) ${SERVER_NAME}: installing the server`;
            item.tooltip = `${SERVER_NAME}: installing the server into a private environment. Click to show the logs.`;
            item.command = Commands.showLogs;
            return;
        }
        if (this.serverState === "failed") {
            item.text = `$(error) ${SERVER_NAME}`;
            item.tooltip = `${SERVER_NAME}: the server is not running. Click to show the logs.`;
            item.command = Commands.showLogs;
            item.backgroundColor = new vscode.ThemeColor("statusBarItem.errorBackground");
            return;
        }
        if (this.serverState !== "running" || this.session?.active === undefined) {
            item.text = `$(sync~spin) ${SERVER_NAME}`;
            item.tooltip = `${SERVER_NAME}: starting the server…`;
            item.command = Commands.showLogs;
            return;
        }
        const active = this.session.active;
        const readOnly = this.session.readOnly ? " $(lock)" : "";
        item.text = active === null ? `$(history) ${SERVER_NAME}: no context${readOnly}` : `$(history) ${active.name} v${active.version}${readOnly}`;
        item.tooltip = this.tooltip();
        item.command = Commands.switchContext;
    }

    private tooltip(): vscode.MarkdownString {
        const md = new vscode.MarkdownString(undefined, true);
        const status = this.session?.status;
        const active = this.session?.active;
        md.appendMarkdown(`**${SERVER_NAME}**\n\n`);
        md.appendMarkdown(active ? `Context \`${active.name}\`, version ${active.version}\n\n` : "No active context\n\n");
        if (status) {
            md.appendMarkdown(`${status.contexts} context(s) · session \`${status.session.id}\`${status.session.readOnly ? " · read-only" : ""}\n\n`);
            md.appendMarkdown(`Store: \`${status.store.path}\`${status.store.encrypted ? " (encrypted)" : ""}\n\n`);
        }
        md.appendMarkdown("Click to switch context.");
        return md;
    }

    dispose(): void {
        this.item.dispose();
    }
}
