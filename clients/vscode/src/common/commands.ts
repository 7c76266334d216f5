/**
 * The palette commands. Each takes optional arguments (used by the tree view, keybindings and
 * tests) and asks for whatever is missing; each returns what it did, or undefined when cancelled
 * or failed. Failures show one message with a way to the logs.
 */

import * as vscode from "vscode";
import { contextNameProblem, GroundhogError } from "./api";
import { Commands, SERVER_NAME } from "./constants";
import { showVersionDiff, type VersionRef } from "./documents";
import { describe, type Logger } from "./logger";
import type {
    CreateResult,
    DeleteSnapshotResult,
    HistoryEntry,
    RollbackResult,
    Snapshot,
    StatusResult,
    SwitchResult,
} from "./protocol";
import type { GroundhogServer } from "./server";
import type { Session } from "./session";
import type { ContextTree } from "./tree";
import { age, RECOVERY_POINT_LABEL } from "./tree";
import { historyPick, pickVersionWithPreview, versionPicks } from "./pickers";

export interface CommandDeps {
    server: GroundhogServer;
    session: Session;
    tree: ContextTree;
    logger: Logger;
}

export interface DiffArgs {
    context?: string;
    fromVersion?: number;
    toVersion?: number;
}
export interface RollbackArgs {
    context?: string;
    toVersion?: number;
    snapshotId?: string;
    /** false: no confirmation dialog (scripts, tests). */
    confirm?: boolean;
}
export interface RemoveSnapshotArgs {
    context?: string;
    snapshotId?: string;
    /** false: no confirmation dialog (scripts, tests). */
    confirm?: boolean;
}
export interface NewContextArgs {
    name?: string;
    /** true: start as a copy of the active context's head; false: empty. Asked when omitted. */
    copyActive?: boolean;
}


export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
    const { server, logger } = deps;
    const register = (id: string, run: (arg: unknown) => Promise<unknown>) =>
        vscode.commands.registerCommand(id, async (arg: unknown) => {
            try {
                return await run(arg);
            } catch (error) {
                reportFailure(id, error, logger);
                return undefined;
            }
        });
    return [
        register(Commands.takeSnapshot, (label) => takeSnapshot(deps, optionalString(label))),
        register(Commands.switchContext, (name) => switchContext(deps, optionalString(name))),
        register(Commands.newContext, (args) => newContext(deps, newContextArgs(args))),
        register(Commands.showHistory, (context) => showHistory(deps, optionalString(context))),
        register(Commands.showDiff, (args) => showDiff(deps, diffArgs(args))),
        register(Commands.rollbackTo, (args) => rollbackTo(deps, rollbackArgs(args))),
        register(Commands.removeSnapshot, (args) => removeSnapshot(deps, removeSnapshotArgs(args))),
        register(Commands.showStatus, () => showStatus(deps)),
        register(Commands.showLogs, () => {
            logger.show();
            return Promise.resolve(true);
        }),
        register(Commands.restartServer, () => server.restart()),
        register(Commands.refreshView, () => {
            deps.tree.refresh();
            return Promise.resolve(true);
        }),
    ];
}

/** A string argument, or undefined for anything else (e.g. the URI VS Code passes from menus). */
function optionalString(arg: unknown): string | undefined {
    return typeof arg === "string" ? arg : undefined;
}

function record(arg: unknown): Record<string, unknown> {
    return typeof arg === "object" && arg !== null && !Array.isArray(arg) ? (arg as Record<string, unknown>) : {};
}

function optionalVersion(value: unknown): number | undefined {
    return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}

function optionalBoolean(value: unknown): boolean | undefined {
    return typeof value === "boolean" ? value : undefined;
}

function diffArgs(arg: unknown): DiffArgs {
    const o = record(arg);
    return { context: optionalString(o.context), fromVersion: optionalVersion(o.fromVersion), toVersion: optionalVersion(o.toVersion) };
}

function rollbackArgs(arg: unknown): RollbackArgs {
    const o = record(arg);
    return {
        context: optionalString(o.context),
        toVersion: optionalVersion(o.toVersion),
        snapshotId: optionalString(o.snapshotId),
        confirm: optionalBoolean(o.confirm),
    };
}

/** `{context?, snapshotId?, confirm?}`, or a node of the snapshots view (`{snapshot: {id, context}}`). */
function removeSnapshotArgs(arg: unknown): RemoveSnapshotArgs {
    const o = record(arg);
    const node = record(o.snapshot);
    return {
        context: optionalString(o.context) ?? optionalString(node.context),
        snapshotId: optionalString(o.snapshotId) ?? optionalString(node.id),
        confirm: optionalBoolean(o.confirm),
    };
}

function newContextArgs(arg: unknown): NewContextArgs {
    const o = typeof arg === "string" ? { name: arg } : record(arg);
    return { name: optionalString(o.name), copyActive: optionalBoolean(o.copyActive) };
}

function reportFailure(id: string, error: unknown, logger: Logger): void {
    const what = id.replace(/^groundhog\./, "");
    logger.error(`Command ${what} failed`, error);
    const message = error instanceof GroundhogError ? error.message : describe(error);
    void vscode.window.showErrorMessage(`${SERVER_NAME}: ${message}`, "Show Logs").then((choice) => {
        if (choice === "Show Logs") {
            logger.show();
        }
    });
}

/** `context`, else the active context's name once any start in progress is over. */
async function activeName(deps: CommandDeps, context?: string): Promise<string> {
    if (context !== undefined) {
        return context;
    }
    await deps.server.ready();
    if (deps.session.current.active === undefined) {
        await deps.session.refresh();
    }
    const active = deps.session.current.active;
    if (active === null) {
        throw new Error("No context is active; switch to one first.");
    }
    if (active === undefined) {
        throw new Error(deps.server.lastError ?? "The Groundhog server is not running.");
    }
    return active.name;
}

async function takeSnapshot(deps: CommandDeps, label?: string): Promise<Snapshot | undefined> {
    const context = await activeName(deps);
    const text =
        label ??
        (await vscode.window.showInputBox({
            title: `${SERVER_NAME}: Take Snapshot of '${context}'`,
            prompt: "A label for the snapshot (may be empty)",
            placeHolder: "e.g. before the refactoring",
        }));
    if (text === undefined) {
        return undefined;
    }
    const snapshot = await deps.server.api.snapshot({ context, label: text.trim() || undefined });
    deps.tree.refresh();
    void vscode.window.showInformationMessage(
        `${SERVER_NAME}: snapshot ${snapshot.label ? `'${snapshot.label}' ` : ""}of '${snapshot.context}' at version ${snapshot.version}.`,
    );
    return snapshot;
}

const NEW_CONTEXT_PICK = "$(add) New Context…";

async function switchContext(deps: CommandDeps, name?: string): Promise<SwitchResult | CreateResult | undefined> {
    let target = name;
    if (target === undefined) {
        const { contexts } = await deps.server.api.list();
        const items: vscode.QuickPickItem[] = contexts.map((c) => ({
            label: c.name,
            description: `v${c.version}${c.status === "active" ? " · active" : ""}`,
            detail: `changed ${age(c.lastModified)}${c.sessions > 0 ? ` · active in ${c.sessions} session(s)` : ""}`,
        }));
        items.push({ label: "", kind: vscode.QuickPickItemKind.Separator }, { label: NEW_CONTEXT_PICK });
        const picked = await vscode.window.showQuickPick(items, { title: `${SERVER_NAME}: Switch Context`, placeHolder: "Context to make active" });
        if (picked === undefined) {
            return undefined;
        }
        if (picked.label === NEW_CONTEXT_PICK) {
            return newContext(deps, {});
        }
        target = picked.label;
    }
    const result = await deps.server.api.switch({ name: target });
    deps.session.activeChanged(result.name, result.version);
    deps.tree.refresh();
    return result;
}

async function newContext(deps: CommandDeps, args: NewContextArgs): Promise<CreateResult | undefined> {
    const name =
        args.name ??
        (await vscode.window.showInputBox({
            title: `${SERVER_NAME}: New Context`,
            prompt: "Name of the new context",
            placeHolder: "e.g. feature/login",
            validateInput: (value) => contextNameProblem(value),
        }));
    if (name === undefined) {
        return undefined;
    }
    const problem = contextNameProblem(name);
    if (problem !== undefined) {
        throw new Error(`'${name}' is not a valid context name. ${problem}`);
    }
    let copyActive = args.copyActive;
    const active = deps.session.current.active;
    if (copyActive === undefined && active) {
        const picked = await vscode.window.showQuickPick(
            [
                { label: "Empty", description: "start with no data", copy: false },
                { label: `Copy of '${active.name}'`, description: `its version ${active.version}`, copy: true },
            ],
            { title: `${SERVER_NAME}: New Context '${name}'`, placeHolder: "Start from" },
        );
        if (picked === undefined) {
            return undefined;
        }
        copyActive = picked.copy;
    }
    const result = await deps.server.api.create({ name, activate: true, from: copyActive && active ? {} : undefined });
    await deps.session.refresh();
    deps.tree.refresh();
    return result;
}

async function headVersion(deps: CommandDeps, context: string): Promise<number> {
    const info = await deps.server.api.info({ name: context });
    if (info.version === undefined) {
        throw new Error(`Context '${context}' does not exist.`);
    }
    return info.version;
}

async function showHistory(deps: CommandDeps, contextArg?: string): Promise<HistoryEntry[] | undefined> {
    const context = await activeName(deps, contextArg);
    const { entries } = await deps.server.api.history({ context, limit: 50 });
    const picked = await vscode.window.showQuickPick(entries.map(historyPick), {
        title: `${SERVER_NAME}: History of '${context}'`,
        placeHolder: "Choose a version to see what it changed",
    });
    if (picked !== undefined && picked.version > 1) {
        await showVersionDiff({ context, version: picked.version - 1 }, { context, version: picked.version });
    }
    return entries;
}

async function showDiff(deps: CommandDeps, args: DiffArgs): Promise<{ from: VersionRef; to: VersionRef } | undefined> {
    const context = await activeName(deps, args.context);
    const head = await headVersion(deps, context);
    const toVersion = args.toVersion ?? head;
    let fromVersion = args.fromVersion;
    if (fromVersion === undefined) {
        const picked = await vscode.window.showQuickPick(await versionPicks(deps.server.api, context, toVersion), {
            title: `${SERVER_NAME}: Compare a Version of '${context}' with v${toVersion}`,
        });
        if (picked === undefined) {
            return undefined;
        }
        fromVersion = picked.version;
    }
    const from = { context, version: fromVersion };
    const to = { context, version: toVersion };
    await showVersionDiff(from, to);
    return { from, to };
}

interface RollbackTarget {
    toVersion?: number;
    snapshotId?: string;
    /** The version whose data the rollback restores. */
    version: number;
    label: string;
}

/** The rollback target named by the arguments, else picked by the user (undefined: cancelled). */
async function rollbackTarget(deps: CommandDeps, args: RollbackArgs, context: string, head: number): Promise<RollbackTarget | undefined> {
    const api = deps.server.api;
    if (args.snapshotId !== undefined) {
        const snapshot = (await api.snapshots({ context })).snapshots.find((s) => s.id === args.snapshotId);
        return { snapshotId: args.snapshotId, version: snapshot?.version ?? head, label: `snapshot ${snapshot?.label ?? args.snapshotId}` };
    }
    if (args.toVersion !== undefined) {
        return { toVersion: args.toVersion, version: args.toVersion, label: `version ${args.toVersion}` };
    }
    const title = `${SERVER_NAME}: Roll Back '${context}' (now v${head})`;
    const picked = await pickVersionWithPreview(title, await versionPicks(api, context, head), context, head);
    if (picked === undefined) {
        return undefined;
    }
    return picked.snapshotId !== undefined
        ? { snapshotId: picked.snapshotId, version: picked.version, label: `snapshot ${picked.snapshotName ?? picked.snapshotId}` }
        : { toVersion: picked.version, version: picked.version, label: `version ${picked.version}` };
}

/** Shows what the rollback would change (diff editor and a modal question); true to go ahead. */
async function confirmRollback(deps: CommandDeps, context: string, head: number, target: RollbackTarget): Promise<boolean> {
    const dry = await deps.server.api.rollback({ context, toVersion: target.toVersion, snapshotId: target.snapshotId, dryRun: true });
    await showVersionDiff({ context, version: head }, { context, version: target.version }, { preview: true });
    const keys = dry.changedKeys.length > 0 ? dry.changedKeys.join(", ") : "nothing";
    const answer = await vscode.window.showWarningMessage(
        `Roll back '${context}' to ${target.label}? This changes ${keys} and adds version ${head + 1}; the current state is kept as a recovery point.`,
        { modal: true },
        "Roll Back",
    );
    return answer === "Roll Back";
}

async function rollbackTo(deps: CommandDeps, args: RollbackArgs): Promise<RollbackResult | undefined> {
    const context = await activeName(deps, args.context);
    const head = await headVersion(deps, context);
    const target = await rollbackTarget(deps, args, context, head);
    if (target === undefined || (args.confirm !== false && !(await confirmRollback(deps, context, head, target)))) {
        return undefined;
    }
    const result = await deps.server.api.rollback({ context, toVersion: target.toVersion, snapshotId: target.snapshotId });
    deps.tree.refresh();
    void vscode.window.showInformationMessage(
        result.version === head
            ? `${SERVER_NAME}: '${context}' already equals ${target.label}; nothing changed.`
            : `${SERVER_NAME}: '${context}' rolled back to ${target.label} as version ${result.version}.`,
    );
    return result;
}

/** The snapshot named by the arguments, else picked among the user's snapshots (recovery points are the store's). */
async function snapshotToRemove(deps: CommandDeps, context: string, snapshotId?: string): Promise<Snapshot | string | undefined> {
    const { snapshots } = await deps.server.api.snapshots({ context });
    if (snapshotId !== undefined) {
        return snapshots.find((s) => s.id === snapshotId) ?? snapshotId; // unknown: the server says so
    }
    const deletable = snapshots.filter((s) => s.label !== RECOVERY_POINT_LABEL);
    if (deletable.length === 0) {
        void vscode.window.showInformationMessage(`${SERVER_NAME}: '${context}' has no snapshots to delete.`);
        return undefined;
    }
    const picked = await vscode.window.showQuickPick(
        deletable.map((snapshot) => ({
            label: `$(device-camera) ${snapshot.label ?? snapshot.id}`,
            description: `v${snapshot.version} · ${age(snapshot.timestamp)}`,
            detail: `snapshot ${snapshot.id}`,
            snapshot,
        })),
        { title: `${SERVER_NAME}: Delete a Snapshot of '${context}'`, placeHolder: "Snapshot to delete" },
    );
    return picked?.snapshot;
}

async function removeSnapshot(deps: CommandDeps, args: RemoveSnapshotArgs): Promise<DeleteSnapshotResult | undefined> {
    const context = await activeName(deps, args.context);
    const target = await snapshotToRemove(deps, context, args.snapshotId);
    if (target === undefined) {
        return undefined;
    }
    const id = typeof target === "string" ? target : target.id;
    const name = typeof target !== "string" && target.label ? `'${target.label}' (${id})` : id;
    if (args.confirm !== false) {
        const at = typeof target === "string" ? "" : ` at version ${target.version}`;
        const answer = await vscode.window.showWarningMessage(
            `Delete snapshot ${name} of '${context}'${at}? This cannot be undone; the context's data and its other snapshots stay as they are.`,
            { modal: true },
            "Delete",
        );
        if (answer !== "Delete") {
            return undefined;
        }
    }
    const result = await deps.server.api.deleteSnapshot({ context, snapshotId: id });
    deps.tree.refresh();
    void vscode.window.showInformationMessage(`${SERVER_NAME}: deleted snapshot ${name} of '${context}'.`);
    return result;
}

async function showStatus(deps: CommandDeps): Promise<StatusResult | undefined> {
    const status = await deps.session.refresh();
    if (status === undefined) {
        throw new Error(deps.server.lastError ?? "The Groundhog server is not running.");
    }
    deps.logger.info(`Status: ${JSON.stringify(status)}`);
    const active = status.active ? `'${status.active.name}' v${status.active.version}` : "no active context";
    void vscode.window
        .showInformationMessage(
            `${SERVER_NAME}: ${active}, ${status.contexts} context(s), session ${status.session.id}${status.session.readOnly ? " (read-only)" : ""}; store ${status.store.path}${status.store.encrypted ? " (encrypted)" : ""}.`,
            "Show Logs",
        )
        .then((choice) => {
            if (choice === "Show Logs") {
                deps.logger.show();
            }
        });
    return status;
}
