/**
 * Typed payloads of the Groundhog context protocol (PROTOCOL.md, version 1).
 *
 * Field names and optionality mirror the contract exactly; nothing here imports `vscode`, so the
 * protocol tests and the extension share these types.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
// eslint-disable-next-line @typescript-eslint/consistent-indexed-object-style -- a recursive alias needs the index signature
export interface JsonObject {
    [key: string]: JsonValue;
}

/** LSP position and range (zero-based line and UTF-16 character). */
export interface Position {
    line: number;
    character: number;
}
export interface Range {
    start: Position;
    end: Position;
}

// ---- The editor shape -------------------------------------------------------------------------

export interface OpenDocument {
    uri: string;
    languageId: string;
    version: number;
    dirty: boolean;
}
export interface DocumentSelections {
    uri: string;
    ranges: Range[];
}
export interface EditorState {
    openDocuments: OpenDocument[];
    activeUri: string | null;
    selections: DocumentSelections[];
}

// ---- Requests ---------------------------------------------------------------------------------

export interface ContextRef {
    /** Omitted: the session's active context. */
    context?: string;
}

export interface StatusResult {
    workspace: { uri: string | null; id: string };
    session: { id: string; readOnly: boolean };
    active: { name: string; version: number } | null;
    store: { path: string; encrypted: boolean; schemaVersion: number };
    contexts: number;
}

export type ContextStatusKind = "active" | "inactive" | "nonexistent";

export interface ContextSummary {
    name: string;
    version: number;
    lastModified: string;
    status: "active" | "inactive";
    sessions: number;
}
export interface ListResult {
    contexts: ContextSummary[];
}

export interface InfoParams {
    name: string;
}
export interface InfoResult {
    name: string;
    status: ContextStatusKind;
    version?: number;
    lastModified?: string;
    snapshots?: number;
}

export interface CreateParams {
    name: string;
    from?: { context?: string; version?: number; snapshotId?: string };
    activate?: boolean;
    metadata?: JsonObject;
}
export interface CreateResult {
    name: string;
    version: number;
    lastModified: string;
}

export interface DeleteParams {
    name: string;
}
export interface DeleteResult {
    deleted: true;
}

export interface SwitchParams {
    name: string;
    create?: boolean;
}
export interface SwitchResult {
    name: string;
    version: number;
    data: JsonObject;
}

export interface DeactivateResult {
    deactivated: string;
}

export interface GetParams extends ContextRef {
    version?: number;
    keys?: string[];
}
export interface GetResult {
    context: string;
    version: number;
    lastModified: string;
    data: JsonObject;
    metadata: JsonObject;
    editor: EditorState | null;
}

/** RFC 6902 operation. */
export interface PatchOperation {
    op: "add" | "remove" | "replace" | "move" | "copy" | "test";
    path: string;
    from?: string;
    value?: JsonValue;
}

export type OnConflict = "merge" | "fail" | "overwrite";
export interface UpdateParams extends ContextRef {
    baseVersion?: number;
    set?: JsonObject;
    remove?: string[];
    patch?: PatchOperation[];
    metadata?: JsonObject;
    onConflict?: OnConflict;
}
export interface UpdateResult {
    context: string;
    version: number;
    merged: boolean;
}

export interface SnapshotParams extends ContextRef {
    label?: string;
    metadata?: JsonObject;
}
export interface Snapshot {
    id: string;
    context: string;
    version: number;
    timestamp: string;
    label: string | null;
    sizeBytes: number;
}
export interface SnapshotsResult {
    snapshots: Snapshot[];
}

export interface DeleteSnapshotParams extends ContextRef {
    snapshotId: string;
}
export interface DeleteSnapshotResult {
    deleted: true;
    id: string;
}

export interface RollbackParams extends ContextRef {
    toVersion?: number;
    snapshotId?: string;
    dryRun?: boolean;
}
export interface RollbackResult {
    context: string;
    version: number;
    restoredFrom: { version: number } | { snapshotId: string };
    changedKeys: string[];
    recoveryPoint: string | null;
}

export type HistoryKind = "create" | "update" | "merge" | "rollback" | "restore" | "recover";
export interface HistoryParams extends ContextRef {
    limit?: number;
    beforeVersion?: number;
}
export interface HistoryEntry {
    version: number;
    timestamp: string;
    kind: HistoryKind;
    session: string | null;
    changedKeys: string[];
}
export interface HistoryResult {
    entries: HistoryEntry[];
    oldestVersion: number;
}

export interface DiffParams extends ContextRef {
    fromVersion: number;
    toVersion?: number;
}
export interface DiffResult {
    fromVersion: number;
    toVersion: number;
    patch: PatchOperation[];
}

/** Maps each request to its params and result, so one generic `request()` is fully typed. */
export interface RequestMap {
    status: { params: Record<string, never>; result: StatusResult };
    list: { params: Record<string, never>; result: ListResult };
    info: { params: InfoParams; result: InfoResult };
    create: { params: CreateParams; result: CreateResult };
    delete: { params: DeleteParams; result: DeleteResult };
    switch: { params: SwitchParams; result: SwitchResult };
    deactivate: { params: Record<string, never>; result: DeactivateResult };
    get: { params: GetParams; result: GetResult };
    update: { params: UpdateParams; result: UpdateResult };
    snapshot: { params: SnapshotParams; result: Snapshot };
    snapshots: { params: ContextRef; result: SnapshotsResult };
    deleteSnapshot: { params: DeleteSnapshotParams; result: DeleteSnapshotResult };
    rollback: { params: RollbackParams; result: RollbackResult };
    history: { params: HistoryParams; result: HistoryResult };
    diff: { params: DiffParams; result: DiffResult };
    editor: { params: Record<string, never>; result: EditorState };
}

// ---- Notifications ----------------------------------------------------------------------------

export interface DidChangeEditorParams {
    activeUri?: string | null;
    selections?: DocumentSelections[];
}
export interface DidChangeParams {
    context: string;
    version: number;
    kind: HistoryKind;
    session: string | null;
    changedKeys: string[];
}
export interface DidSwitchParams {
    context: string;
    version: number;
}
export interface DidRestoreParams {
    context: string;
    version: number;
    editor: EditorState;
}
export interface DidRecoverParams {
    context: string;
    /** null when not even the damaged head is known (the context's record was lost) */
    fromVersion: number | null;
    /** null when nothing of the context could be restored: it is gone */
    toVersion: number | null;
    reason: string;
}

/** Server-to-client notification methods and their params. */
export interface ServerNotificationMap {
    "context/didChange": DidChangeParams;
    "context/didSwitch": DidSwitchParams;
    "context/didRestore": DidRestoreParams;
    "context/didRecover": DidRecoverParams;
}

// ---- Initialization -----------------------------------------------------------------------------

export interface InitializationOptions {
    storeDir?: string;
    readOnly?: boolean;
    historyLimit?: number;
    snapshotMaxBytes?: number;
    editorTracking?: boolean;
    editorFlushMs?: number;
    token?: string;
}

// ---- Errors -----------------------------------------------------------------------------------

/** `data` of a failed request: `{kind, ...details}`. */
export interface ErrorData {
    kind: string;
    [detail: string]: unknown;
}
