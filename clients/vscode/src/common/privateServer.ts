/**
 * The server's private environment: a venv in the extension's global storage, made from the
 * wheel shipped inside the .vsix (`bundled/groundhog-<version>-py3-none-any.whl`), its
 * dependencies from PyPI.
 *
 * One environment per extension version and wheel (`servers/<extension version>-<wheel hash>`),
 * so a new extension installs afresh. An environment is built in a temporary folder next to its
 * final one and renamed into place only once `groundhog --version` answered the wheel's version:
 * a folder under its final name is always complete, a failed install leaves nothing behind. The
 * server is run as `<env>/bin/python -m groundhog`, which works after the rename (the `bin/`
 * scripts of a venv name the folder it was created in).
 *
 * This module must not import `vscode`: the unit tests run it in plain Node with real processes.
 */

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { findOnPath } from "./serverCommand";

/** The oldest Python the server runs on (pyproject.toml `requires-python`). */
export const MIN_PYTHON: readonly [number, number] = [3, 11];
const MIN_TEXT = `${MIN_PYTHON[0]}.${MIN_PYTHON[1]}`;
/** Where the .vsix carries the wheel, relative to the extension's folder. */
export const BUNDLED_DIR = "bundled";
const SERVERS_DIR = "servers";
const TMP_MARK = ".tmp-";
/** What the user runs once the cause is fixed. */
const RETRY = "then run 'Groundhog: Install Server'";

export interface BundledWheel {
    file: string;
    /** The server version the wheel installs, from its file name. */
    version: string;
}

/** The wheel shipped in the extension, if this build has one. */
export function findBundledWheel(extensionDir: string): BundledWheel | undefined {
    let names: string[];
    try {
        names = fs.readdirSync(path.join(extensionDir, BUNDLED_DIR));
    } catch {
        return undefined;
    }
    for (const name of names.sort()) {
        const match = /^groundhog-([^-]+)-.*\.whl$/.exec(name);
        if (match?.[1] !== undefined) {
            return { file: path.join(extensionDir, BUNDLED_DIR, name), version: match[1] };
        }
    }
    return undefined;
}

/** The environment's name: the extension's version and the wheel's content, so either changing installs afresh. */
export function envKey(extensionVersion: string, wheel: BundledWheel): string {
    const hash = createHash("sha256").update(fs.readFileSync(wheel.file)).digest("hex").slice(0, 12);
    return `${extensionVersion}-${hash}`;
}

export function envDir(storageDir: string, key: string): string {
    return path.join(storageDir, SERVERS_DIR, key);
}

export function envPython(dir: string): string {
    return process.platform === "win32" ? path.join(dir, "Scripts", "python.exe") : path.join(dir, "bin", "python");
}

/** The Python of the installed environment for `key`, if there is one. */
export function installedServer(storageDir: string, key: string): string | undefined {
    const python = envPython(envDir(storageDir, key));
    try {
        fs.accessSync(python, fs.constants.X_OK);
        return python;
    } catch {
        return undefined;
    }
}

/**
 * Removes every environment but `keep`'s: those of other versions and the temporary folders of
 * installs whose process is gone. Answers what it removed.
 */
export function removeOtherEnvs(storageDir: string, keep: string): string[] {
    const root = path.join(storageDir, SERVERS_DIR);
    let names: string[];
    try {
        names = fs.readdirSync(root);
    } catch {
        return [];
    }
    const removed: string[] = [];
    for (const name of names) {
        const at = name.indexOf(TMP_MARK);
        const owner = at < 0 ? undefined : Number(name.slice(at + TMP_MARK.length).split("-")[0]);
        const stale = owner === undefined ? name !== keep : !isAlive(owner);
        if (stale) {
            fs.rmSync(path.join(root, name), { recursive: true, force: true });
            removed.push(name);
        }
    }
    return removed;
}

function isAlive(pid: number): boolean {
    if (!Number.isInteger(pid) || pid <= 0) {
        return false;
    }
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}

export type InstallProblem = "no-python" | "python-too-old" | "no-venv" | "network" | "disk-full" | "wrong-version" | "failed";

/** A failed install: `message` is the one the user sees (what is missing, what to do). */
export class InstallError extends Error {
    constructor(
        readonly problem: InstallProblem,
        message: string,
    ) {
        super(message);
    }
}

export interface PythonCandidate {
    /** A program name looked up on PATH, or a path. */
    command: string;
    /** Where it came from, for messages: "the Python extension's interpreter", "python3 on PATH". */
    source: string;
}

export interface FoundPython {
    command: string;
    source: string;
    version: string;
}

export interface RunResult {
    code: number | null;
    output: string;
    /** Set when the program could not be started (e.g. ENOENT). */
    spawnError?: NodeJS.ErrnoException;
}

export interface RunOptions {
    env: NodeJS.ProcessEnv;
    timeoutMs: number;
    /** Receives the program's output as it comes. */
    log?: (text: string) => void;
}

const OUTPUT_LIMIT = 200_000;

/** Runs a program to its end, with stdout and stderr together. */
export function run(command: string, args: string[], options: RunOptions): Promise<RunResult> {
    return new Promise((resolve) => {
        let output = "";
        const child = spawn(command, args, { env: options.env, stdio: ["ignore", "pipe", "pipe"] });
        const timer = setTimeout(() => {
            output += `\n(stopped after ${options.timeoutMs / 1000} s)\n`;
            child.kill("SIGKILL");
        }, options.timeoutMs);
        const collect = (chunk: Buffer): void => {
            const text = chunk.toString();
            output = (output + text).slice(-OUTPUT_LIMIT);
            options.log?.(text);
        };
        child.stdout.on("data", collect);
        child.stderr.on("data", collect);
        child.on("error", (error: NodeJS.ErrnoException) => {
            clearTimeout(timer);
            resolve({ code: null, output, spawnError: error });
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, output });
        });
    });
}

function parseVersion(text: string): number[] | undefined {
    const match = /Python (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
    return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : undefined;
}

function isRecentEnough(version: number[]): boolean {
    const [major = 0, minor = 0] = version;
    return major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1]);
}

/** Imports what `python -m venv` needs (Debian ships ensurepip apart, in python3-venv). */
const VENV_PROBE = "import venv, ensurepip";

/**
 * The first candidate that is Python >= 3.11 with `venv` and `ensurepip`. Throws an InstallError
 * saying what was found otherwise: nothing, only older versions, or one without `venv`.
 */
export async function findPython(candidates: PythonCandidate[], env: NodeJS.ProcessEnv, log?: (text: string) => void): Promise<FoundPython> {
    let newestOld: FoundPython | undefined;
    let withoutVenv: FoundPython | undefined;
    for (const candidate of candidates) {
        const command = findOnPath(candidate.command, env.PATH);
        if (command === undefined) {
            log?.(`${candidate.command} (${candidate.source}): not found\n`);
            continue;
        }
        const answer = await run(command, ["--version"], { env, timeoutMs: 20_000 });
        const version = answer.code === 0 ? parseVersion(answer.output) : undefined;
        if (version === undefined) {
            log?.(`${command} (${candidate.source}): not a usable Python: ${answer.output.trim().slice(0, 200)}\n`);
            continue;
        }
        const found = { command, source: candidate.source, version: version.join(".") };
        log?.(`${command} (${candidate.source}): Python ${found.version}\n`);
        if (!isRecentEnough(version)) {
            if (newestOld === undefined || compareVersions(found.version, newestOld.version) > 0) {
                newestOld = found;
            }
            continue;
        }
        const probe = await run(command, ["-c", VENV_PROBE], { env, timeoutMs: 20_000 });
        if (probe.code === 0) {
            return found;
        }
        log?.(probe.output);
        withoutVenv ??= found;
    }
    if (withoutVenv !== undefined) {
        throw new InstallError(
            "no-venv",
            `Python ${withoutVenv.version} (${withoutVenv.command}) cannot create virtual environments: its 'venv' or 'ensurepip' module is missing. ` +
                `On Debian or Ubuntu install it with 'sudo apt install python3-venv', ${RETRY}.`,
        );
    }
    if (newestOld !== undefined) {
        throw new InstallError(
            "python-too-old",
            `The server needs Python ${MIN_TEXT} or newer, but the newest Python found is ${newestOld.version} (${newestOld.command}, ${newestOld.source}). ` +
                `Install Python ${MIN_TEXT}+ (or select it in the Python extension), ${RETRY}.`,
        );
    }
    throw new InstallError(
        "no-python",
        `The server needs Python ${MIN_TEXT} or newer, and no Python was found (looked for ${candidates.map((c) => c.command).join(", ")}). ` +
            `Install Python ${MIN_TEXT}+ (or select it in the Python extension), ${RETRY}.`,
    );
}

function compareVersions(a: string, b: string): number {
    const [x, y] = [a.split(".").map(Number), b.split(".").map(Number)];
    for (let i = 0; i < 3; i++) {
        const diff = (x[i] ?? 0) - (y[i] ?? 0);
        if (diff !== 0) {
            return diff;
        }
    }
    return 0;
}

const DISK_FULL = /No space left on device|\[Errno 28\]|ENOSPC|Disk quota exceeded|EDQUOT/;
const NETWORK =
    /No matching distribution found|Could not find a version that satisfies|NewConnectionError|ConnectTimeoutError|ProxyError|SSLError|Name or service not known|Temporary failure in name resolution|Connection refused|Network is unreachable|Could not fetch URL|Read timed out/;

/** Turns the output of a failed `python -m venv` or `pip install` into the one message for the user. */
export function classifyFailure(stage: "venv" | "pip", output: string, storageDir: string): InstallError {
    if (DISK_FULL.test(output)) {
        return diskFull(storageDir);
    }
    if (stage === "venv" && output.includes("ensurepip")) {
        return new InstallError("no-venv", `Python cannot create virtual environments ('ensurepip' is missing). On Debian or Ubuntu install it with 'sudo apt install python3-venv', ${RETRY}.`);
    }
    if (stage === "pip" && NETWORK.test(output)) {
        const missing = /No matching distribution found for (\S+)/.exec(output)?.[1];
        return new InstallError(
            "network",
            `pip could not download the server's dependencies from PyPI${missing ? ` (${missing})` : ""}. ` +
                `Check the network connection or the proxy (pip reads HTTPS_PROXY and pip.conf), ${RETRY}.`,
        );
    }
    const last = lastLine(output);
    return new InstallError(
        "failed",
        `${stage === "venv" ? "Creating the server's environment" : "pip install"} failed${last ? `: ${last}` : ""}. See the logs for its output; once fixed, run 'Groundhog: Install Server'.`,
    );
}

function diskFull(storageDir: string): InstallError {
    return new InstallError("disk-full", `The disk is full: the server's environment (about 80 MB) does not fit in ${storageDir}. Free some space, ${RETRY}.`);
}

function lastLine(output: string): string {
    const lines = output
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line.length > 0);
    return (lines[lines.length - 1] ?? "").slice(0, 200);
}

/** A failed file operation as an InstallError (a full disk says so). */
function fileFailure(error: unknown, what: string, storageDir: string): InstallError {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT") {
        return diskFull(storageDir);
    }
    const reason = error instanceof Error ? error.message : String(error);
    return new InstallError("failed", `Could not ${what}: ${reason}.`);
}

export interface InstallSteps {
    /** A step starts: shown in the progress notification. */
    step: (message: string) => void;
    /** Output of the programs run, for the log. */
    log: (text: string) => void;
}

export interface InstallRequest {
    storageDir: string;
    key: string;
    wheel: BundledWheel;
    candidates: PythonCandidate[];
    env: NodeJS.ProcessEnv;
    steps: InstallSteps;
    /** Replace an environment already there (Install Server run again, e.g. to repair it). */
    replace?: boolean;
}

/** Timeouts generous enough for a slow network; the progress notification shows what is going on. */
const VENV_TIMEOUT_MS = 180_000;
const PIP_TIMEOUT_MS = 900_000;
const VERSION_TIMEOUT_MS = 60_000;

/**
 * Installs the server into its private environment and answers that environment's Python.
 * Whatever fails, the temporary folder is removed and an InstallError says why.
 */
export async function installPrivateServer(request: InstallRequest): Promise<string> {
    const { storageDir, key, wheel, env, steps } = request;
    const final = envDir(storageDir, key);
    steps.step(`Looking for Python ${MIN_TEXT} or newer`);
    const python = await findPython(request.candidates, env, steps.log);
    const temporary = `${final}${TMP_MARK}${process.pid}-${Date.now().toString(36)}`;
    try {
        try {
            fs.mkdirSync(path.dirname(final), { recursive: true });
        } catch (error) {
            throw fileFailure(error, `create ${path.dirname(final)}`, storageDir);
        }
        steps.step(`Creating a virtual environment with Python ${python.version}`);
        const venv = await run(python.command, ["-m", "venv", temporary], { env, timeoutMs: VENV_TIMEOUT_MS, log: steps.log });
        if (venv.code !== 0) {
            throw classifyFailure("venv", venv.output, storageDir);
        }
        steps.step(`Installing the server ${wheel.version} and its dependencies from PyPI`);
        // PIP_USER=0: a pip.conf with `user = true` would refuse to install into a venv.
        const pipEnv = { ...env, PIP_USER: "0", PIP_NO_INPUT: "1", PIP_DISABLE_PIP_VERSION_CHECK: "1" };
        const pip = await run(envPython(temporary), ["-m", "pip", "install", "--progress-bar", "off", wheel.file], { env: pipEnv, timeoutMs: PIP_TIMEOUT_MS, log: steps.log });
        if (pip.code !== 0) {
            throw classifyFailure("pip", pip.output, storageDir);
        }
        steps.step("Checking the installed server");
        await checkVersion(envPython(temporary), wheel.version, env);
        if (request.replace === true && fs.existsSync(final)) {
            // Moved aside first (named like a temporary folder, so a crash here is cleaned up later).
            const previous = `${final}${TMP_MARK}${process.pid}-previous`;
            try {
                fs.renameSync(final, previous);
            } catch (error) {
                throw fileFailure(error, `replace ${final}`, storageDir);
            }
            fs.rmSync(previous, { recursive: true, force: true });
        }
        try {
            fs.renameSync(temporary, final);
        } catch (error) {
            // Another window finished the same install first: its environment is as good as ours.
            const code = (error as NodeJS.ErrnoException).code;
            if ((code === "ENOTEMPTY" || code === "EEXIST") && installedServer(storageDir, key) !== undefined) {
                steps.log(`Another window installed ${final} first; using it.\n`);
                fs.rmSync(temporary, { recursive: true, force: true });
            } else {
                throw fileFailure(error, `move the environment to ${final}`, storageDir);
            }
        }
    } catch (error) {
        fs.rmSync(temporary, { recursive: true, force: true });
        throw error instanceof InstallError ? error : fileFailure(error, "install the server", storageDir);
    }
    return envPython(final);
}

/** `python -m groundhog --version` must print the wheel's version: anything else is not our server. */
export async function checkVersion(python: string, expected: string, env: NodeJS.ProcessEnv): Promise<void> {
    const answer = await run(python, ["-m", "groundhog", "--version"], { env, timeoutMs: VERSION_TIMEOUT_MS });
    const said = answer.output.trim();
    const version = /^groundhog (\S+)$/m.exec(said)?.[1];
    if (answer.code !== 0 || version !== expected) {
        throw new InstallError(
            "wrong-version",
            `The installed server answered '${lastLine(said) || `exit code ${String(answer.code)}`}' to --version instead of 'groundhog ${expected}'. ` +
                "Reinstall the extension; if that does not help, see the logs.",
        );
    }
}
