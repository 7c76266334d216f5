/**
 * What the extension knows about its server session: the session id, the active context and its
 * head version. Kept current from `context/status` after every start and from the server's
 * `context/didChange` / `didSwitch` / `didRestore` notifications (from any session).
 */

import * as vscode from "vscode";
import type { GroundhogApi } from "./api";
import type { Logger } from "./logger";
import type { DidChangeParams, StatusResult } from "./protocol";

export interface SessionSnapshot {
    sessionId: string | undefined;
    /** null: no active context (after `context/deactivate`); undefined: not known yet. */
    active: { name: string; version: number } | null | undefined;
    readOnly: boolean;
    status: StatusResult | undefined;
}

export class Session implements vscode.Disposable {
    private value: SessionSnapshot = { sessionId: undefined, active: undefined, readOnly: false, status: undefined };
    private readonly emitter = new vscode.EventEmitter<SessionSnapshot>();
    /** Fires when the active context, its version or any context of the workspace changed. */
    readonly onDidChange = this.emitter.event;

    constructor(
        private readonly api: GroundhogApi,
        private readonly logger: Logger,
    ) {}

    get current(): SessionSnapshot {
        return this.value;
    }

    /** Asks the server for its status; called after every (re)start. */
    async refresh(): Promise<StatusResult | undefined> {
        try {
            const status = await this.api.status();
            this.value = { sessionId: status.session.id, active: status.active, readOnly: status.session.readOnly, status };
            this.emitter.fire(this.value);
            return status;
        } catch (error) {
            this.logger.error("Reading the server status failed", error);
            return undefined;
        }
    }

    /** The server went away: nothing is known until the next start. */
    clear(): void {
        this.value = { sessionId: undefined, active: undefined, readOnly: false, status: undefined };
        this.emitter.fire(this.value);
    }

    /** A context changed, in this session or another: track the head of the active one. */
    contextChanged(params: DidChangeParams): void {
        const active = this.value.active;
        if (active?.name === params.context && (params.version > active.version || params.kind === "create")) {
            this.value = { ...this.value, active: { name: active.name, version: params.version } };
        }
        this.emitter.fire(this.value);
    }

    /** This session's active context changed (switch, restore). */
    activeChanged(name: string, version: number): void {
        this.value = { ...this.value, active: { name, version } };
        this.emitter.fire(this.value);
    }

    dispose(): void {
        this.emitter.dispose();
    }
}
