/**
 * The processes of an end-to-end run: code-server (a real VS Code server and extension host, from
 * npm) and a headless Chromium that opens it on loopback, inspected over the DevTools protocol.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import WebSocket from "ws";

export const CODE_SERVER_VERSION = "4.117.0";

export function codeServerBin(): string {
    const cache = process.env.GROUNDHOG_E2E_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "groundhog-e2e");
    return process.env.CODE_SERVER ?? join(cache, `code-server-${CODE_SERVER_VERSION}`, "node_modules", ".bin", "code-server");
}

function onPath(name: string): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(delimiter)) {
        if (dir && existsSync(join(dir, name))) {
            return join(dir, name);
        }
    }
    return undefined;
}

/** `$CHROMIUM`, else Debian's chromium-headless-shell, else chromium in headless mode. */
export function chromiumCommand(): string[] | undefined {
    if (process.env.CHROMIUM) {
        return [process.env.CHROMIUM];
    }
    const shell = onPath("chromium-headless-shell");
    if (shell) {
        return [shell];
    }
    const chromium = onPath("chromium");
    return chromium ? [chromium, "--headless"] : undefined;
}

export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => {
                if (typeof address === "object" && address !== null) {
                    resolve(address.port);
                } else {
                    reject(new Error("no port"));
                }
            });
        });
    });
}

/** Every process group started and not yet stopped: killed if the runner ends early. */
const live = new Set<Proc>();
process.on("exit", () => {
    for (const proc of live) {
        proc.kill("SIGKILL");
    }
});

/** Stops whatever is still running (e.g. after a test timed out). */
export async function stopAll(): Promise<void> {
    await Promise.all([...live].map((proc) => proc.stop()));
}

/** A process in its own process group, with its output collected; `stop()` ends the group. */
export class Proc {
    readonly child: ChildProcess;
    output = "";
    private exited: Promise<void>;

    constructor(
        readonly name: string,
        command: string[],
        env: NodeJS.ProcessEnv,
    ) {
        const [program, ...args] = command;
        if (program === undefined) {
            throw new Error(`${name}: empty command`);
        }
        this.child = spawn(program, args, { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
        const collect = (chunk: Buffer) => {
            this.output += chunk.toString();
        };
        this.child.stdout?.on("data", collect);
        this.child.stderr?.on("data", collect);
        this.exited = new Promise((resolve) => {
            this.child.once("exit", () => {
                resolve();
            });
        });
        live.add(this);
    }

    /** Signals the whole process group. */
    kill(signal: NodeJS.Signals): void {
        const pid = this.child.pid;
        if (pid !== undefined) {
            try {
                process.kill(-pid, signal);
            } catch {
                // Already gone.
            }
        }
    }

    /** Resolves with the first match of `pattern` in the output. */
    async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const match = pattern.exec(this.output);
            if (match) {
                return match;
            }
            if (this.child.exitCode !== null || Date.now() > deadline) {
                throw new Error(`${this.name}: no ${String(pattern)} in its output (exit ${this.child.exitCode ?? "none"}):\n${this.output.slice(-3000)}`);
            }
            await new Promise((r) => setTimeout(r, 100));
        }
    }

    async stop(): Promise<void> {
        live.delete(this);
        if (this.child.pid === undefined) {
            return;
        }
        if (this.child.exitCode === null && this.child.signalCode === null) {
            this.kill("SIGTERM");
            const timer = setTimeout(() => {
                this.kill("SIGKILL");
            }, 5000);
            await this.exited;
            clearTimeout(timer);
        }
        // Children that outlived the leader (e.g. code-server's file watcher) go too.
        this.kill("SIGKILL");
    }
}

/** The smallest DevTools-protocol client the runner needs: evaluate and screenshot. */
export class Page {
    private nextId = 0;
    private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

    private constructor(private readonly socket: WebSocket) {
        socket.on("message", (raw: Buffer) => {
            const message = JSON.parse(raw.toString()) as { id?: number; result?: unknown; error?: { message: string } };
            const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
            if (waiter && message.id !== undefined) {
                this.pending.delete(message.id);
                if (message.error) {
                    waiter.reject(new Error(message.error.message));
                } else {
                    waiter.resolve(message.result);
                }
            }
        });
    }

    static async connect(devtoolsPort: number, timeoutMs = 20000): Promise<Page> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            try {
                const targets = (await (await fetch(`http://127.0.0.1:${devtoolsPort}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[];
                const page = targets.find((t) => t.type === "page");
                if (page) {
                    const socket = new WebSocket(page.webSocketDebuggerUrl);
                    await new Promise<void>((resolve, reject) => {
                        socket.once("open", () => {
                            resolve();
                        });
                        socket.once("error", reject);
                    });
                    return new Page(socket);
                }
            } catch (error) {
                if (Date.now() > deadline) {
                    throw error;
                }
            }
            if (Date.now() > deadline) {
                throw new Error("no page target in the browser");
            }
            await new Promise((r) => setTimeout(r, 200));
        }
    }

    /** One DevTools call; fails after `timeoutMs` (a call made while the page reloads may never be answered). */
    send<T>(method: string, params: object = {}, timeoutMs = 10000): Promise<T> {
        const id = ++this.nextId;
        return new Promise<T>((resolve, reject) => {
            const timer = setTimeout(() => {
                this.pending.delete(id);
                reject(new Error(`${method}: no answer within ${timeoutMs} ms`));
            }, timeoutMs);
            this.pending.set(id, {
                resolve: (value) => {
                    clearTimeout(timer);
                    resolve(value as T);
                },
                reject: (error) => {
                    clearTimeout(timer);
                    reject(error);
                },
            });
            this.socket.send(JSON.stringify({ id, method, params }));
        });
    }

    async evaluate<T>(expression: string): Promise<T> {
        const reply = await this.send<{ result: { value: T }; exceptionDetails?: { text: string } }>("Runtime.evaluate", { expression, returnByValue: true });
        if (reply.exceptionDetails) {
            throw new Error(reply.exceptionDetails.text);
        }
        return reply.result.value;
    }

    /** Types `text` into the focused element and presses Enter. */
    async typeAndEnter(text: string): Promise<void> {
        await this.send("Input.insertText", { text });
        for (const type of ["keyDown", "keyUp"]) {
            await this.send("Input.dispatchKeyEvent", { type, key: "Enter", code: "Enter", windowsVirtualKeyCode: 13, nativeVirtualKeyCode: 13, text: type === "keyDown" ? "\r" : undefined });
        }
    }

    async screenshot(file: string): Promise<void> {
        const reply = await this.send<{ data: string }>("Page.captureScreenshot", { format: "png" });
        writeFileSync(file, Buffer.from(reply.data, "base64"));
    }

    close(): void {
        this.socket.close();
    }
}

/** Clicks the notification or dialog button labelled `label`; answers whether there was one. */
export function clickButton(label: string): string {
    return `(() => {
        const button = [...document.querySelectorAll('.notification-list-item .monaco-button, .monaco-dialog-box .monaco-button')]
            .find((b) => (b.textContent || '').trim() === ${JSON.stringify(label)});
        if (button) { button.click(); }
        return Boolean(button);
    })()`;
}

/** Texts of the page's status bar items whose id mentions groundhog, the visible notifications and the side bar rows. */
export const READ_PAGE = `(() => {
    const items = [...document.querySelectorAll('.statusbar-item')]
        .filter((e) => (e.id || '').toLowerCase().includes('groundhog'))
        .map((e) => (e.textContent || '').trim());
    const notes = [...document.querySelectorAll('.notifications-toasts .notification-list-item-message, .notification-list-item-message')]
        .map((e) => (e.textContent || '').trim());
    const sidebar = [...document.querySelectorAll('.part.sidebar .monaco-list-row')]
        .map((e) => (e.textContent || '').trim());
    const visible = (e) => e && e.offsetParent !== null;
    const quick = document.querySelector('.quick-input-widget');
    const quickInput = visible(quick)
        ? [quick.querySelector('.quick-input-title'), quick.querySelector('.quick-input-message'), ...quick.querySelectorAll('.monaco-list-row')]
              .map((e) => (e ? (e.textContent || '').trim() : '')).join(' | ') + ' | ' + ((quick.querySelector('input') || {}).placeholder || '')
        : '';
    const box = document.querySelector('.monaco-dialog-box');
    const dialog = visible(box) ? (box.textContent || '').trim() : '';
    const modified = document.querySelector('.monaco-diff-editor .editor.modified');
    const diff = modified
        ? [...modified.querySelectorAll('.view-lines .view-line')]
              .sort((a, b) => parseFloat(a.style.top || '0') - parseFloat(b.style.top || '0'))
              .map((e) => (e.textContent || '').slice(0, 200).replace(/\u00a0/g, ' ').trim())
        : [];
    const diffInserted = modified ? modified.querySelectorAll('.view-overlays .line-insert').length : 0;
    return JSON.stringify({ items, notes, sidebar, quickInput, dialog, diff, diffInserted });
})()`;
