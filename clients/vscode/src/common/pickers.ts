/**
 * Quick picks over the versions of a context (history entries and snapshots), one of them with a
 * live preview of each highlighted version in VS Code's diff editor.
 */

import * as vscode from "vscode";
import type { GroundhogApi } from "./api";
import { showVersionDiff } from "./documents";
import type { HistoryEntry, Snapshot } from "./protocol";
import { age } from "./tree";

/** A version the user can pick: a history entry or a snapshot. */
export interface VersionPick extends vscode.QuickPickItem {
    version: number;
    snapshotId?: string;
    /** The snapshot's label (or id), for messages. */
    snapshotName?: string;
}

export function historyPick(entry: HistoryEntry): VersionPick {
    const keys = entry.changedKeys.length > 0 ? entry.changedKeys.join(", ") : "no keys changed";
    return { label: `$(git-commit) v${entry.version}`, description: `${entry.kind} · ${age(entry.timestamp)}`, detail: keys, version: entry.version };
}

function snapshotPick(snapshot: Snapshot): VersionPick {
    return {
        label: `$(device-camera) ${snapshot.label ?? snapshot.id}`,
        description: `v${snapshot.version} · ${age(snapshot.timestamp)}`,
        detail: `snapshot ${snapshot.id}`,
        version: snapshot.version,
        snapshotId: snapshot.id,
        snapshotName: snapshot.label ?? snapshot.id,
    };
}

/** History entries and snapshots of `context` as pick items, snapshots first. */
export async function versionPicks(api: GroundhogApi, context: string, skipVersion?: number): Promise<VersionPick[]> {
    const [{ entries }, { snapshots }] = await Promise.all([
        api.history({ context, limit: 50 }),
        api.snapshots({ context }),
    ]);
    const picks: VersionPick[] = [];
    if (snapshots.length > 0) {
        picks.push({ label: "Snapshots", kind: vscode.QuickPickItemKind.Separator, version: -1 }, ...snapshots.map(snapshotPick));
    }
    const history = entries.filter((e) => e.version !== skipVersion);
    if (history.length > 0) {
        picks.push({ label: "History", kind: vscode.QuickPickItemKind.Separator, version: -1 }, ...history.map(historyPick));
    }
    return picks;
}

/**
 * A quick pick over versions that previews each highlighted version against `against` in the
 * diff editor, without taking the focus away from the pick.
 */
export function pickVersionWithPreview(title: string, picks: VersionPick[], context: string, against: number): Promise<VersionPick | undefined> {
    return new Promise((resolve) => {
        const quickPick = vscode.window.createQuickPick<VersionPick>();
        quickPick.title = title;
        quickPick.placeholder = "Highlight a version to preview the change, Enter to choose it";
        quickPick.items = picks;
        quickPick.ignoreFocusOut = true;
        let timer: ReturnType<typeof setTimeout> | undefined;
        let chosen: VersionPick | undefined;
        quickPick.onDidChangeActive((active) => {
            const item = active[0];
            if (timer !== undefined) {
                clearTimeout(timer);
            }
            if (item !== undefined && item.version > 0) {
                timer = setTimeout(() => {
                    void showVersionDiff({ context, version: against }, { context, version: item.version }, { preview: true, preserveFocus: true });
                }, 250);
            }
        });
        quickPick.onDidAccept(() => {
            chosen = quickPick.selectedItems[0];
            quickPick.hide();
        });
        quickPick.onDidHide(() => {
            if (timer !== undefined) {
                clearTimeout(timer);
            }
            quickPick.dispose();
            resolve(chosen);
        });
        quickPick.show();
    });
}
