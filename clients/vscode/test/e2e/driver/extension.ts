/**
 * Test-only extension that drives the real Groundhog extension inside a real VS Code extension
 * host (code-server): it runs the extension's commands, checks what VS Code and the server then
 * show, and writes every step to `$GROUNDHOG_E2E_DIR/result-<phase>.json` for the runner.
 */

import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import { renderContextJson } from "../../../src/common/api";
import type { GroundhogExtensionApi } from "../../../src/extension";
import type { EditorState, Snapshot, StatusResult } from "../../../src/common/protocol";
import {
    ACTIVE_FILE,
    type CheckpointAnswer,
    type CheckpointRequest,
    CONTROL_ENV,
    FIXTURE,
    type FixtureFile,
    MCP_SERVER_FILE,
    MCP_SERVER_ID,
    type McpServerCheck,
    OTHER_CONTEXT,
    type Phase,
    type PhaseResult,
    type SimpleRange,
    SNAPSHOT_LABEL,
    type StepRecord,
} from "../shared";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Driver {
    readonly steps: StepRecord[] = [];
    api!: GroundhogExtensionApi;

    constructor(
        readonly dir: string,
        readonly phase: Phase,
    ) {}

    async step<T>(name: string, run: () => Promise<T>): Promise<T> {
        const started = Date.now();
        try {
            const detail = await run();
            this.steps.push({ name, ok: true, ms: Date.now() - started, detail: detail === undefined ? undefined : detail });
            return detail;
        } catch (error) {
            this.steps.push({ name, ok: false, ms: Date.now() - started, detail: error instanceof Error ? error.message : String(error) });
            throw error;
        }
    }

    write(result: PhaseResult): void {
        const file = join(this.dir, `result-${this.phase}.json`);
        writeFileSync(`${file}.tmp`, JSON.stringify(result, null, 2));
        renameSync(`${file}.tmp`, file);
    }

    /** Asks the runner to look at the page (status bar, notifications) and waits for its answer. */
    async checkpoint(name: string, request: CheckpointRequest): Promise<CheckpointAnswer> {
        const base = join(this.dir, `checkpoint-${this.phase}-${name}`);
        writeFileSync(`${base}.request`, JSON.stringify(request));
        const answer = await waitFor(
            () => (existsSync(`${base}.done`) ? (JSON.parse(readFileSync(`${base}.done`, "utf8")) as CheckpointAnswer) : undefined),
            (a) => a !== undefined,
            60000,
            `the runner's answer to checkpoint ${name}`,
        );
        if (!answer?.ok) {
            throw new Error(
            `checkpoint ${name} failed: ${answer?.error ?? "?"}; status bar: ${JSON.stringify(answer?.statusTexts)}; ` +
                `notifications: ${JSON.stringify(answer?.notifications)}; side bar: ${JSON.stringify(answer?.sidebar)}; ` +
                `quick input: ${JSON.stringify(answer?.quickInput)}; dialog: ${JSON.stringify(answer?.dialog)}; ` +
                `diff: ${JSON.stringify(answer?.diff)} (${answer?.diffInserted ?? 0} inserted)`,
        );
        }
        return answer;
    }
}

function check(condition: boolean, message: string): asserts condition {
    if (!condition) {
        throw new Error(message);
    }
}

async function waitFor<T>(probe: () => Promise<T> | T, ok: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe();
        if (ok(value)) {
            return value;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(value)}`);
        }
        await sleep(100);
    }
}

function folder(): vscode.Uri {
    const first = vscode.workspace.workspaceFolders?.[0];
    check(first !== undefined, "no workspace folder is open");
    return first.uri;
}

function fileUri(name: string): vscode.Uri {
    return vscode.Uri.joinPath(folder(), name);
}

function toSelection(range: SimpleRange): vscode.Selection {
    return new vscode.Selection(range.start[0], range.start[1], range.end[0], range.end[1]);
}

function simple(selection: vscode.Selection): SimpleRange {
    return { start: [selection.start.line, selection.start.character], end: [selection.end.line, selection.end.character] };
}

function openTabUris(): string[] {
    return vscode.window.tabGroups.all.flatMap((group) =>
        group.tabs.flatMap((tab) => (tab.input instanceof vscode.TabInputText ? [tab.input.uri.toString()] : [])),
    );
}

/** Runs Compare Versions with `args` and waits for its diff tab: the tab and its two documents. */
async function compareVersions(args: object, timeoutMs: number): Promise<{ label: string; input: vscode.TabInputTextDiff }> {
    await vscode.commands.executeCommand("groundhog.showDiff", args);
    const tab = await waitFor(
        () => vscode.window.tabGroups.activeTabGroup.activeTab,
        (t) => t?.input instanceof vscode.TabInputTextDiff,
        timeoutMs,
        "a diff tab",
    );
    return { label: tab?.label ?? "", input: tab?.input as vscode.TabInputTextDiff };
}

async function waitForStatus(driver: Driver, text: string): Promise<string> {
    return waitFor(() => driver.api.statusText(), (t) => t.includes(text), 20000, `status bar text '${text}'`);
}

// ---- Phases -------------------------------------------------------------------------------------

async function firstSession(driver: Driver): Promise<void> {
    const api = driver.api;
    await driver.step("the status bar shows the default context at version 1", () => waitForStatus(driver, "default v1"));
    await driver.step("a context change from the server updates the status bar", async () => {
        const updated = await api.api.update({ set: { task: "resume editors", plan: ["snapshot", "edit"] } });
        check(updated.version === 2, `expected version 2, got ${updated.version}`);
        return waitForStatus(driver, "default v2");
    });
    const snapshot = await driver.step("the Take Snapshot command snapshots the active context", async () => {
        const taken = await vscode.commands.executeCommand<Snapshot | undefined>("groundhog.takeSnapshot", SNAPSHOT_LABEL);
        check(taken !== undefined, "the command returned nothing (see the Groundhog log)");
        check(taken.label === SNAPSHOT_LABEL && taken.version === 2 && taken.context === "default", JSON.stringify(taken));
        const { snapshots } = await api.api.snapshots();
        check(snapshots.some((s) => s.id === taken.id), "the snapshot is not listed");
        return taken;
    });
    writeFileSync(join(driver.dir, "snapshot.json"), JSON.stringify(snapshot));
    await driver.step("documents are opened and cursors moved", async () => {
        for (const file of FIXTURE) {
            const editor = await vscode.window.showTextDocument(fileUri(file.name), { preview: false });
            editor.selections = file.selections.map(toSelection);
            await sleep(150);
        }
        check(vscode.window.activeTextEditor?.document.uri.toString() === fileUri(ACTIVE_FILE).toString(), "wrong active editor");
        return openTabUris();
    });
    await driver.step("the server persisted the editor state (via context/didChangeEditor)", async () => {
        const active = fileUri(ACTIVE_FILE).toString();
        const stored = (editor: EditorState | null, file: FixtureFile): string => {
            const ranges = editor?.selections.find((s) => s.uri === fileUri(file.name).toString())?.ranges ?? [];
            return JSON.stringify(ranges.map((r) => ({ start: [r.start.line, r.start.character], end: [r.end.line, r.end.character] })));
        };
        // Persisted at most every editorFlushMs (2 s by default): wait for the last cursor moves.
        const got = await waitFor(
            () => api.api.get(),
            (g) => g.editor?.activeUri === active && FIXTURE.every((f) => stored(g.editor, f) === JSON.stringify(f.selections)),
            15000,
            "the persisted editor state to have every cursor",
        );
        const editor = got.editor;
        check(editor !== null, "no editor state");
        for (const file of FIXTURE) {
            check(editor.openDocuments.some((d) => d.uri === fileUri(file.name).toString()), `${file.name} is not among the open documents`);
        }
        return editor;
    });
    await driver.step("the status bar on the page shows the context and version", () => driver.checkpoint("status", { statusIncludes: "default v2" }));
}

async function resume(driver: Driver): Promise<void> {
    const api = driver.api;
    const snapshot = JSON.parse(readFileSync(join(driver.dir, "snapshot.json"), "utf8")) as Snapshot;
    const restore = await driver.step("the new window gets context/didRestore and reopens the editors", async () => {
        const outcome =
            api.lastRestore() ??
            (await new Promise<NonNullable<ReturnType<typeof api.lastRestore>>>((resolve, reject) => {
                const timer = setTimeout(() => {
                    reject(new Error("no restore within 30 s"));
                }, 30000);
                api.onDidRestore((o) => {
                    clearTimeout(timer);
                    resolve(o);
                });
            }));
        check(outcome.result === "restored", `restore outcome: ${JSON.stringify(outcome)}`);
        check(outcome.context === "default" && outcome.version === 2, JSON.stringify(outcome));
        return outcome;
    });
    await driver.step("the documents are open again, the active one active, with their cursors", async () => {
        const tabs = openTabUris();
        for (const file of FIXTURE) {
            check(tabs.includes(fileUri(file.name).toString()), `${file.name} is not open; tabs: ${JSON.stringify(tabs)}`);
        }
        const active = vscode.window.activeTextEditor;
        check(active?.document.uri.toString() === fileUri(ACTIVE_FILE).toString(), `active: ${active?.document.uri.toString() ?? "none"}`);
        const expectedActive = FIXTURE.find((f) => f.name === ACTIVE_FILE)?.selections;
        check(JSON.stringify(active.selections.map(simple)) === JSON.stringify(expectedActive), `active cursors: ${JSON.stringify(active.selections.map(simple))}`);
        const seen: Record<string, SimpleRange[]> = {};
        // Background tabs keep the cursors the restore put there.
        for (const file of FIXTURE) {
            const editor = await vscode.window.showTextDocument(fileUri(file.name), { preview: false });
            seen[file.name] = editor.selections.map(simple);
            check(JSON.stringify(seen[file.name]) === JSON.stringify(file.selections), `${file.name} cursors: ${JSON.stringify(seen[file.name])}`);
        }
        return { tabs, seen, restored: restore.opened };
    });
    await driver.step("the status bar on the page shows the restored context and version", async () => {
        await waitForStatus(driver, "default v2");
        return driver.checkpoint("status", { statusIncludes: "default v2" });
    });
    await driver.step("New Context (a copy of the active one) becomes active and shows in the status bar", async () => {
        const created = await vscode.commands.executeCommand<{ name: string; version: number } | undefined>("groundhog.newContext", {
            name: OTHER_CONTEXT,
            copyActive: true,
        });
        check(created?.name === OTHER_CONTEXT && created.version === 1, JSON.stringify(created));
        const got = await api.api.get({ context: OTHER_CONTEXT });
        check((got.data as { task?: string }).task === "resume editors", `copied data: ${JSON.stringify(got.data)}`);
        return waitForStatus(driver, `${OTHER_CONTEXT} v1`);
    });
    await driver.step("Switch Context back to default", async () => {
        await vscode.commands.executeCommand("groundhog.switchContext", "default");
        return waitForStatus(driver, "default v2");
    });
    await driver.step("Roll Back To a snapshot restores its data as a new version", async () => {
        await api.api.update({ set: { task: "changed after the snapshot" } });
        await waitForStatus(driver, "default v3");
        const result = await vscode.commands.executeCommand<{ version: number; changedKeys: string[] } | undefined>("groundhog.rollbackTo", {
            snapshotId: snapshot.id,
            confirm: false,
        });
        check(result?.version === 4, `rollback: ${JSON.stringify(result)}`);
        check(JSON.stringify(result.changedKeys) === JSON.stringify(["task"]), `changed keys: ${JSON.stringify(result.changedKeys)}`);
        const got = await api.api.get();
        check((got.data as { task?: string }).task === "resume editors", `data after rollback: ${JSON.stringify(got.data)}`);
        return waitForStatus(driver, "default v4");
    });
    await driver.step("Delete Snapshot (the snapshots view's context menu) deletes one and keeps the others", async () => {
        const commands = await vscode.commands.getCommands(true);
        check(commands.includes("groundhog.removeSnapshot"), "the command is not registered");
        const doomed = await api.api.snapshot({ label: "to delete" });
        const result = await vscode.commands.executeCommand<{ deleted: boolean; id: string } | undefined>("groundhog.removeSnapshot", {
            snapshot: { id: doomed.id, context: doomed.context },
            confirm: false,
        });
        check(result?.deleted === true && result.id === doomed.id, `delete: ${JSON.stringify(result)}`);
        const { snapshots } = await api.api.snapshots();
        check(!snapshots.some((s) => s.id === doomed.id), "the deleted snapshot is still listed");
        check(snapshots.some((s) => s.id === snapshot.id), "another snapshot went with it");
        return result;
    });
    await driver.step("Compare Versions opens VS Code's diff editor on two versions as JSON", async () => {
        const { label, input } = await compareVersions({ context: "default", fromVersion: 2, toVersion: 3 }, 10000);
        check(input.original.scheme === "groundhog" && input.modified.scheme === "groundhog", `diff of ${input.original.toString()}`);
        const [left, right] = await Promise.all([vscode.workspace.openTextDocument(input.original), vscode.workspace.openTextDocument(input.modified)]);
        const leftData = JSON.parse(left.getText()) as { task?: string };
        const rightData = JSON.parse(right.getText()) as { task?: string };
        check(leftData.task === "resume editors" && rightData.task === "changed after the snapshot", `${left.getText()} / ${right.getText()}`);
        await vscode.commands.executeCommand("workbench.action.closeActiveEditor");
        return { original: input.original.toString(), modified: input.modified.toString(), label };
    });
    await largeState(driver);
    await driver.step("a server that cannot start shows an error with Show Logs, and a fixed setting recovers", async () => {
        const config = vscode.workspace.getConfiguration("groundhog");
        const command = config.get<string[]>("server.command");
        await config.update("server.command", ["/nonexistent/groundhog-server"], vscode.ConfigurationTarget.Global);
        await waitFor(() => api.serverState(), (s) => s === "failed", 20000, "the failed state");
        check((api.lastError() ?? "").includes("/nonexistent/groundhog-server"), `error: ${api.lastError() ?? "none"}`);
        await waitForStatus(driver, "Groundhog");
        const answer = await driver.checkpoint("start-failure", { statusIncludes: "Groundhog", notificationIncludes: "cannot run" });
        const firstError = api.lastError();
        // A server that starts and exits at once: the message quotes what it said on stderr.
        await config.update("server.command", [process.execPath, "-e", "console.error('no groundhog here'); process.exit(3)"], vscode.ConfigurationTarget.Global);
        await waitFor(() => api.lastError() ?? "", (e) => e.includes("no groundhog here"), 20000, "the quoted stderr in the error");
        check(api.serverState() === "failed", `state: ${api.serverState()}`);
        const secondError = api.lastError();
        await config.update("server.command", command, vscode.ConfigurationTarget.Global);
        await waitFor(() => api.serverState(), (s) => s === "running", 30000, "the server running again");
        await waitForStatus(driver, "default v4");
        return { firstError, secondError, notifications: answer.notifications };
    });
    await driver.step("Restart Server starts a new session with the same context", async () => {
        const before = api.session().sessionId;
        const ok = await vscode.commands.executeCommand<boolean>("groundhog.restartServer");
        check(ok, "restart failed");
        const after = await waitFor(() => api.session().sessionId, (id) => id !== undefined && id !== before, 20000, "a new session id");
        await waitForStatus(driver, "default v4");
        return { before, after };
    });
    await driver.step("Take Snapshot asks for a label in an input box; the typed label is used", async () => {
        const pending = vscode.commands.executeCommand<Snapshot | undefined>("groundhog.takeSnapshot");
        await driver.checkpoint("snapshot-input", { quickInputIncludes: "A label for the snapshot", type: "typed by the user" });
        const taken = await pending;
        check(taken?.label === "typed by the user" && taken.version === 4, `snapshot: ${JSON.stringify(taken)}`);
        return taken;
    });
    await driver.step("Roll Back To: pick a snapshot in the quick pick, see the diff preview, confirm in the dialog", async () => {
        await api.api.update({ set: { task: "changed again" } }); // v5
        await waitForStatus(driver, "default v5");
        const pending = vscode.commands.executeCommand<{ version: number } | undefined>("groundhog.rollbackTo");
        // Typing filters the picks down to the first snapshot; Enter chooses it.
        await driver.checkpoint("rollback-pick", { quickInputIncludes: SNAPSHOT_LABEL, type: SNAPSHOT_LABEL });
        const dialog = await driver.checkpoint("rollback-confirm", { dialogIncludes: "Roll back 'default' to snapshot", click: "Roll Back" });
        const result = await pending;
        check(result?.version === 6, `rollback: ${JSON.stringify(result)}`);
        const got = await api.api.get();
        check((got.data as { task?: string }).task === "resume editors", `data: ${JSON.stringify(got.data)}`);
        const diffs = vscode.window.tabGroups.all
            .flatMap((g) => g.tabs)
            .flatMap((t) => (t.input instanceof vscode.TabInputTextDiff ? [`${t.input.original.path} -> ${t.input.modified.path}`] : []));
        check(diffs.includes("/default/v5.json -> /default/v2.json"), `diff tabs: ${JSON.stringify(diffs)}`);
        await waitForStatus(driver, "default v6");
        return { dialog: dialog.dialog, diffs };
    });
    await driver.step("switch to the other context and change it before the window reloads", async () => {
        await vscode.commands.executeCommand("groundhog.switchContext", OTHER_CONTEXT);
        await waitForStatus(driver, `${OTHER_CONTEXT} v1`);
        await api.api.update({ set: { note: "the head the next test damages" } });
        const status = await api.api.status();
        writeFileSync(join(driver.dir, "store.json"), JSON.stringify(status.store));
        return waitForStatus(driver, `${OTHER_CONTEXT} v2`);
    });
}

/** The largest message the server reads, and so the most useful `groundhog.snapshotMaxBytes`. */
const STATE_LIMIT = 64 * 1024 * 1024;
/** The size above which VS Code gives a document to no extension (its TextModel._MODEL_SYNC_LIMIT). */
const VSCODE_SYNC_LIMIT = 50 * 1024 * 1024;
const LARGE_CONTEXT = "large";
/** Four values of this size make a state just under STATE_LIMIT, each in an update well under it. */
const LARGE_VALUE = 15 * 1024 * 1024;
const LARGE_KEYS = ["a", "b", "c", "d"];

/** The kind of a failed request's error (a GroundhogError of the extension's bundle, not of this one). */
async function failureKind(request: Promise<unknown>): Promise<string> {
    try {
        await request;
    } catch (error) {
        return String((error as { kind?: unknown }).kind ?? error);
    }
    return "no error";
}

/** What the MCP server offered to VS Code's agent gets as --snapshot-max-bytes, if anything. */
function mcpSnapshotMaxBytes(): string | undefined {
    const args = groundhogMcpServer()?.args ?? [];
    const at = args.indexOf("--snapshot-max-bytes");
    return at < 0 ? undefined : args[at + 1];
}

/**
 * Views of a state at the 64 MiB limit: groundhog.snapshotMaxBytes raised through the
 * configuration API (a restart), four 15 MiB values, Compare Versions from the first version to
 * the head, then the setting put back and the context deleted, so later steps see what they expect.
 */
async function largeState(driver: Driver): Promise<void> {
    const api = driver.api;
    const config = vscode.workspace.getConfiguration("groundhog");
    const restarted = async (before: string | undefined) => {
        await waitFor(() => api.session().sessionId, (id) => id !== undefined && id !== before, 30000, "a new session after the restart");
        await waitFor(() => api.serverState(), (state) => state === "running", 30000, "the server running again");
    };
    const value = (key: string) => (key === "b" ? `${"y".repeat(LARGE_VALUE - 1)}z` : "y".repeat(LARGE_VALUE));
    const created = await driver.step("groundhog.snapshotMaxBytes at 64 MiB: a 15 MiB value refused before is accepted after the restart; the agent's MCP server gets the limit", async () => {
        const made = await api.api.create({ name: LARGE_CONTEXT });
        const refused = await failureKind(api.api.update({ context: LARGE_CONTEXT, set: { a: "y".repeat(LARGE_VALUE) } }));
        check(refused === "TooLarge", `a 15 MiB value with the default limit: ${refused}`);
        check(mcpSnapshotMaxBytes() === undefined, `the MCP server had --snapshot-max-bytes ${mcpSnapshotMaxBytes() ?? ""} at the default`);
        const before = api.session().sessionId;
        // In the workspace's settings, as the mcp phase does: in code-server, writing a user
        // setting hides the machine-overridable groundhog.server.command of the same file.
        await config.update("snapshotMaxBytes", STATE_LIMIT, vscode.ConfigurationTarget.Workspace);
        await restarted(before);
        await waitFor(mcpSnapshotMaxBytes, (limit) => limit === String(STATE_LIMIT), 20000, "the MCP server's --snapshot-max-bytes 67108864");
        return { version: made.version, refused, mcpArgs: groundhogMcpServer()?.args };
    });
    const head = await driver.step("four values of 15 MiB (one update each) and a one-character change make a state just under 64 MiB; more is TooLarge", async () => {
        const started = Date.now();
        for (const key of LARGE_KEYS) {
            await api.api.update({ context: LARGE_CONTEXT, set: { [key]: "y".repeat(LARGE_VALUE) } });
        }
        const changed = await api.api.update({ context: LARGE_CONTEXT, set: { b: value("b") } });
        check(changed.version === created.version + LARGE_KEYS.length + 1, `versions ${created.version} to ${changed.version}`);
        const writesMs = Date.now() - started;
        const beyond = await failureKind(api.api.update({ context: LARGE_CONTEXT, set: { e: "y".repeat(4 * 1024 * 1024) } }));
        check(beyond === "TooLarge", `4 MiB more: ${beyond}`);
        return { version: changed.version, writesMs };
    });
    const diff = await driver.step("Compare Versions from the first version to the head: VS Code shows four lines added, and does not stop the diff early", async () => {
        const started = Date.now();
        const { input } = await compareVersions({ context: LARGE_CONTEXT, fromVersion: created.version, toVersion: head.version }, 30000);
        const uris = [input.original.path, input.modified.path];
        check(JSON.stringify(uris) === JSON.stringify([`/${LARGE_CONTEXT}/v${created.version}.json`, `/${LARGE_CONTEXT}/v${head.version}.json`]), `diff of ${JSON.stringify(uris)}`);
        const openMs = Date.now() - started;
        // What the user sees, read from the page: the head's lines, the four in the middle shown
        // as inserted (the diff is done), and no "The diff algorithm was stopped early" (a `{}`
        // line of the first version changed into the head's `{` made VS Code compare the 60 MiB
        // within lines for its 5 s maxComputationTime, then give up and mark every line changed).
        const answer = await driver.checkpoint("large-diff", {
            diffIncludes: ["{", ...LARGE_KEYS.map((key) => `"${key}": "yyyyyyyy`), "}"],
            diffInserted: LARGE_KEYS.length,
        });
        const stopped = answer.notifications.filter((note) => note.includes("stopped early"));
        check(stopped.length === 0, `the diff gave up: ${JSON.stringify(stopped)}`);
        return {
            original: input.original.toString(),
            modified: input.modified.toString(),
            openMs,
            lines: answer.diff.map((line) => line.slice(0, 16)),
            notifications: answer.notifications,
        };
    });
    await driver.step("the diff's documents: the first version opens as {}; the 60 MiB head is the four values, which VS Code gives no extension (above its 50 MB)", async () => {
        const left = await vscode.workspace.openTextDocument(vscode.Uri.parse(diff.original));
        check(JSON.stringify(JSON.parse(left.getText())) === "{}", `v${created.version}: ${left.getText()}`);
        // What the document provider renders: the head from the server, in one response of ~60 MiB.
        const { data } = await api.api.get({ context: LARGE_CONTEXT, version: head.version });
        const lengths = LARGE_KEYS.map((key) => {
            const text = data[key];
            return typeof text === "string" ? text.length : -1;
        });
        check(lengths.every((length) => length === LARGE_VALUE) && data.b === value("b"), `value lengths: ${JSON.stringify(lengths)}`);
        const rendered = renderContextJson(data);
        let right: vscode.TextDocument | undefined;
        let refused = "";
        try {
            right = await vscode.workspace.openTextDocument(vscode.Uri.parse(diff.modified));
        } catch (error) {
            refused = error instanceof Error ? error.message : String(error);
        }
        if (right !== undefined) {
            // A VS Code without the limit: the document is the head, as rendered.
            const shown = JSON.parse(right.getText()) as Record<string, string>;
            check(right.getText().length === rendered.length && LARGE_KEYS.every((key) => shown[key]?.length === LARGE_VALUE), "the head's document");
        } else {
            check(rendered.length > VSCODE_SYNC_LIMIT && refused.includes("Files above 50MB cannot be synchronized with extensions"), `refused: ${refused}`);
        }
        await vscode.commands.executeCommand("workbench.action.closeActiveEditor");
        return { rendered: rendered.length, lengths, refused: refused || undefined };
    });
    await driver.step("groundhog.snapshotMaxBytes back to the default restarts the server; the large context is deleted; the MCP server loses the flag", async () => {
        await api.api.delete({ name: LARGE_CONTEXT });
        const before = api.session().sessionId;
        await config.update("snapshotMaxBytes", undefined, vscode.ConfigurationTarget.Workspace);
        await restarted(before);
        await waitFor(mcpSnapshotMaxBytes, (limit) => limit === undefined, 20000, "the MCP server without --snapshot-max-bytes");
        check(!(await api.api.list()).contexts.some((c) => c.name === LARGE_CONTEXT), "the large context is still there");
        return waitForStatus(driver, "default v4");
    });
}

async function afterReload(driver: Driver): Promise<void> {
    await driver.step("after a window reload the last switched-to context is active again", async () => {
        await waitForStatus(driver, `${OTHER_CONTEXT} v2`);
        return driver.checkpoint("status", { statusIncludes: `${OTHER_CONTEXT} v2` });
    });
    await driver.step("the tree view lists the contexts, the snapshot and the history", async () => {
        await vscode.commands.executeCommand("workbench.view.extension.groundhog");
        return driver.checkpoint("tree", { sidebarIncludes: ["Contexts", "default", OTHER_CONTEXT, "Snapshots", "Recent history", "v2 update", "v1 create"] });
    });
    await driver.step("the editors are still there", () => {
        const tabs = openTabUris();
        for (const file of FIXTURE) {
            check(tabs.includes(fileUri(file.name).toString()), `${file.name} is not open; tabs: ${JSON.stringify(tabs)}`);
        }
        return Promise.resolve(tabs);
    });
}

async function ask(driver: Driver): Promise<void> {
    const api = driver.api;
    // Subscribed before the question is answered, so the outcome cannot be missed.
    const restored = new Promise<NonNullable<ReturnType<typeof api.lastRestore>>>((resolve) => {
        const done = api.lastRestore();
        if (done) {
            resolve(done);
        }
        api.onDidRestore(resolve);
    });
    await driver.step("the damaged head is recovered and a warning says what was recovered", async () => {
        const answer = await driver.checkpoint("recover", { notificationIncludes: `found damage in context '${OTHER_CONTEXT}'` });
        const note = answer.notifications.find((n) => n.includes("found damage")) ?? "";
        check(note.includes("version 2 was unreadable") && note.includes("version 1 was restored"), `warning: ${note}`);
        const { entries } = await api.api.history({ context: OTHER_CONTEXT, limit: 1 });
        check(entries[0]?.kind === "recover" && entries[0].version === 3, `head: ${JSON.stringify(entries[0])}`);
        await waitForStatus(driver, `${OTHER_CONTEXT} v3`);
        return note;
    });
    await driver.step("the extension asks whether to reopen the editors, and the user clicks Reopen", () =>
        driver.checkpoint("ask", { notificationIncludes: `reopen ${FIXTURE.length} editor(s)`, click: "Reopen" }),
    );
    await driver.step("the editors of the last session come back", async () => {
        const outcome = await Promise.race([
            restored,
            sleep(30000).then(() => {
                throw new Error("no restore within 30 s of the click");
            }),
        ]);
        check(outcome.result === "restored" && outcome.context === OTHER_CONTEXT, JSON.stringify(outcome));
        const tabs = openTabUris();
        for (const file of FIXTURE) {
            check(tabs.includes(fileUri(file.name).toString()), `${file.name} is not open; tabs: ${JSON.stringify(tabs)}`);
        }
        const active = vscode.window.activeTextEditor?.document.uri.toString();
        check(active === fileUri(ACTIVE_FILE).toString(), `active: ${active ?? "none"}`);
        return outcome;
    });
}

/** What VS Code knows of an MCP server (the proposed API `mcpServerDefinitions`, VS Code 1.109+). */
interface KnownMcpServer {
    label: string;
    command?: string;
    args?: readonly string[];
    cwd?: vscode.Uri;
    env?: Record<string, string | number | null>;
}

/** Every MCP server definition VS Code has, from mcp.json files and from extensions' providers. */
function knownMcpServers(): readonly KnownMcpServer[] {
    const lm = (vscode as unknown as { lm?: { mcpServerDefinitions?: readonly KnownMcpServer[] } }).lm;
    check(lm?.mcpServerDefinitions !== undefined, "vscode.lm.mcpServerDefinitions is missing (needs VS Code 1.109+ and --enable-proposed-api)");
    return lm.mcpServerDefinitions;
}

interface LanguageModelNamespace {
    tools: readonly { name: string }[];
    invokeTool(name: string, options: { input: object; toolInvocationToken: undefined }): Thenable<{ content: unknown[] }>;
}

/** `vscode.lm` (VS Code 1.90+; the extension's typings are those of 1.82). */
function languageModel(): LanguageModelNamespace {
    const lm = (vscode as unknown as { lm?: LanguageModelNamespace }).lm;
    check(lm !== undefined, "vscode.lm is missing");
    return lm;
}

/** Calls a tool as VS Code's agent would and answers the text of its result. */
async function invokeText(tool: string, input: object): Promise<string> {
    const result = await languageModel().invokeTool(tool, { input, toolInvocationToken: undefined });
    return result.content.map((part) => (part as { value?: unknown }).value).filter((value): value is string => typeof value === "string").join("");
}

function groundhogMcpServer(): KnownMcpServer | undefined {
    return knownMcpServers().find((server) => server.label === "Groundhog");
}

async function mcp(driver: Driver): Promise<void> {
    const api = driver.api;
    const config = vscode.workspace.getConfiguration("groundhog");
    const [command, ...serveArgs] = config.get<string[]>("server.command") ?? [];
    const expectedArgs = [...serveArgs.slice(0, serveArgs.indexOf("serve")), "mcp", "--workspace", folder().fsPath];
    const server = JSON.parse(readFileSync(join(driver.dir, MCP_SERVER_FILE), "utf8")) as McpServerCheck;
    await driver.step("VS Code lists the Groundhog MCP server the extension provides: the LSP server's command with `mcp --workspace`", async () => {
        const known = await waitFor(groundhogMcpServer, (s) => s !== undefined, 20000, "a Groundhog MCP server among VS Code's");
        check(known !== undefined, "no Groundhog MCP server");
        check(known.command === command, `command: ${String(known.command)}, expected ${String(command)}`);
        check(JSON.stringify(known.args) === JSON.stringify(expectedArgs), `args: ${JSON.stringify(known.args)}, expected ${JSON.stringify(expectedArgs)}`);
        check(known.cwd?.fsPath === folder().fsPath, `cwd: ${known.cwd?.toString() ?? "none"}`);
        return known;
    });
    const { name: context } = (await api.api.status()).active ?? { name: "?" };
    const sessionsOn = async () => (await api.api.list()).contexts.find((c) => c.name === context)?.sessions ?? 0;
    // Counted before VS Code starts the MCP server: its session opens when it connects, not at the first call.
    const before = await sessionsOn();
    await driver.step("VS Code starts it and its agent's tools include Groundhog's (mcp_groundhog_*)", async () => {
        if (!server.available) {
            return `skipped: the server has no mcp command (${server.reason ?? "?"})`;
        }
        await vscode.commands.executeCommand("workbench.mcp.startServer", MCP_SERVER_ID, { waitForLiveTools: true });
        const names = await waitFor(
            () => languageModel().tools.map((tool) => tool.name).filter((name) => name.startsWith("mcp_groundhog_")),
            (found) => ["context_status", "context_update", "resume", "editor_state"].every((tool) => found.includes(`mcp_groundhog_${tool}`)),
            20000,
            "Groundhog's tools among VS Code's language model tools",
        );
        return names;
    });
    await driver.step("a tool call through VS Code runs on this workspace, as one more session on the active context", async () => {
        if (!server.available) {
            return "skipped";
        }
        const { version } = (await api.api.status()).active ?? { version: 0 };
        const status = JSON.parse(await invokeText("mcp_groundhog_context_status", {})) as StatusResult;
        check(status.workspace.uri === folder().toString(), `workspace: ${status.workspace.uri}`);
        check(status.active?.name === context && status.active.version === version, `active: ${JSON.stringify(status.active)}`);
        check(status.session.id !== api.session().sessionId, "the agent got the editor's session");
        const after = await waitFor(sessionsOn, (n) => n === before + 1, 10000, `${before + 1} live sessions on '${context}'`);
        return { session: status.session.id, before, after };
    });
    await driver.step("a change the agent makes through VS Code (confirmed in its dialog) reaches the editor's status bar", async () => {
        if (!server.available) {
            return "skipped";
        }
        const { name: context, version } = (await api.api.status()).active ?? { name: "?", version: 0 };
        // A writing tool (not readOnlyHint): VS Code asks the user first, and the user says Yes.
        const pending = invokeText("mcp_groundhog_context_update", { set: { fromAgent: "VS Code's agent" } });
        const dialog = await driver.checkpoint("agent-update", { dialogIncludes: "Run context_update", click: "Yes" });
        const said = await pending;
        await waitForStatus(driver, `${context} v${version + 1}`);
        const got = await api.api.get();
        check((got.data as { fromAgent?: string }).fromAgent === "VS Code's agent", `data: ${JSON.stringify(got.data)}`);
        await vscode.commands.executeCommand("workbench.mcp.stopServer", MCP_SERVER_ID);
        return { dialog: dialog.dialog, said };
    });
    await driver.step("turning groundhog.mcp.enabled off withdraws the server, on again offers it again, with the same command", async () => {
        // In the workspace's settings: in code-server, writing a user setting hides the
        // machine-overridable groundhog.server.command of the same file from extensions afterwards.
        await config.update("mcp.enabled", false, vscode.ConfigurationTarget.Workspace);
        await waitFor(groundhogMcpServer, (s) => s === undefined, 20000, "the Groundhog MCP server to be withdrawn");
        await config.update("mcp.enabled", undefined, vscode.ConfigurationTarget.Workspace);
        const back = await waitFor(groundhogMcpServer, (s) => s !== undefined, 20000, "the Groundhog MCP server to be offered again");
        check(back !== undefined && back.command === command && JSON.stringify(back.args) === JSON.stringify(expectedArgs), `offered again: ${JSON.stringify(back)}`);
        return back.args;
    });
}

/** Only Python 3.8 on PATH, autoInstall "always": the install fails with one message. */
async function noPython(driver: Driver): Promise<void> {
    const api = driver.api;
    await driver.step("the install fails and the server is not running; nothing else is tried", () => {
        check(api.serverState() === "failed", `state: ${api.serverState()}`);
        check(api.serverOrigin() === undefined, `origin: ${String(api.serverOrigin())}`);
        check(api.statusText().includes("$(error)"), `status: ${api.statusText()}`);
        return Promise.resolve(api.lastError());
    });
    await driver.step("one message says Python 3.11+ is needed, which Python was found, and what to do, with Show Logs", async () => {
        const answer = await driver.checkpoint("no-python", { notificationIncludes: "newest Python found is 3.8.10" });
        // The progress notification may still be fading out: it is not a message.
        const about = answer.notifications.filter((note) => note.includes("Groundhog") && !note.startsWith("Installing the Groundhog server"));
        check(about.length === 1, `expected one message about Groundhog, saw ${JSON.stringify(about)}`);
        const [note = ""] = about;
        check(note.includes("Cannot install the Groundhog server") && note.includes("needs Python 3.11 or newer") && note.includes("Groundhog: Install Server"), note);
        await driver.checkpoint("no-python-logs", { notificationIncludes: "newest Python found is 3.8.10", click: "Show Logs" });
        return note;
    });
}

/** No server, autoInstall "ask": the user clicks Install and the server is installed and works. */
async function install(driver: Driver): Promise<void> {
    const api = driver.api;
    await driver.step("the extension offers to install the server; the user clicks Install", () =>
        driver.checkpoint("offer", { notificationIncludes: "The Groundhog server is not installed", click: "Install" }),
    );
    await driver.step("a progress notification and the status bar show the install", () =>
        driver.checkpoint("progress", { notificationIncludes: "Installing the Groundhog server", statusIncludes: "installing the server" }),
    );
    await driver.step("the server is installed into the private environment and started from it", async () => {
        const started = Date.now();
        await waitFor(() => api.serverState(), (state) => state === "running", 240_000, "the server to run after the install");
        check(api.serverOrigin() === "private", `origin: ${String(api.serverOrigin())}`);
        return { seconds: Math.round((Date.now() - started) / 1000) };
    });
    const active = await driver.step("the status bar shows the active context", async () => {
        await waitFor(() => api.session().active, (a) => a !== undefined && a !== null, 20000, "the active context");
        const { name, version } = api.session().active ?? { name: "?", version: 0 };
        await driver.checkpoint("installed-status", { statusIncludes: `${name} v${version}` });
        return { name, version };
    });
    await driver.step("a command round-trips through the installed server", async () => {
        const taken = await vscode.commands.executeCommand<Snapshot | undefined>("groundhog.takeSnapshot", "after the install");
        check(taken?.label === "after the install" && taken.context === active.name, `snapshot: ${JSON.stringify(taken)}`);
        const updated = await api.api.update({ set: { installedBy: "the extension" } });
        await waitForStatus(driver, `${active.name} v${updated.version}`);
        return taken;
    });
    await driver.step("the MCP server offered to VS Code's agent runs the same private environment", async () => {
        const known = await waitFor(
            groundhogMcpServer,
            (s) => s?.command?.includes("/groundhog.groundhog/servers/") === true,
            20000,
            "the Groundhog MCP server to use the private environment",
        );
        return known?.command;
    });
}

const PHASES: Record<Phase, (driver: Driver) => Promise<void>> = {
    "first-session": firstSession,
    resume,
    "after-reload": afterReload,
    ask,
    mcp,
    "no-python": noPython,
    install,
};

/** Phases on a machine without a server: the first start finds none. */
const NO_SERVER_PHASES: readonly Phase[] = ["no-python", "install"];

export async function activate(): Promise<void> {
    const dir = process.env[CONTROL_ENV];
    if (!dir) {
        return;
    }
    const phase = readFileSync(join(dir, "phase"), "utf8").trim() as Phase;
    const driver = new Driver(dir, phase);
    try {
        const extension = vscode.extensions.getExtension<GroundhogExtensionApi>("groundhog.groundhog");
        check(extension !== undefined, "the Groundhog extension is not installed");
        const noServer = NO_SERVER_PHASES.includes(phase);
        driver.api = await driver.step(noServer ? "the extension activates and finds no server" : "the extension activates and starts the server", async () => {
            const api = await extension.activate();
            const running = await api.ready();
            check(running !== noServer, noServer ? "a server started" : `the server did not start: ${api.lastError() ?? "?"}`);
            return api;
        });
        driver.steps[driver.steps.length - 1]!.detail = undefined;
        await PHASES[phase](driver);
        if (phase === "resume") {
            // The next activation is the reloaded window's. The reload ends this extension host,
            // which cancels the command: that is not a failure of the phase.
            writeFileSync(join(dir, "phase"), "after-reload");
            driver.write({ phase, ok: true, steps: driver.steps });
            void vscode.commands.executeCommand("workbench.action.reloadWindow").then(undefined, () => undefined);
            return;
        }
        driver.write({ phase, ok: true, steps: driver.steps });
    } catch (error) {
        driver.write({ phase, ok: false, steps: driver.steps, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
}

export function deactivate(): void {
    // Nothing to clean up: the runner owns the processes.
}
