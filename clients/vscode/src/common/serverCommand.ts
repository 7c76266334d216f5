/**
 * The resolution of the server command, in this order: `groundhog.server.command`, else the
 * private environment the extension installed for this version (privateServer.ts), else
 * `groundhog serve` on PATH; else the server is missing and the extension offers to install it.
 * Shared by the LSP server and the MCP server offered to VS Code's agent. This module must not
 * import `vscode`: the unit tests run it in plain Node.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { GroundhogSettings } from "./settings";

/** Where `name` is on `searchPath` (the PATH the server will be started with), if anywhere. */
export function findOnPath(name: string, searchPath: string | undefined): string | undefined {
    if (name.includes(path.sep)) {
        return isExecutable(name) ? name : undefined;
    }
    for (const dir of (searchPath ?? "").split(path.delimiter)) {
        if (dir) {
            const candidate = path.join(dir, name);
            if (isExecutable(candidate)) {
                return candidate;
            }
        }
    }
    return undefined;
}

function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

export interface ServerCommand {
    command: string;
    args: string[];
    /** How the command was chosen, for the log. */
    origin: "setting" | "private" | "PATH";
}

/** No server anywhere: the caller may install one. */
export interface MissingServer {
    problem: string;
    missing: true;
}

/**
 * The argv to start the server with, or an explanation of why none was found.
 * `env` is the environment the server will get (its PATH is searched); `privatePython` is the
 * Python of the private environment, when one is installed for this extension version.
 */
export function resolveServerCommand(
    settings: GroundhogSettings,
    env: NodeJS.ProcessEnv,
    privatePython?: string,
): ServerCommand | { problem: string } | MissingServer {
    const [command, ...args] = settings.serverCommand;
    if (command !== undefined) {
        const found = findOnPath(command, env.PATH);
        if (found === undefined) {
            return { problem: `the server command '${command}' (setting groundhog.server.command) was not found or is not executable` };
        }
        return { command: found, args, origin: "setting" };
    }
    if (privatePython !== undefined) {
        // `-m`: the venv's bin/ scripts name the temporary folder it was built in.
        return { command: privatePython, args: ["-m", "groundhog", "serve"], origin: "private" };
    }
    const groundhog = findOnPath("groundhog", env.PATH);
    if (groundhog !== undefined) {
        return { command: groundhog, args: ["serve"], origin: "PATH" };
    }
    return { problem: "it is not installed ('groundhog' is not on PATH and groundhog.server.command is not set)", missing: true };
}
