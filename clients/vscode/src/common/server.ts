/**
 * The Groundhog server's lifecycle: one LanguageClient over stdio at a time, started, stopped and
 * restarted strictly one after the other, with the extension's own error messages (with a way to
 * the logs) instead of the language client's generic ones.
 */

import * as os from "node:os";
import * as vscode from "vscode";
import {
    CloseAction,
    type CloseHandlerResult,
    ErrorAction,
    type ErrorHandlerResult,
    type Executable,
    LanguageClient,
    type LanguageClientOptions,
    RevealOutputChannelOn,
    State,
} from "vscode-languageclient/node";
import { GroundhogApi, type RequestSender } from "./api";
import { SERVER_ID, SERVER_NAME } from "./constants";
import { describe, type Logger } from "./logger";
import type { ServerNotificationMap } from "./protocol";
import { resolveServerCommand, type ServerCommand } from "./serverCommand";
import { initializationOptions, readSettings, workspaceFolder } from "./settings";

export type ServerState = "stopped" | "starting" | "running" | "failed";

/** How often an unexpectedly closed server is restarted before the extension gives up. */
const MAX_CRASH_RESTARTS = 3;
const CRASH_WINDOW_MS = 3 * 60 * 1000;

/** A LanguageClient that logs its errors but leaves all user-facing messages to the extension. */
class GroundhogLanguageClient extends LanguageClient {
    override error(message: string, data?: unknown): void {
        super.error(message, data, false);
    }
}

type NotificationHandler = (params: unknown) => void;

/** Where a server comes from besides the settings and PATH: the private environment (installer.ts). */
export interface ServerSource {
    /** The private environment's Python, when installed for this extension version. */
    installed(): string | undefined;
    /** No server was found: install one (answering its Python), or say why not. */
    whenMissing(): Promise<{ python: string } | { reason: string; alreadyShown: boolean }>;
}

/** The last non-empty lines of what the server wrote, on one line. */
function lastLines(output: string, count = 2): string {
    const lines = output
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line.length > 0);
    return lines.slice(-count).join(" ").slice(0, 300);
}

export class GroundhogServer implements vscode.Disposable {
    private client: GroundhogLanguageClient | undefined;
    private current: Promise<boolean> = Promise.resolve(false);
    private queued: Promise<boolean> | undefined;
    private crashes: number[] = [];
    private readonly handlers = new Map<string, NotificationHandler>();
    private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
    private _state: ServerState = "stopped";
    private _lastError: string | undefined;
    private serverOutput = "";
    private _origin: ServerCommand["origin"] | undefined;

    /** Fires on every state change; "running" also after an automatic restart. */
    readonly onDidChangeState = this.stateEmitter.event;
    readonly api: GroundhogApi;

    constructor(
        private readonly logger: Logger,
        private readonly source: ServerSource,
    ) {
        const sender: RequestSender = {
            sendRequest: async <R>(method: string, params: unknown): Promise<R> => {
                await this.current;
                const client = this.client;
                if (!client?.isRunning()) {
                    throw new Error(this._lastError ?? "The Groundhog server is not running.");
                }
                return client.sendRequest<R>(method, params);
            },
        };
        this.api = new GroundhogApi(sender);
    }

    get state(): ServerState {
        return this._state;
    }

    /** Why the last start failed, if it did. */
    get lastError(): string | undefined {
        return this._lastError;
    }

    /** Where the running (or last started) server came from: the setting, the private environment or PATH. */
    get origin(): ServerCommand["origin"] | undefined {
        return this._origin;
    }

    /** Resolves with whether the server is running once the start or restart in progress is done. */
    ready(): Promise<boolean> {
        return this.current;
    }

    /**
     * Registers a server-to-client notification handler on every client this object will start.
     * Handlers are installed before `initialize`, so nothing sent right after it is missed.
     */
    onNotification<M extends keyof ServerNotificationMap>(method: M, handler: (params: ServerNotificationMap[M]) => void): vscode.Disposable {
        this.handlers.set(method, handler as NotificationHandler);
        return new vscode.Disposable(() => this.handlers.delete(method));
    }

    async sendNotification(method: string, params: unknown): Promise<void> {
        const client = this.client;
        if (client?.isRunning()) {
            await client.sendNotification(method, params);
        }
    }

    /**
     * Stops the running server (if any) and starts a new one. Calls are serialized: a restart
     * asked for while one is in progress runs after it, and several such asks share one restart.
     */
    restart(): Promise<boolean> {
        if (this.queued !== undefined) {
            return this.queued;
        }
        const next = this.current.then(
            () => this.runRestart(),
            () => this.runRestart(),
        );
        this.queued = next;
        this.current = next;
        return next;
    }

    /** Stops the server after any start in progress; used on deactivate. */
    async stop(): Promise<void> {
        await this.current.catch(() => false);
        await this.stopClient();
    }

    dispose(): void {
        void this.stop();
        this.stateEmitter.dispose();
    }

    private setState(state: ServerState): void {
        if (state !== this._state) {
            this._state = state;
            this.stateEmitter.fire(state);
        }
    }

    private async runRestart(): Promise<boolean> {
        this.queued = undefined;
        await this.stopClient();
        return this.startClient();
    }

    private async stopClient(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        if (client === undefined) {
            return;
        }
        this.logger.info("Stopping the server.");
        try {
            await client.dispose(2000);
        } catch (error) {
            this.logger.error("Stopping the server failed", error);
        }
        this.setState("stopped");
    }

    private async startClient(): Promise<boolean> {
        this._lastError = undefined;
        const settings = readSettings();
        const env: NodeJS.ProcessEnv = { ...process.env, ...settings.serverEnv };
        let resolved = resolveServerCommand(settings, env, this.source.installed());
        if ("missing" in resolved) {
            this.setState("starting");
            const outcome = await this.source.whenMissing();
            if ("reason" in outcome) {
                this.reportStartFailure(outcome.reason, !outcome.alreadyShown);
                return false;
            }
            resolved = resolveServerCommand(settings, env, outcome.python);
        }
        if ("problem" in resolved) {
            this.reportStartFailure(resolved.problem);
            return false;
        }
        this._origin = resolved.origin;
        const cwd = workspaceFolder()?.uri.fsPath ?? os.homedir();
        this.logger.info(`Starting the server (${resolved.origin}): ${[resolved.command, ...resolved.args].join(" ")}`);
        // No `transport`: with TransportKind.stdio the client would append `--stdio` to the args.
        const executable: Executable = { command: resolved.command, args: resolved.args, options: { cwd, env } };
        this.serverOutput = "";
        const client = new GroundhogLanguageClient(SERVER_ID, SERVER_NAME, executable, this.clientOptions(settings));
        for (const [method, handler] of this.handlers) {
            client.onNotification(method, handler);
        }
        client.onDidChangeState((event) => {
            if (this.client === client) {
                this.setState(event.newState === State.Running ? "running" : event.newState === State.Starting ? "starting" : "stopped");
            }
        });
        this.client = client;
        this.setState("starting");
        let failure: string | undefined;
        try {
            await client.start();
        } catch (error) {
            failure = describe(error);
        }
        // start() can resolve although the server died during initialize: check the state too.
        if (failure !== undefined || !client.isRunning()) {
            if (this.client === client) {
                this.client = undefined;
            }
            void client.dispose(1000).catch(() => undefined);
            // Let the last of the server's stderr arrive before quoting it.
            await new Promise((resolve) => setTimeout(resolve, 200));
            const said = lastLines(this.serverOutput);
            this.reportStartFailure(said ? `it exited during startup saying: ${said}` : `it did not start (${failure ?? "the connection closed"})`);
            return false;
        }
        this.logger.info("The server is running.");
        this.setState("running");
        return true;
    }

    private clientOptions(settings: ReturnType<typeof readSettings>): LanguageClientOptions {
        return {
            // Every document: the server tracks open files whatever their language.
            documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
            outputChannel: this.recordingChannel(),
            traceOutputChannel: this.logger.traceChannel,
            revealOutputChannelOn: RevealOutputChannelOn.Never,
            initializationOptions: initializationOptions(settings),
            initializationFailedHandler: (error) => {
                this.logger.error("The server failed to initialize", error);
                return false;
            },
            errorHandler: {
                error: (error, _message, count): ErrorHandlerResult => {
                    this.logger.error("Connection to the server failed", error);
                    return { action: (count ?? 0) < 3 ? ErrorAction.Continue : ErrorAction.Shutdown, handled: true };
                },
                closed: (): CloseHandlerResult => this.onClosed(),
            },
        };
    }

    /**
     * The log channel, also keeping the server's recent stderr (which the client appends to it),
     * so a failed start can say what the server said.
     */
    private recordingChannel(): vscode.OutputChannel {
        const channel = this.logger.channel;
        const append = (value: string): void => {
            this.serverOutput = (this.serverOutput + value).slice(-2000);
            channel.append(value);
        };
        return new Proxy(channel, {
            get: (target, property, receiver): unknown => {
                if (property === "append") {
                    return append;
                }
                const value: unknown = Reflect.get(target, property, receiver);
                return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
            },
        });
    }

    /** The server process went away: restart it a few times while it was running, else give up. */
    private onClosed(): CloseHandlerResult {
        if (this._state !== "running") {
            return { action: CloseAction.DoNotRestart, handled: true };
        }
        const now = Date.now();
        this.crashes = [...this.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
        if (this.crashes.length <= MAX_CRASH_RESTARTS) {
            this.logger.warn(`The server stopped unexpectedly; restarting it (${this.crashes.length}/${MAX_CRASH_RESTARTS}).`);
            return { action: CloseAction.Restart, handled: true };
        }
        this.reportStartFailure(`it stopped ${this.crashes.length} times in 3 minutes`);
        return { action: CloseAction.DoNotRestart, handled: true };
    }

    /** `notify` false: the user was already told (by the installer), once is enough. */
    private reportStartFailure(reason: string, notify = true): void {
        const message = `The Groundhog server cannot run: ${reason}.`;
        this._lastError = message;
        this.logger.error(message);
        this.setState("failed");
        if (!notify) {
            return;
        }
        void vscode.window.showErrorMessage(message, "Show Logs", "Open Settings").then((choice) => {
            if (choice === "Show Logs") {
                this.logger.show();
            } else if (choice === "Open Settings") {
                void vscode.commands.executeCommand("workbench.action.openSettings", `@ext:${SERVER_ID}.${SERVER_ID} server`);
            }
        });
    }
}
