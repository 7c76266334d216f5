/**
 * The "Groundhog" tree view: the workspace's contexts, and the snapshots and recent history of
 * the active context. Items run the palette commands with arguments, so a click switches context
 * or opens a diff.
 */

import * as vscode from "vscode";
import type { GroundhogApi } from "./api";
import { Commands } from "./constants";
import type { Logger } from "./logger";
import type { ContextSummary, HistoryEntry, Snapshot } from "./protocol";
import type { Session } from "./session";

const HISTORY_LIMIT = 20;
export const RECOVERY_POINT_LABEL = "recovery point";
const REFRESH_DELAY_MS = 250;

type Node =
    | { kind: "group"; group: "contexts" | "snapshots" | "history"; context?: string }
    | { kind: "context"; summary: ContextSummary }
    | { kind: "snapshot"; snapshot: Snapshot }
    | { kind: "history"; context: string; entry: HistoryEntry }
    | { kind: "message"; text: string };

export function age(timestamp: string, now = Date.now()): string {
    const seconds = Math.max(0, Math.round((now - Date.parse(timestamp)) / 1000));
    if (Number.isNaN(seconds)) {
        return timestamp;
    }
    if (seconds < 60) {
        return `${seconds}s ago`;
    }
    if (seconds < 3600) {
        return `${Math.round(seconds / 60)}m ago`;
    }
    if (seconds < 86400) {
        return `${Math.round(seconds / 3600)}h ago`;
    }
    return `${Math.round(seconds / 86400)}d ago`;
}

export class ContextTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
    private readonly emitter = new vscode.EventEmitter<Node | undefined>();
    private timer: ReturnType<typeof setTimeout> | undefined;
    readonly onDidChangeTreeData = this.emitter.event;

    constructor(
        private readonly api: GroundhogApi,
        private readonly session: Session,
        private readonly logger: Logger,
    ) {}

    /** Reloads the view; bursts of changes (an assistant writing fast) cost one reload. */
    refresh(): void {
        this.timer ??= setTimeout(() => {
            this.timer = undefined;
            this.emitter.fire(undefined);
        }, REFRESH_DELAY_MS);
    }

    getTreeItem(node: Node): vscode.TreeItem {
        switch (node.kind) {
            case "group":
                return this.groupItem(node.group, node.context);
            case "context":
                return contextItem(node.summary);
            case "snapshot":
                return snapshotItem(node.snapshot);
            case "history":
                return historyItem(node.context, node.entry);
            case "message":
                return new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        }
    }

    async getChildren(node?: Node): Promise<Node[]> {
        const active = this.session.current.active?.name;
        if (node === undefined) {
            if (this.session.current.active === undefined) {
                return [{ kind: "message", text: "The Groundhog server is not running." }];
            }
            const groups: Node[] = [{ kind: "group", group: "contexts" }];
            if (active !== undefined) {
                groups.push({ kind: "group", group: "snapshots", context: active }, { kind: "group", group: "history", context: active });
            }
            return groups;
        }
        if (node.kind !== "group") {
            return [];
        }
        try {
            switch (node.group) {
                case "contexts":
                    return (await this.api.list()).contexts.map((summary) => ({ kind: "context", summary }));
                case "snapshots": {
                    const { snapshots } = await this.api.snapshots({ context: node.context });
                    return snapshots.length > 0
                        ? snapshots.map((snapshot) => ({ kind: "snapshot", snapshot }))
                        : [{ kind: "message", text: "No snapshots yet" }];
                }
                case "history": {
                    const { entries } = await this.api.history({ context: node.context, limit: HISTORY_LIMIT });
                    const context = node.context ?? "";
                    return entries.map((entry) => ({ kind: "history", context, entry }));
                }
            }
        } catch (error) {
            this.logger.error(`Loading the ${node.group} view failed`, error);
            return [{ kind: "message", text: `Cannot load: ${error instanceof Error ? error.message : String(error)}` }];
        }
    }

    private groupItem(group: "contexts" | "snapshots" | "history", context?: string): vscode.TreeItem {
        const labels = { contexts: "Contexts", snapshots: "Snapshots", history: "Recent history" };
        const item = new vscode.TreeItem(labels[group], vscode.TreeItemCollapsibleState.Expanded);
        item.id = `group:${group}`;
        item.description = group === "contexts" ? undefined : context;
        item.iconPath = new vscode.ThemeIcon(group === "contexts" ? "layers" : group === "snapshots" ? "device-camera" : "history");
        return item;
    }

    dispose(): void {
        clearTimeout(this.timer);
        this.emitter.dispose();
    }
}

function contextItem(summary: ContextSummary): vscode.TreeItem {
    const item = new vscode.TreeItem(summary.name, vscode.TreeItemCollapsibleState.None);
    const elsewhere = summary.sessions > (summary.status === "active" ? 1 : 0) ? " · open elsewhere" : "";
    item.description = `v${summary.version}${summary.status === "active" ? " · active" : ""}${elsewhere}`;
    item.tooltip = `${summary.name}: version ${summary.version}, changed ${age(summary.lastModified)}; active in ${summary.sessions} session(s)`;
    item.iconPath = new vscode.ThemeIcon(summary.status === "active" ? "pass-filled" : "circle-large-outline");
    item.contextValue = summary.status === "active" ? "context.active" : "context";
    item.command = { command: Commands.switchContext, title: "Switch Context", arguments: [summary.name] };
    return item;
}

function snapshotItem(snapshot: Snapshot): vscode.TreeItem {
    const item = new vscode.TreeItem(snapshot.label ?? snapshot.id, vscode.TreeItemCollapsibleState.None);
    item.description = `v${snapshot.version} · ${age(snapshot.timestamp)}`;
    item.tooltip = `Snapshot ${snapshot.id} of ${snapshot.context} at version ${snapshot.version} (${snapshot.timestamp}, ${snapshot.sizeBytes} bytes). Click to compare with the head.`;
    item.iconPath = new vscode.ThemeIcon("device-camera");
    // recovery points (PROTOCOL.md decision 11: that label) are the store's to prune: no Delete
    item.contextValue = snapshot.label === RECOVERY_POINT_LABEL ? "snapshot.recoveryPoint" : "snapshot";
    item.command = {
        command: Commands.showDiff,
        title: "Compare with Head",
        arguments: [{ context: snapshot.context, fromVersion: snapshot.version }],
    };
    return item;
}

function historyItem(context: string, entry: HistoryEntry): vscode.TreeItem {
    const item = new vscode.TreeItem(`v${entry.version} ${entry.kind}`, vscode.TreeItemCollapsibleState.None);
    const keys = entry.changedKeys.length > 0 ? entry.changedKeys.join(", ") : "no keys";
    item.description = `${age(entry.timestamp)} · ${keys}`;
    item.tooltip = `${context} v${entry.version}: ${entry.kind} at ${entry.timestamp}; changed ${keys}`;
    item.iconPath = new vscode.ThemeIcon("git-commit");
    item.contextValue = "history";
    if (entry.version > 1) {
        item.command = {
            command: Commands.showDiff,
            title: "Show Change",
            arguments: [{ context, fromVersion: entry.version - 1, toVersion: entry.version }],
        };
    }
    return item;
}
