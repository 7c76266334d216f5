/**
 * Sends `context/didChangeEditor` (the active document and the cursors/selections) when the
 * active editor or a selection changes, throttled. Open/close/change/save reach the server
 * through the language client's standard `textDocument/*` notifications.
 *
 * Every notification carries the last known selections of every document open in a tab, the
 * active one first, so a background tab keeps its cursors in the server's state (and a document
 * that is loaded but in no tab has none).
 */

import * as vscode from "vscode";
import { ClientNotifications } from "./constants";
import type { DidChangeEditorParams, DocumentSelections, Range } from "./protocol";
import { throttle, type Throttled } from "./throttle";

/** Schemes of documents the server tracks (the language client's document selector). */
export const TRACKED_SCHEMES: ReadonlySet<string> = new Set(["file", "untitled"]);

export function isTracked(uri: vscode.Uri): boolean {
    return TRACKED_SCHEMES.has(uri.scheme);
}

export function toProtocolRange(range: vscode.Range): Range {
    return {
        start: { line: range.start.line, character: range.start.character },
        end: { line: range.end.line, character: range.end.character },
    };
}

export class EditorTracker implements vscode.Disposable {
    private readonly selections = new Map<string, Range[]>();
    private readonly disposables: vscode.Disposable[] = [];
    private send: Throttled<DidChangeEditorParams>;
    private enabled = true;

    constructor(
        private readonly notify: (method: string, params: DidChangeEditorParams) => Promise<void>,
        throttleMs: number,
    ) {
        this.send = this.makeSender(throttleMs);
        for (const editor of vscode.window.visibleTextEditors) {
            this.remember(editor);
        }
        this.disposables.push(
            vscode.window.onDidChangeActiveTextEditor((editor) => {
                if (editor === undefined || isTracked(editor.document.uri)) {
                    if (editor) {
                        this.remember(editor);
                    }
                    this.queue();
                }
            }),
            vscode.window.onDidChangeTextEditorSelection((event) => {
                if (isTracked(event.textEditor.document.uri)) {
                    this.remember(event.textEditor);
                    this.queue();
                }
            }),
            vscode.workspace.onDidCloseTextDocument((document) => {
                this.selections.delete(document.uri.toString());
            }),
            // A closed tab takes its cursors out of the state.
            vscode.window.tabGroups.onDidChangeTabs((event) => {
                if (event.closed.length > 0) {
                    this.queue();
                }
            }),
        );
    }

    /** Applies `groundhog.editorTracking` and `groundhog.editorThrottleMs`. */
    configure(enabled: boolean, throttleMs: number): void {
        this.enabled = enabled;
        this.send.cancel();
        this.send = this.makeSender(throttleMs);
    }

    /** The state the server would be told now. */
    currentState(): DidChangeEditorParams {
        const active = vscode.window.activeTextEditor;
        const open = new Set(
            vscode.window.tabGroups.all.flatMap((group) =>
                group.tabs.flatMap((tab) => (tab.input instanceof vscode.TabInputText ? [tab.input.uri.toString()] : [])),
            ),
        );
        const selections: DocumentSelections[] = [];
        let activeUri: string | null = null;
        if (active && isTracked(active.document.uri)) {
            activeUri = active.document.uri.toString();
            selections.push({ uri: activeUri, ranges: active.selections.map(toProtocolRange) });
        }
        for (const [uri, ranges] of this.selections) {
            if (uri !== activeUri && open.has(uri)) {
                selections.push({ uri, ranges });
            }
        }
        return { activeUri, selections };
    }

    /**
     * Takes the reported cursors of the documents this extension host has not seen a cursor of:
     * after a window reload VS Code brings back the tabs by itself, and shows only the active one,
     * so without these the background tabs would lose their cursors in the server's state.
     */
    adoptSelections(reported: readonly DocumentSelections[]): void {
        for (const { uri, ranges } of reported) {
            if (!this.selections.has(uri)) {
                this.selections.set(uri, ranges);
            }
        }
    }

    /**
     * Loads the document of every file tab that VS Code has not loaded: after a window reload it
     * loads only the visible ones, and the server knows a document as open only from the language
     * client's `didOpen`, so without this a reloaded window would report (and the server persist)
     * its visible editors only.
     */
    async loadTabDocuments(): Promise<void> {
        if (!this.enabled) {
            return;
        }
        const loaded = new Set(vscode.workspace.textDocuments.map((document) => document.uri.toString()));
        const missing = vscode.window.tabGroups.all.flatMap((group) =>
            group.tabs.flatMap((tab) =>
                tab.input instanceof vscode.TabInputText && tab.input.uri.scheme === "file" && !loaded.has(tab.input.uri.toString()) ? [tab.input.uri] : [],
            ),
        );
        // A file deleted since stays a tab without a document, as in VS Code.
        await Promise.all(missing.map((uri) => vscode.workspace.openTextDocument(uri).then(undefined, () => undefined)));
    }

    /** Queues a notification of the current state (throttled). */
    queue(): void {
        if (this.enabled) {
            this.send(this.currentState());
        }
    }

    /** Sends the current state now, e.g. after a restore or a server start. */
    sendNow(): void {
        if (this.enabled) {
            this.send(this.currentState());
            this.send.flush();
        }
    }

    private remember(editor: vscode.TextEditor): void {
        if (isTracked(editor.document.uri)) {
            this.selections.set(editor.document.uri.toString(), editor.selections.map(toProtocolRange));
        }
    }

    private makeSender(throttleMs: number): Throttled<DidChangeEditorParams> {
        return throttle((params: DidChangeEditorParams) => {
            void this.notify(ClientNotifications.didChangeEditor, params).catch(() => undefined);
        }, throttleMs);
    }

    dispose(): void {
        this.send.cancel();
        for (const disposable of this.disposables) {
            disposable.dispose();
        }
    }
}
