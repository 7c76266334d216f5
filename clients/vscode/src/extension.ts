/**
 * Entry point: wires the server lifecycle (and its install when none is found), the session state, the status bar, the tree view, the
 * editor tracking, the commands and the MCP server offered to VS Code's agent, and returns a small
 * API (used by the end-to-end tests and by other extensions).
 */

import * as vscode from "vscode";
import { registerCommands } from "./common/commands";
import { DOCUMENT_SCHEME, SERVER_ID, VIEW_ID } from "./common/constants";
import { VersionDocumentProvider } from "./common/documents";
import { EditorTracker } from "./common/editorTracker";
import { registerInstallCommand, ServerInstaller } from "./common/installer";
import { Logger } from "./common/logger";
import { registerMcpServer } from "./common/mcpProvider";
import { registerNotificationHandlers } from "./common/notifications";
import { EditorRestorer, type RestoreOutcome } from "./common/restore";
import { GroundhogServer, type ServerState } from "./common/server";
import { Session, type SessionSnapshot } from "./common/session";
import { needsRestart, readSettings } from "./common/settings";
import { StatusItem } from "./common/status";
import { ContextTree } from "./common/tree";
import type { GroundhogApi } from "./common/api";

export interface GroundhogExtensionApi {
    readonly api: GroundhogApi;
    /** Resolves once the start or restart in progress is over, with whether the server runs. */
    ready(): Promise<boolean>;
    statusText(): string;
    serverState(): ServerState;
    /** Where the server came from: "setting", "private" (the environment the extension installed) or "PATH". */
    serverOrigin(): string | undefined;
    /** Why the server is not running, when a start failed. */
    lastError(): string | undefined;
    session(): SessionSnapshot;
    /** The outcome of the last `context/didRestore`, once its editors are handled. */
    lastRestore(): RestoreOutcome | undefined;
    readonly onDidRestore: vscode.Event<RestoreOutcome>;
}

let server: GroundhogServer | undefined;

export function activate(context: vscode.ExtensionContext): GroundhogExtensionApi {
    const logger = new Logger();
    const version = extensionVersion(context) ?? "0.0.0";
    // The installer restarts the server after an install the user asked for; `running` exists by then.
    const installer: ServerInstaller = new ServerInstaller(context, version, logger, (): Promise<boolean> => running.restart());
    const running: GroundhogServer = new GroundhogServer(logger, installer);
    server = running;
    const api = running.api;
    const session = new Session(api, logger);
    const status = new StatusItem();
    const tree = new ContextTree(api, session, logger);
    const settings = readSettings();
    const tracker = new EditorTracker((method, params) => running.sendNotification(method, params), settings.editorThrottleMs);
    tracker.configure(settings.editorTracking, settings.editorThrottleMs);
    const restorer = new EditorRestorer(logger, () => readSettings().restoreEditors);

    installer.removeOldEnvironments();
    context.subscriptions.push(
        logger,
        installer,
        running,
        session,
        status,
        tree,
        tracker,
        restorer,
        vscode.window.registerTreeDataProvider(VIEW_ID, tree),
        vscode.workspace.registerTextDocumentContentProvider(DOCUMENT_SCHEME, new VersionDocumentProvider(api)),
        ...registerCommands({ server: running, session, tree, logger }),
        ...registerNotificationHandlers(running, session, restorer, logger),
        registerInstallCommand(installer),
        registerMcpServer(logger, extensionVersion(context), installer),
        installer.onDidChangeInstalling((installing) => {
            status.setInstalling(installing);
        }),
        session.onDidChange((snapshot) => {
            status.setSession(snapshot);
            tree.refresh();
        }),
        running.onDidChangeState((state) => {
            status.setServerState(state);
            if (state === "running") {
                restorer.sessionStarted();
                void session.refresh().then(() => afterStart(restorer, tracker));
            } else if (state !== "starting") {
                session.clear();
            }
        }),
        vscode.workspace.onDidChangeConfiguration((event) => {
            if (needsRestart(event)) {
                void running.restart();
            }
            if (event.affectsConfiguration(SERVER_ID)) {
                const next = readSettings();
                tracker.configure(next.editorTracking, next.editorThrottleMs);
            }
        }),
    );

    void running.restart();

    return {
        api,
        ready: () => running.ready(),
        statusText: () => status.text,
        serverState: () => running.state,
        serverOrigin: () => running.origin,
        lastError: () => running.lastError,
        session: () => session.current,
        lastRestore: () => restorer.lastOutcome,
        onDidRestore: restorer.onDidRestore,
    };
}

function extensionVersion(context: vscode.ExtensionContext): string | undefined {
    const version: unknown = (context.extension.packageJSON as { version?: unknown }).version;
    return typeof version === "string" ? version : undefined;
}

/**
 * Tells a new server session the live editor state, once its restore (whose didRestore arrives
 * before the status answer) is settled; not when the user declined the restore, so the stored
 * state stays until the next real editor event (PROTOCOL.md decision 20).
 */
async function afterStart(restorer: EditorRestorer, tracker: EditorTracker): Promise<void> {
    const outcome = await restorer.settled();
    if (outcome?.result !== "declined") {
        // After a window reload VS Code has reopened the tabs itself: tell the server all of them.
        tracker.adoptSelections(outcome?.selections ?? []);
        await tracker.loadTabDocuments();
        tracker.sendNow();
    }
}

export async function deactivate(): Promise<void> {
    await server?.stop();
    server = undefined;
}
