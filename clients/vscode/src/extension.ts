/**
 * Entry point: wires the server lifecycle, the session state, the status bar, the tree view, the
 * editor tracking and the commands, and returns a small API (used by the end-to-end tests and
 * by other extensions).
 */

import * as vscode from "vscode";
import { registerCommands } from "./common/commands";
import { DOCUMENT_SCHEME, ServerNotifications, VIEW_ID } from "./common/constants";
import { VersionDocumentProvider } from "./common/documents";
import { EditorTracker } from "./common/editorTracker";
import { Logger } from "./common/logger";
import { type RestoreOutcome, restoreEditors } from "./common/restore";
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
    server = new GroundhogServer(logger);
    const api = server.api;
    const session = new Session(api, logger);
    const status = new StatusItem();
    const tree = new ContextTree(api, session, logger);
    const settings = readSettings();
    const running = server;
    const tracker = new EditorTracker((method, params) => running.sendNotification(method, params), settings.editorThrottleMs);
    tracker.configure(settings.editorTracking, settings.editorThrottleMs);
    const restoreEmitter = new vscode.EventEmitter<RestoreOutcome>();
    let lastRestore: RestoreOutcome | undefined;
    let pendingRestore: Promise<RestoreOutcome> | undefined;

    context.subscriptions.push(
        logger,
        server,
        session,
        status,
        tree,
        tracker,
        restoreEmitter,
        vscode.window.registerTreeDataProvider(VIEW_ID, tree),
        vscode.workspace.registerTextDocumentContentProvider(DOCUMENT_SCHEME, new VersionDocumentProvider(api)),
        ...registerCommands({ server, session, tree, logger }),
        session.onDidChange((snapshot) => {
            status.setSession(snapshot);
            tree.refresh();
        }),
        server.onNotification(ServerNotifications.didChange, (params) => {
            session.contextChanged(params);
        }),
        server.onNotification(ServerNotifications.didSwitch, (params) => {
            session.activeChanged(params.context, params.version);
        }),
        server.onNotification(ServerNotifications.didRestore, (params) => {
            session.activeChanged(params.context, params.version);
            logger.info(`The server reports the editors of '${params.context}' v${params.version}: ${params.editor.openDocuments.length} document(s).`);
            pendingRestore = restoreEditors(params, readSettings().restoreEditors, logger).then(
                (outcome) => {
                    lastRestore = outcome;
                    restoreEmitter.fire(outcome);
                    return outcome;
                },
                (error: unknown) => {
                    logger.error("Restoring the editors failed", error);
                    throw error;
                },
            );
        }),
        server.onNotification(ServerNotifications.didRecover, (params) => {
            logger.warn(`Recovered ${JSON.stringify(params)}`);
            void session.refresh();
            void vscode.window
                .showWarningMessage(
                    `Groundhog found damage in context '${params.context}' (${params.reason}) and recovered it: version ${params.fromVersion} ` +
                        `was unreadable, so the data of version ${params.toVersion} was restored as a new version. The damaged data is kept aside.`,
                    "Show History",
                    "Show Logs",
                )
                .then((choice) => {
                    if (choice === "Show History") {
                        void vscode.commands.executeCommand("groundhog.showHistory", params.context);
                    } else if (choice === "Show Logs") {
                        logger.show();
                    }
                });
        }),
        server.onDidChangeState((state) => {
            status.setServerState(state);
            if (state === "running") {
                pendingRestore = undefined;
                void session.refresh().then(async () => {
                    // Any didRestore of this session arrived before the status answer.
                    const outcome = await (pendingRestore ?? Promise.resolve(undefined)).catch(() => undefined);
                    if (outcome?.result !== "declined") {
                        tracker.sendNow();
                    }
                });
            } else if (state !== "starting") {
                session.clear();
            }
        }),
        vscode.workspace.onDidChangeConfiguration((event) => {
            if (needsRestart(event)) {
                void running.restart();
            }
            if (event.affectsConfiguration("groundhog")) {
                const next = readSettings();
                tracker.configure(next.editorTracking, next.editorThrottleMs);
            }
        }),
    );

    void server.restart();

    return {
        api,
        ready: () => running.ready(),
        statusText: () => status.text,
        serverState: () => running.state,
        lastError: () => running.lastError,
        session: () => session.current,
        lastRestore: () => lastRestore,
        onDidRestore: restoreEmitter.event,
    };
}

export async function deactivate(): Promise<void> {
    await server?.stop();
    server = undefined;
}
