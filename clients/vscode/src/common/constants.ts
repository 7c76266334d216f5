/**
 * Every name the extension shares with the Groundhog server or with VS Code, in one place.
 *
 * Protocol names follow PROTOCOL.md (version 1); the palette command ids are derived from the one
 * server id and are deliberately different from the server's own `groundhog.<verb>` commands,
 * which vscode-languageclient registers by itself from `executeCommandProvider.commands`.
 * This module must not import `vscode`: the protocol tests run it in plain Node.
 */

export const SERVER_ID = "groundhog";
export const SERVER_NAME = "Groundhog";

/** Client-to-server requests. */
export const Requests = {
    status: "context/status",
    list: "context/list",
    info: "context/info",
    create: "context/create",
    delete: "context/delete",
    switch: "context/switch",
    deactivate: "context/deactivate",
    get: "context/get",
    update: "context/update",
    snapshot: "context/snapshot",
    snapshots: "context/snapshots",
    rollback: "context/rollback",
    history: "context/history",
    diff: "context/diff",
    editor: "context/editor",
    deleteSnapshot: "context/deleteSnapshot",
} as const;
export type RequestName = keyof typeof Requests;
export type RequestMethod = (typeof Requests)[RequestName];

/** Client-to-server notifications. */
export const ClientNotifications = {
    didChangeEditor: "context/didChangeEditor",
} as const;

/** Server-to-client notifications. */
export const ServerNotifications = {
    didChange: "context/didChange",
    didSwitch: "context/didSwitch",
    didRestore: "context/didRestore",
    didRecover: "context/didRecover",
} as const;

/** The server's `workspace/executeCommand` name for a request, e.g. `groundhog.snapshot`. */
export function serverCommand(request: RequestName): string {
    return `${SERVER_ID}.${request}`;
}

/** The extension's own palette commands. */
export const Commands = {
    takeSnapshot: `${SERVER_ID}.takeSnapshot`,
    rollbackTo: `${SERVER_ID}.rollbackTo`,
    switchContext: `${SERVER_ID}.switchContext`,
    newContext: `${SERVER_ID}.newContext`,
    showHistory: `${SERVER_ID}.showHistory`,
    showDiff: `${SERVER_ID}.showDiff`,
    showStatus: `${SERVER_ID}.showStatus`,
    showLogs: `${SERVER_ID}.showLogs`,
    restartServer: `${SERVER_ID}.restartServer`,
    installServer: `${SERVER_ID}.installServer`,
    refreshView: `${SERVER_ID}.refreshView`,
    // not `groundhog.deleteSnapshot`: that is the server's command (context/deleteSnapshot)
    removeSnapshot: `${SERVER_ID}.removeSnapshot`,
} as const;
export type CommandId = (typeof Commands)[keyof typeof Commands];

/** JSON-RPC error codes of PROTOCOL.md "Errors". */
export const ErrorCodes = {
    InvalidParams: -32602,
    VersionConflict: -32001,
    ContextNotFound: -32002,
    SnapshotNotFound: -32003,
    InvalidState: -32004,
    PersistenceError: -32005,
    AccessDenied: -32006,
    RecoveryError: -32007,
    TooLarge: -32008,
    AlreadyExists: -32009,
} as const;
export type ErrorKind = keyof typeof ErrorCodes;

/** Setting keys, relative to the `groundhog` section. */
export const Settings = {
    serverCommand: "server.command",
    serverEnv: "server.env",
    autoInstall: "server.autoInstall",
    traceServer: "trace.server",
    restoreEditors: "restoreEditors",
    editorTracking: "editorTracking",
    editorThrottleMs: "editorThrottleMs",
    storeDir: "storeDir",
    readOnly: "readOnly",
    mcpEnabled: "mcp.enabled",
    historyLimit: "historyLimit",
    snapshotMaxBytes: "snapshotMaxBytes",
} as const;

/** Settings whose change needs a server restart. */
export const RESTART_SETTINGS: readonly string[] = [
    Settings.serverCommand,
    Settings.serverEnv,
    Settings.storeDir,
    Settings.readOnly,
    Settings.editorTracking,
    Settings.historyLimit,
    Settings.snapshotMaxBytes,
];

/**
 * The MCP server definition provider (package.json `contributes.mcpServerDefinitionProviders`)
 * and the label of the one server it offers; VS Code names that server `groundhog.groundhog/Groundhog`.
 */
export const MCP_PROVIDER_ID = SERVER_ID;
export const MCP_SERVER_LABEL = SERVER_NAME;

/** Settings the MCP server definition is built from (mcp.ts). */
export const MCP_SETTINGS: readonly string[] = [
    Settings.mcpEnabled,
    Settings.serverCommand,
    Settings.serverEnv,
    Settings.storeDir,
    Settings.readOnly,
    Settings.historyLimit,
    Settings.snapshotMaxBytes,
];

export const VIEW_ID = `${SERVER_ID}.contexts`;
export const STATUS_ITEM_ID = `${SERVER_ID}.status`;
/** URI scheme of the read-only JSON documents rendered for diffs. */
export const DOCUMENT_SCHEME = SERVER_ID;
