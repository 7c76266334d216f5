/**
 * Brings back the editors of an earlier session on `context/didRestore`: reopens its documents,
 * puts the cursors/selections back and makes its active document active again, as allowed by
 * `groundhog.restoreEditors` (`always`, `ask`, `never`).
 */

import * as vscode from "vscode";
import { SERVER_NAME } from "./constants";
import { isTracked } from "./editorTracker";
import type { Logger } from "./logger";
import type { DidRestoreParams, EditorState, Range } from "./protocol";
import type { RestoreEditors } from "./settings";

export interface RestoreOutcome {
    context: string;
    version: number;
    /** What happened: restored, declined (by the setting or the user), or nothing to do. */
    result: "restored" | "declined" | "nothing";
    opened: string[];
    missing: string[];
    activeUri: string | null;
    /** The cursors/selections the server reported, per document. */
    selections: EditorState["selections"];
}

function toSelection(range: Range): vscode.Selection {
    return new vscode.Selection(range.start.line, range.start.character, range.end.line, range.end.character);
}

/**
 * The documents of `editor` to reopen, in their stored order. `openDocuments` also lists
 * documents an editor only loaded (by another extension, or a settings file being written);
 * those shown in an editor are the ones with cursors, so only they come back when there are any.
 */
function restorableUris(editor: EditorState): vscode.Uri[] {
    const shown = new Set(editor.selections.map((s) => s.uri));
    if (editor.activeUri !== null) {
        shown.add(editor.activeUri);
    }
    const inEditors = editor.openDocuments.filter((doc) => shown.has(doc.uri));
    const uris: vscode.Uri[] = [];
    for (const doc of inEditors.length > 0 ? inEditors : editor.openDocuments) {
        try {
            const uri = vscode.Uri.parse(doc.uri, true);
            if (uri.scheme === "file") {
                uris.push(uri);
            }
        } catch {
            // An unparsable URI from another editor: nothing to reopen.
        }
    }
    return uris;
}

function isOpenInTab(uri: vscode.Uri): boolean {
    const target = uri.toString();
    return vscode.window.tabGroups.all.some((group) =>
        group.tabs.some((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === target),
    );
}

async function exists(uri: vscode.Uri): Promise<boolean> {
    try {
        await vscode.workspace.fs.stat(uri);
        return true;
    } catch {
        return false;
    }
}

export async function restoreEditors(
    params: DidRestoreParams,
    policy: RestoreEditors,
    logger: Logger,
): Promise<RestoreOutcome> {
    const editor = params.editor;
    const outcome: RestoreOutcome = {
        context: params.context,
        version: params.version,
        result: "nothing",
        opened: [],
        missing: [],
        activeUri: editor.activeUri,
        selections: editor.selections,
    };
    const uris = restorableUris(editor);
    const toOpen = uris.filter((uri) => !isOpenInTab(uri));
    const active = vscode.window.activeTextEditor;
    const activeMatches = editor.activeUri === null || active?.document.uri.toString() === editor.activeUri;
    if (toOpen.length === 0 && activeMatches) {
        logger.info(`Restore of '${params.context}' v${params.version}: the editors are already as they were.`);
        return outcome;
    }
    if (policy === "never") {
        outcome.result = "declined";
        return outcome;
    }
    if (policy === "ask") {
        const choice = await vscode.window.showInformationMessage(
            `${SERVER_NAME}: reopen ${uris.length} editor(s) of your last session in context '${params.context}'?`,
            "Reopen",
            "Not now",
        );
        if (choice !== "Reopen") {
            outcome.result = "declined";
            return outcome;
        }
    }
    await reopen(editor, uris, outcome, logger);
    outcome.result = "restored";
    logger.info(`Restored ${outcome.opened.length} editor(s) of '${params.context}' v${params.version}; missing: ${outcome.missing.length}.`);
    return outcome;
}

async function reopen(editor: EditorState, uris: vscode.Uri[], outcome: RestoreOutcome, logger: Logger): Promise<void> {
    const selections = new Map(editor.selections.map((s) => [s.uri, s.ranges]));
    const activeUri = editor.activeUri;
    // The active document last, so it ends up focused.
    const ordered = [...uris.filter((u) => u.toString() !== activeUri), ...uris.filter((u) => u.toString() === activeUri)];
    for (const uri of ordered) {
        const key = uri.toString();
        if (!(await exists(uri))) {
            outcome.missing.push(key);
            continue;
        }
        try {
            const document = await vscode.workspace.openTextDocument(uri);
            const shown = await vscode.window.showTextDocument(document, { preview: false, preserveFocus: key !== activeUri });
            const ranges = selections.get(key) ?? selections.get(document.uri.toString());
            if (ranges && ranges.length > 0) {
                shown.selections = ranges.map(toSelection);
                shown.revealRange(shown.selection, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
            }
            outcome.opened.push(key);
        } catch (error) {
            logger.error(`Reopening ${key} failed`, error);
            outcome.missing.push(key);
        }
    }
    if (activeUri !== null && !isTracked(vscode.Uri.parse(activeUri))) {
        outcome.activeUri = null;
    }
}

/** Runs the restore of each server session and remembers its outcome. */
export class EditorRestorer implements vscode.Disposable {
    private readonly emitter = new vscode.EventEmitter<RestoreOutcome>();
    /** Fires when the editors of a `context/didRestore` have been handled. */
    readonly onDidRestore = this.emitter.event;
    private last: RestoreOutcome | undefined;
    private pending: Promise<RestoreOutcome | undefined> | undefined;

    constructor(
        private readonly logger: Logger,
        private readonly policy: () => RestoreEditors,
    ) {}

    get lastOutcome(): RestoreOutcome | undefined {
        return this.last;
    }

    /** A new server session started: its restore, if any, is still to come. */
    sessionStarted(): void {
        this.pending = undefined;
    }

    handle(params: DidRestoreParams): void {
        this.logger.info(`The server reports the editors of '${params.context}' v${params.version}: ${params.editor.openDocuments.length} document(s).`);
        this.logger.debug(`Reported documents: ${params.editor.openDocuments.map((d) => d.uri).join(", ")}`);
        this.pending = restoreEditors(params, this.policy(), this.logger).then(
            (outcome) => {
                this.last = outcome;
                this.emitter.fire(outcome);
                return outcome;
            },
            (error: unknown) => {
                this.logger.error("Restoring the editors failed", error);
                return undefined;
            },
        );
    }

    /** The outcome of this session's restore once it is settled; undefined when there was none. */
    settled(): Promise<RestoreOutcome | undefined> {
        return this.pending ?? Promise.resolve(undefined);
    }

    dispose(): void {
        this.emitter.dispose();
    }
}
