/**
 * A typed facade over any JSON-RPC connection to the Groundhog server.
 *
 * The extension passes its LanguageClient and the protocol tests a plain vscode-jsonrpc
 * connection; both only need `sendRequest(method, params)`. Failed requests become
 * `GroundhogError`s that carry the protocol's `kind`. No `vscode` import here.
 */

import { ErrorCodes, type ErrorKind, Requests, type RequestName } from "./constants";
import type { ErrorData, JsonObject, RequestMap } from "./protocol";

/** The one capability the facade needs from a connection. */
export interface RequestSender {
    sendRequest<R>(method: string, params: unknown): Promise<R>;
}

/** A failed Groundhog request, with the protocol's error kind and details. */
export class GroundhogError extends Error {
    constructor(
        message: string,
        readonly code: number,
        readonly kind: string,
        readonly data: ErrorData | undefined,
        readonly method: string,
    ) {
        super(message);
        this.name = "GroundhogError";
    }

    is(kind: ErrorKind): boolean {
        return this.kind === kind;
    }
}

const KIND_BY_CODE = new Map<number, string>(
    Object.entries(ErrorCodes).map(([kind, code]) => [code, kind]),
);

function isErrorData(value: unknown): value is ErrorData {
    return typeof value === "object" && value !== null && typeof (value as { kind?: unknown }).kind === "string";
}

/** Turns whatever a connection rejected with into a GroundhogError (JSON-RPC errors keep code and data). */
export function toGroundhogError(error: unknown, method: string): GroundhogError {
    if (error instanceof GroundhogError) {
        return error;
    }
    if (typeof error === "object" && error !== null && "code" in error && "message" in error) {
        const { code, message, data } = error as { code: unknown; message: unknown; data?: unknown };
        if (typeof code === "number") {
            const errorData = isErrorData(data) ? data : undefined;
            const kind = errorData?.kind ?? KIND_BY_CODE.get(code) ?? "InternalError";
            return new GroundhogError(String(message), code, kind, errorData, method);
        }
    }
    const message = error instanceof Error ? error.message : String(error);
    return new GroundhogError(message, 0, "ConnectionError", undefined, method);
}

type Params<K extends RequestName> = RequestMap[K]["params"];
type Result<K extends RequestName> = RequestMap[K]["result"];

/** Every request of PROTOCOL.md, typed. Absent optional fields are left out of the params. */
export class GroundhogApi {
    constructor(private readonly sender: RequestSender) {}

    async request<K extends RequestName>(name: K, params?: Params<K>): Promise<Result<K>> {
        const method = Requests[name];
        try {
            return await this.sender.sendRequest<Result<K>>(method, stripUndefined(params ?? {}));
        } catch (error) {
            throw toGroundhogError(error, method);
        }
    }

    status(): Promise<Result<"status">> {
        return this.request("status");
    }
    list(): Promise<Result<"list">> {
        return this.request("list");
    }
    info(params: Params<"info">): Promise<Result<"info">> {
        return this.request("info", params);
    }
    create(params: Params<"create">): Promise<Result<"create">> {
        return this.request("create", params);
    }
    delete(params: Params<"delete">): Promise<Result<"delete">> {
        return this.request("delete", params);
    }
    switch(params: Params<"switch">): Promise<Result<"switch">> {
        return this.request("switch", params);
    }
    deactivate(): Promise<Result<"deactivate">> {
        return this.request("deactivate");
    }
    get(params: Params<"get"> = {}): Promise<Result<"get">> {
        return this.request("get", params);
    }
    update(params: Params<"update">): Promise<Result<"update">> {
        return this.request("update", params);
    }
    snapshot(params: Params<"snapshot"> = {}): Promise<Result<"snapshot">> {
        return this.request("snapshot", params);
    }
    snapshots(params: Params<"snapshots"> = {}): Promise<Result<"snapshots">> {
        return this.request("snapshots", params);
    }
    rollback(params: Params<"rollback">): Promise<Result<"rollback">> {
        return this.request("rollback", params);
    }
    history(params: Params<"history"> = {}): Promise<Result<"history">> {
        return this.request("history", params);
    }
    diff(params: Params<"diff">): Promise<Result<"diff">> {
        return this.request("diff", params);
    }
    editor(): Promise<Result<"editor">> {
        return this.request("editor");
    }
    deleteSnapshot(params: Params<"deleteSnapshot">): Promise<Result<"deleteSnapshot">> {
        return this.request("deleteSnapshot", params);
    }
}

function stripUndefined<T extends object>(params: T): T {
    return Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined)) as T;
}

/**
 * Why a context name is invalid (PROTOCOL.md "Conventions" and decision 14), or undefined when
 * it is valid. Used to validate input boxes before the server would answer InvalidParams.
 */
export function contextNameProblem(name: string): string | undefined {
    if (name.length === 0 || name.length > 128) {
        return "A context name has 1 to 128 characters.";
    }
    if (!/^[A-Za-z0-9._/-]+$/.test(name)) {
        return "Use only letters, digits, '.', '_', '-' and '/'.";
    }
    if (name.startsWith(".") || name.startsWith("/")) {
        return "A context name cannot start with '.' or '/'.";
    }
    if (name.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) {
        return "No empty, '.' or '..' segment between slashes.";
    }
    return undefined;
}

/**
 * Renders a context's data as stable, readable JSON for the diff editor: top-level keys (the
 * protocol's unit of change) sorted so two versions line up, nested values left as stored.
 * An empty state is `{` and `}` on lines of their own, as a non-empty one begins and ends, so a
 * diff from a new context's first version is lines added, never a changed `{}` line: VS Code
 * then has no characters to compare within lines, which for a large state (a 15 MB value on a
 * line) would run out its diffEditor.maxComputationTime and stop with a warning.
 */
export function renderContextJson(data: JsonObject): string {
    const keys = Object.keys(data).sort();
    if (keys.length === 0) {
        return "{\n}\n";
    }
    const sorted: JsonObject = {};
    for (const key of keys) {
        sorted[key] = data[key] ?? null;
    }
    return `${JSON.stringify(sorted, null, 2)}\n`;
}
