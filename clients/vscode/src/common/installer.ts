/**
 * Installing the server when none is found (privateServer.ts does the work, this module the
 * asking, the progress and the messages): `groundhog.server.autoInstall` "ask" offers it in a
 * notification, "always" installs without asking, "never" only says the server is missing.
 */

import * as vscode from "vscode";
import { Commands, SERVER_ID, Settings } from "./constants";
import { describe, type Logger } from "./logger";
import {
    type BundledWheel,
    envKey,
    findBundledWheel,
    installedServer,
    InstallError,
    installPrivateServer,
    MIN_PYTHON,
    type PythonCandidate,
    removeOtherEnvs,
} from "./privateServer";
import { readSettings, workspaceFolder } from "./settings";

/** What to do when no server is found: start this Python's server, or not (and why). */
export type MissingOutcome = { python: string } | { reason: string; alreadyShown: boolean };

const PYTHON_EXTENSION_ID = "ms-python.python";
const PYTHON_EXTENSION_TIMEOUT_MS = 15_000;
const INSTALL = "Install";
const SHOW_DETAILS = "Show Details";
const SHOW_LOGS = "Show Logs";

export class ServerInstaller implements vscode.Disposable {
    private readonly storageDir: string;
    private readonly wheel: BundledWheel | undefined;
    private readonly key: string | undefined;
    private running: Promise<string | undefined> | undefined;
    private offering = false;
    private readonly installedEmitter = new vscode.EventEmitter<void>();
    private readonly installingEmitter = new vscode.EventEmitter<boolean>();
    /** Fires when an install put a new environment in place. */
    readonly onDidInstall = this.installedEmitter.event;
    /** Fires true when an install starts, false when it ends (the status bar shows it). */
    readonly onDidChangeInstalling = this.installingEmitter.event;

    constructor(
        context: vscode.ExtensionContext,
        extensionVersion: string,
        private readonly logger: Logger,
        /** Restarts the language server after an install the user asked for. */
        private readonly restart: () => Promise<boolean>,
    ) {
        this.storageDir = context.globalStorageUri.fsPath;
        this.wheel = findBundledWheel(context.extensionPath);
        this.key = this.wheel === undefined ? undefined : envKey(extensionVersion, this.wheel);
    }

    /** The private environment's Python, when it is installed for this extension version. */
    installed(): string | undefined {
        return this.key === undefined ? undefined : installedServer(this.storageDir, this.key);
    }

    /** Removes the environments of other extension versions once this version's is in place. */
    removeOldEnvironments(): void {
        if (this.key === undefined || this.installed() === undefined) {
            return;
        }
        try {
            for (const name of removeOtherEnvs(this.storageDir, this.key)) {
                this.logger.info(`Removed the server environment ${name} (not this extension version's).`);
            }
        } catch (error) {
            this.logger.warn(`Could not remove old server environments: ${describe(error)}`);
        }
    }

    /** Called when no server is found: installs, offers to, or explains, as the setting says. */
    async whenMissing(): Promise<MissingOutcome> {
        if (this.wheel === undefined) {
            return { reason: "it is not installed ('groundhog' is not on PATH, and this build of the extension carries no server to install): install it, or set groundhog.server.command", alreadyShown: false };
        }
        const mode = readSettings().autoInstall;
        if (mode === "never") {
            return {
                reason: `it is not installed ('groundhog' is not on PATH) and ${SERVER_ID}.${Settings.autoInstall} is 'never': install it, set groundhog.server.command, or run 'Groundhog: Install Server'`,
                alreadyShown: false,
            };
        }
        if (mode === "always") {
            const python = await this.install();
            return python === undefined ? { reason: "installing it failed", alreadyShown: true } : { python };
        }
        this.offer();
        return { reason: "it is not installed (the extension offered to install it)", alreadyShown: true };
    }

    /**
     * Installs the server with progress shown; on failure shows one message with the cause and
     * the fix. Answers the environment's Python, or undefined when it failed.
     */
    install(options: { replace?: boolean } = {}): Promise<string | undefined> {
        if (this.running === undefined) {
            this.installingEmitter.fire(true);
            this.running = this.runInstall(options.replace === true).finally(() => {
                this.running = undefined;
                this.installingEmitter.fire(false);
            });
        }
        return this.running;
    }

    /**
     * Installs and restarts the language server on success. `replace`: Install Server, which
     * also reinstalls an environment already there (a repair).
     */
    async installAndRestart(options: { replace?: boolean } = {}): Promise<boolean> {
        const python = await this.install(options);
        return python !== undefined && (await this.restart());
    }

    dispose(): void {
        this.installedEmitter.dispose();
        this.installingEmitter.dispose();
    }

    /** The notification asking whether to install; not awaited, so the start does not wait for the user. */
    private offer(): void {
        if (this.offering) {
            return; // Another start found no server while the question is still open.
        }
        this.offering = true;
        const message = `The Groundhog server is not installed. Install it into a private environment for this extension? It needs Python ${MIN_PYTHON.join(".")}+ and downloads its dependencies from PyPI.`;
        void vscode.window.showInformationMessage(message, INSTALL, SHOW_DETAILS).then(async (choice) => {
            if (choice === SHOW_DETAILS) {
                choice = await vscode.window.showInformationMessage("Install the Groundhog server?", { modal: true, detail: this.details() }, INSTALL);
            }
            this.offering = false;
            if (choice === INSTALL) {
                await this.installAndRestart();
            }
        });
    }

    private details(): string {
        return [
            `The extension creates a Python virtual environment in ${this.storageDir}, installs the Groundhog server ${this.wheel?.version ?? ""} ` +
                "into it from the wheel shipped with the extension, and downloads its dependencies (pygls, pydantic, cryptography, mcp and theirs, about 80 MB) from PyPI.",
            `It uses the Python extension's interpreter when it is Python ${MIN_PYTHON.join(".")} or newer, else python3 or python from PATH.`,
            "A new version of the extension installs its own environment and removes the old one.",
            `To use a server installed yourself, put 'groundhog' on PATH or set ${SERVER_ID}.${Settings.serverCommand}; ` +
                `${SERVER_ID}.${Settings.autoInstall} 'always' installs without asking, 'never' never offers.`,
        ].join("\n\n");
    }

    private async runInstall(replace: boolean): Promise<string | undefined> {
        const wheel = this.wheel;
        const key = this.key;
        if (wheel === undefined || key === undefined) {
            this.showFailure("This build of the extension carries no server to install: install the server yourself, or set groundhog.server.command.");
            return undefined;
        }
        const settings = readSettings();
        const env: NodeJS.ProcessEnv = { ...process.env, ...settings.serverEnv };
        this.logger.info(`Installing the Groundhog server ${wheel.version} from ${wheel.file} into a private environment (${key}).`);
        const output = new LineLog((line) => {
            this.logger.info(`  ${line}`);
        });
        try {
            const python = await vscode.window.withProgress(
                { location: vscode.ProgressLocation.Notification, title: "Installing the Groundhog server" },
                async (progress) => {
                    const steps = 4;
                    return installPrivateServer({
                        storageDir: this.storageDir,
                        key,
                        wheel,
                        candidates: await this.pythonCandidates(),
                        env,
                        replace,
                        steps: {
                            step: (message) => {
                                this.logger.info(`${message}…`);
                                progress.report({ message: `${message}…`, increment: 100 / steps });
                            },
                            log: (text) => {
                                output.write(text);
                            },
                        },
                    });
                },
            );
            this.logger.info(`The server is installed: ${python}`);
            this.installedEmitter.fire();
            this.removeOldEnvironments();
            return python;
        } catch (error) {
            output.flush();
            this.showFailure(error instanceof InstallError ? error.message : `Something unexpected failed: ${describe(error)}. See the logs.`);
            return undefined;
        }
    }

    private showFailure(reason: string): void {
        const message = `Cannot install the Groundhog server. ${reason}`;
        this.logger.error(message);
        void vscode.window.showErrorMessage(message, SHOW_LOGS).then((choice) => {
            if (choice === SHOW_LOGS) {
                this.logger.show();
            }
        });
    }

    /** The Python extension's interpreter (in a trusted workspace only: a workspace can choose it), then python3 and python. */
    private async pythonCandidates(): Promise<PythonCandidate[]> {
        const candidates: PythonCandidate[] = [];
        const fromExtension = vscode.workspace.isTrusted ? await this.pythonExtensionInterpreter() : undefined;
        if (fromExtension !== undefined) {
            candidates.push({ command: fromExtension, source: "the Python extension's interpreter" });
        }
        candidates.push({ command: "python3", source: "on PATH" }, { command: "python", source: "on PATH" });
        return candidates;
    }

    /**
     * The active interpreter of the Python extension, through its public API, feature-detected:
     * `environments` (2023+), else the older `settings.getExecutionDetails`.
     */
    private async pythonExtensionInterpreter(): Promise<string | undefined> {
        const extension = vscode.extensions.getExtension(PYTHON_EXTENSION_ID);
        if (extension === undefined) {
            return undefined;
        }
        try {
            const exports: unknown = await withTimeout(extension.isActive ? Promise.resolve(extension.exports) : extension.activate(), PYTHON_EXTENSION_TIMEOUT_MS);
            const api = exports as PythonExtensionApi | undefined;
            const resource = workspaceFolder()?.uri;
            const environments = api?.environments;
            if (environments?.getActiveEnvironmentPath !== undefined && environments.resolveEnvironment !== undefined) {
                const active = environments.getActiveEnvironmentPath(resource);
                const resolved = await withTimeout(environments.resolveEnvironment(active), PYTHON_EXTENSION_TIMEOUT_MS);
                return resolved?.executable?.uri?.fsPath ?? active.path;
            }
            return api?.settings?.getExecutionDetails?.(resource).execCommand?.[0];
        } catch (error) {
            this.logger.warn(`The Python extension did not say which interpreter it uses: ${describe(error)}`);
            return undefined;
        }
    }
}

/** Programs' output, passed on one complete line at a time (the log channel stamps each write). */
class LineLog {
    private pending = "";

    constructor(private readonly line: (text: string) => void) {}

    write(text: string): void {
        const lines = (this.pending + text).split(/\r?\n/);
        this.pending = lines.pop() ?? "";
        for (const line of lines) {
            if (line.trim()) {
                this.line(line);
            }
        }
    }

    flush(): void {
        this.write("\n");
    }
}

/** The parts of the Python extension's API (`@vscode/python-extension`) used here, all optional. */
interface PythonExtensionApi {
    environments?: {
        getActiveEnvironmentPath?(resource?: vscode.Uri): { path: string };
        resolveEnvironment?(environment: { path: string }): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
    };
    settings?: {
        getExecutionDetails?(resource?: vscode.Uri): { execCommand?: string[] };
    };
}

function withTimeout<T>(promise: Thenable<T>, ms: number): Promise<T> {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            reject(new Error(`no answer within ${ms / 1000} s`));
        }, ms);
        promise.then(
            (value) => {
                clearTimeout(timer);
                resolve(value);
            },
            (error: unknown) => {
                clearTimeout(timer);
                reject(error instanceof Error ? error : new Error(String(error)));
            },
        );
    });
}

/** Registered by the extension: Groundhog: Install Server. */
export function registerInstallCommand(installer: ServerInstaller): vscode.Disposable {
    return vscode.commands.registerCommand(Commands.installServer, () => installer.installAndRestart({ replace: true }));
}
