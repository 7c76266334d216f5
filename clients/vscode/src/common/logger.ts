/**
 * The extension's two output channels: "Groundhog" for the extension's and the server's logs
 * (the server's stderr lands here through the language client) and "Groundhog Trace" for the
 * LSP message trace switched on by `groundhog.trace.server`.
 */

import * as vscode from "vscode";
import { SERVER_NAME } from "./constants";

export class Logger implements vscode.Disposable {
    readonly channel: vscode.LogOutputChannel;
    readonly traceChannel: vscode.OutputChannel;

    constructor() {
        this.channel = vscode.window.createOutputChannel(SERVER_NAME, { log: true });
        this.traceChannel = vscode.window.createOutputChannel(`${SERVER_NAME} Trace`);
    }

    info(message: string): void {
        this.channel.info(message);
    }

    warn(message: string): void {
        this.channel.warn(message);
    }

    error(message: string, error?: unknown): void {
        this.channel.error(error === undefined ? message : `${message}: ${describe(error)}`);
    }

    debug(message: string): void {
        this.channel.debug(message);
    }

    show(): void {
        this.channel.show(true);
    }

    dispose(): void {
        this.channel.dispose();
        this.traceChannel.dispose();
    }
}

export function describe(error: unknown): string {
    if (error instanceof Error) {
        return error.message;
    }
    return typeof error === "string" ? error : JSON.stringify(error);
}
