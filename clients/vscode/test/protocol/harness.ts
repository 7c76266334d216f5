/**
 * Starts the real Python Groundhog server over stdio for a protocol test, with its store and key
 * in fresh temporary directories, and talks to it through vscode-jsonrpc and the extension's own
 * GroundhogApi. The server command is `$GROUNDHOG_SERVER_COMMAND` (a JSON array or a plain
 * command line), else `<repo>/.venv/bin/python -m groundhog serve`, else `groundhog serve`.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createMessageConnection, type MessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";
import { GroundhogApi } from "../../src/common/api";
import type { InitializationOptions } from "../../src/common/protocol";

export const REPO_ROOT = resolve(__dirname, "../../../../..");

export function serverCommand(): string[] {
    const configured = process.env.GROUNDHOG_SERVER_COMMAND;
    if (configured) {
        return configured.trim().startsWith("[") ? (JSON.parse(configured) as string[]) : configured.trim().split(/\s+/);
    }
    const venvPython = join(REPO_ROOT, ".venv", "bin", "python");
    return existsSync(venvPython) ? [venvPython, "-m", "groundhog", "serve"] : ["groundhog", "serve"];
}

/** Temporary store, key and workspace directories shared by the sessions of one test. */
export class Sandbox {
    readonly root = mkdtempSync(join(tmpdir(), "groundhog-protocol-"));
    readonly home = join(this.root, "home");
    readonly configDir = join(this.root, "config");
    readonly workspace = join(this.root, "workspace");
    private readonly sessions: Session[] = [];

    constructor() {
        for (const dir of [this.home, this.configDir, this.workspace]) {
            mkdirSync(dir, { recursive: true, mode: 0o700 });
        }
    }

    get workspaceUri(): string {
        return pathToFileURL(this.workspace).toString();
    }

    /** Writes a file into the workspace and answers its URI. */
    file(name: string, text: string): string {
        const path = join(this.workspace, name);
        writeFileSync(path, text);
        return pathToFileURL(path).toString();
    }

    /** Starts a server process and initializes an LSP session on this sandbox's workspace. */
    async open(options: InitializationOptions = {}, clientName = "protocol-test"): Promise<Session> {
        const session = new Session(this, clientName);
        this.sessions.push(session);
        await session.initialize({ editorFlushMs: 100, ...options });
        return session;
    }

    async dispose(): Promise<void> {
        await Promise.all(this.sessions.map((s) => s.close()));
        rmSync(this.root, { recursive: true, force: true });
    }
}

export interface Received {
    method: string;
    params: unknown;
}

export class Session {
    readonly process: ChildProcess;
    readonly connection: MessageConnection;
    readonly api: GroundhogApi;
    readonly notifications: Received[] = [];
    stderr = "";
    initializeResult: { capabilities: { executeCommandProvider?: { commands: string[] } } } | undefined;
    private waiters: { predicate: (n: Received) => boolean; resolve: (n: Received) => void }[] = [];
    private closed = false;
    /** Rejects when the server process ends, so no request waits forever on a dead server. */
    private readonly died: Promise<never>;

    constructor(
        private readonly sandbox: Sandbox,
        private readonly clientName: string,
    ) {
        const [command, ...args] = serverCommand();
        if (command === undefined) {
            throw new Error("empty server command");
        }
        this.process = spawn(command, args, {
            cwd: sandbox.workspace,
            env: { ...process.env, GROUNDHOG_HOME: sandbox.home, GROUNDHOG_CONFIG_DIR: sandbox.configDir },
            stdio: ["pipe", "pipe", "pipe"],
        });
        this.process.stderr?.on("data", (chunk: Buffer) => {
            this.stderr += chunk.toString();
        });
        if (!this.process.stdout || !this.process.stdin) {
            throw new Error("server stdio not available");
        }
        this.connection = createMessageConnection(new StreamMessageReader(this.process.stdout), new StreamMessageWriter(this.process.stdin));
        this.connection.onNotification((method: string, params: unknown) => {
            const received = { method, params };
            this.notifications.push(received);
            const waiting = this.waiters.filter((w) => w.predicate(received));
            this.waiters = this.waiters.filter((w) => !w.predicate(received));
            for (const waiter of waiting) {
                waiter.resolve(received);
            }
        });
        this.connection.onRequest((method: string) => {
            // workspace/configuration, client/registerCapability, window/workDoneProgress/create...
            return method === "workspace/configuration" ? [] : null;
        });
        this.died = new Promise<never>((_resolve, reject) => {
            this.process.once("exit", (code, signal) => {
                reject(new Error(`the server exited (code ${code ?? "none"}, signal ${signal ?? "none"}); stderr:\n${this.stderr.slice(-4000)}`));
            });
        });
        this.died.catch(() => undefined);
        this.connection.listen();
        this.api = new GroundhogApi({ sendRequest: (method, params) => this.request(method, params) });
    }

    /** A raw request that fails when the server dies instead of waiting forever. */
    request<R>(method: string, params?: unknown): Promise<R> {
        const sent = params === undefined ? this.connection.sendRequest<R>(method) : this.connection.sendRequest<R>(method, params);
        return Promise.race([sent, this.died]);
    }

    async initialize(options: InitializationOptions): Promise<void> {
        const uri = this.sandbox.workspaceUri;
        this.initializeResult = await this.request("initialize", {
            processId: process.pid,
            clientInfo: { name: this.clientName, version: "0" },
            rootUri: uri,
            workspaceFolders: [{ uri, name: "workspace" }],
            capabilities: { workspace: { workspaceFolders: true, executeCommand: {} } },
            initializationOptions: options,
        });
        await this.connection.sendNotification("initialized", {});
    }

    /** The notifications of `method` received so far. */
    received<P>(method: string): P[] {
        return this.notifications.filter((n) => n.method === method).map((n) => n.params as P);
    }

    /**
     * Waits for a notification matching `predicate`, including one already received since
     * `since` (an index into `notifications`), so no notification is missed by ordering.
     */
    waitFor<P>(method: string, predicate: (params: P) => boolean = () => true, timeoutMs = 5000, since = 0): Promise<P> {
        const match = (n: Received): boolean => n.method === method && predicate(n.params as P);
        const already = this.notifications.slice(since).find(match);
        if (already) {
            return Promise.resolve(already.params as P);
        }
        return new Promise<P>((resolvePromise, reject) => {
            const timer = setTimeout(() => {
                this.waiters = this.waiters.filter((w) => w.resolve !== done);
                reject(new Error(`no ${method} within ${timeoutMs} ms; got: ${JSON.stringify(this.notifications.map((n) => n.method))}`));
            }, timeoutMs);
            const done = (n: Received): void => {
                clearTimeout(timer);
                resolvePromise(n.params as P);
            };
            this.waiters.push({ predicate: match, resolve: done });
        });
    }

    didOpen(uri: string, text: string, languageId = "plaintext"): Promise<void> {
        return this.connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId, version: 1, text } });
    }

    didClose(uri: string): Promise<void> {
        return this.connection.sendNotification("textDocument/didClose", { textDocument: { uri } });
    }

    /** LSP shutdown + exit, then waits for the process to end (killing it after 5 s). */
    async close(): Promise<number | null> {
        if (this.closed) {
            return this.process.exitCode;
        }
        this.closed = true;
        const exited = new Promise<number | null>((resolveExit) => {
            if (this.process.exitCode !== null) {
                resolveExit(this.process.exitCode);
            } else {
                this.process.once("exit", (code) => {
                    resolveExit(code);
                });
            }
        });
        try {
            await withTimeout(this.request("shutdown"), 5000);
            await this.connection.sendNotification("exit");
        } catch {
            // The process may already be gone; it is killed below if not.
        }
        const timer = setTimeout(() => this.process.kill("SIGKILL"), 5000);
        const code = await exited;
        clearTimeout(timer);
        this.connection.dispose();
        return code;
    }
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolvePromise, reject) => {
        const timer = setTimeout(() => {
            reject(new Error(`timed out after ${ms} ms`));
        }, ms);
        promise.then(
            (value) => {
                clearTimeout(timer);
                resolvePromise(value);
            },
            (error: unknown) => {
                clearTimeout(timer);
                reject(error instanceof Error ? error : new Error(String(error)));
            },
        );
    });
}

/** Polls `probe` until it answers a value for which `ok` holds. */
export async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: T = await probe();
    while (!ok(last)) {
        if (Date.now() > deadline) {
            throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
        last = await probe();
    }
    return last;
}
