/**
 * Finding the server and installing it into its private environment, in plain Node with real
 * processes: real venvs and real pip installing small wheels made here (offline, no dependencies
 * unless a test wants pip to fail fetching one), and stand-in `python3` scripts on PATH as inputs.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
    type BundledWheel,
    checkVersion,
    classifyFailure,
    envDir,
    envKey,
    envPython,
    findBundledWheel,
    findPython,
    installedServer,
    InstallError,
    installPrivateServer,
    type InstallRequest,
    removeOtherEnvs,
} from "../../src/common/privateServer";
import { findOnPath, resolveServerCommand } from "../../src/common/serverCommand";
import { testSettings as settings } from "./settings";

const root = mkdtempSync(join(tmpdir(), "groundhog-private-unit-"));
after(() => {
    rmSync(root, { recursive: true, force: true });
});

/**
 * The machine's own Python (>= 3.11 with venv: what CI and `make install` need anyway), as its real
 * executable: a pyenv shim would not run with the bare PATHs the tests give.
 */
const pythonOnPath = findOnPath("python3", process.env.PATH);
assert.ok(pythonOnPath, "python3 is not on PATH");
const realPython = execFileSync(pythonOnPath, ["-c", "import sys; print(sys.executable)"]).toString().trim();

let counter = 0;
function dir(name: string): string {
    const path = join(root, `${name}-${counter++}`);
    mkdirSync(path, { recursive: true });
    return path;
}

function script(folder: string, name: string, body: string): string {
    const file = join(folder, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return file;
}


/**
 * A wheel named like the server's whose `python -m groundhog --version` prints `groundhog <says>`,
 * requiring `requires` (a distribution pip must then fetch) if given.
 */
function makeWheel(folder: string, version: string, options: { says?: string; requires?: string } = {}): BundledWheel {
    const maker = `
import base64, hashlib, sys, zipfile
out, version, says, requires = sys.argv[1:5]
info = f"groundhog-{version}.dist-info"
files = {
    "groundhog/__init__.py": "",
    "groundhog/__main__.py": f"import sys\\nif '--version' in sys.argv:\\n    print('groundhog {says}')\\nelse:\\n    sys.exit(2)\\n",
    f"{info}/METADATA": "Metadata-Version: 2.1\\nName: groundhog\\nVersion: " + version + "\\n" + (f"Requires-Dist: {requires}\\n" if requires else ""),
    f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
def digest(text):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
record = "".join(f"{name},{digest(text)},{len(text.encode())}\\n" for name, text in files.items()) + f"{info}/RECORD,,\\n"
with zipfile.ZipFile(out, "w") as archive:
    for name, text in {**files, f"{info}/RECORD": record}.items():
        archive.writestr(name, text)
`;
    mkdirSync(join(folder, "bundled"), { recursive: true });
    const file = join(folder, "bundled", `groundhog-${version}-py3-none-any.whl`);
    execFileSync(realPython, ["-c", maker, file, version, options.says ?? version, options.requires ?? ""]);
    return { file, version };
}

/** An install request into a new storage folder with the real python3; output kept for messages. */
function request(wheel: BundledWheel, overrides: Partial<InstallRequest> = {}): InstallRequest & { output: string[]; stepsSeen: string[] } {
    const output: string[] = [];
    const stepsSeen: string[] = [];
    return {
        storageDir: dir("storage"),
        key: "0.1.0-test",
        wheel,
        candidates: [{ command: realPython, source: "test" }],
        env: process.env,
        steps: { step: (message) => stepsSeen.push(message), log: (text) => output.push(text) },
        output,
        stepsSeen,
        ...overrides,
    };
}

/** Nothing of an environment is left in the storage folder: no final folder, no temporary one. */
function assertNothingLeft(storageDir: string): void {
    const servers = join(storageDir, "servers");
    assert.deepEqual(existsSync(servers) ? readdirSync(servers) : [], []);
}

async function installFailure(promise: Promise<unknown>): Promise<InstallError> {
    try {
        await promise;
    } catch (error) {
        assert.ok(error instanceof InstallError, `not an InstallError: ${String(error)}`);
        return error;
    }
    assert.fail("the install succeeded");
}

describe("discovery order: setting, private environment, PATH, else missing", () => {
    const bin = dir("bin");
    const onPath = script(bin, "groundhog", "exit 0");
    const configured = script(bin, "my-server", "exit 0");
    const privatePython = script(dir("env"), "python", "exit 0");

    test("the setting wins over everything", () => {
        const resolved = resolveServerCommand(settings({ serverCommand: [configured, "serve"] }), { PATH: bin }, privatePython);
        assert.deepEqual(resolved, { command: configured, args: ["serve"], origin: "setting" });
    });

    test("the private environment comes before groundhog on PATH, run as `python -m groundhog serve`", () => {
        const resolved = resolveServerCommand(settings(), { PATH: bin }, privatePython);
        assert.deepEqual(resolved, { command: privatePython, args: ["-m", "groundhog", "serve"], origin: "private" });
    });

    test("groundhog on PATH when nothing is installed privately", () => {
        assert.deepEqual(resolveServerCommand(settings(), { PATH: bin }), { command: onPath, args: ["serve"], origin: "PATH" });
    });

    test("nothing found is 'missing' (the extension then offers to install); python3 on PATH does not count", () => {
        const pythonOnly = dir("python-only");
        script(pythonOnly, "python3", "exit 0");
        const resolved = resolveServerCommand(settings(), { PATH: pythonOnly });
        assert.ok("missing" in resolved, JSON.stringify(resolved));
        assert.match(resolved.problem, /not installed/);
    });

    test("a configured command that does not exist is a problem, never a silent fallback", () => {
        const resolved = resolveServerCommand(settings({ serverCommand: ["/nonexistent/groundhog"] }), { PATH: bin }, privatePython);
        assert.ok("problem" in resolved && !("missing" in resolved), JSON.stringify(resolved));
        assert.match(resolved.problem, /\/nonexistent\/groundhog/);
    });
});

describe("the wheel in the extension and the environment's key", () => {
    test("the bundled wheel and its version are found; a build without one has none", () => {
        const extension = dir("extension");
        assert.equal(findBundledWheel(extension), undefined);
        const wheel = makeWheel(extension, "1.2.3");
        assert.deepEqual(findBundledWheel(extension), wheel);
    });

    test("the key changes with the extension's version and with the wheel's content", () => {
        const a = makeWheel(dir("a"), "1.0.0");
        const b = makeWheel(dir("b"), "1.0.0", { says: "other" });
        assert.notEqual(envKey("0.1.0", a), envKey("0.2.0", a));
        assert.notEqual(envKey("0.1.0", a), envKey("0.1.0", b));
        assert.match(envKey("0.1.0", a), /^0\.1\.0-[0-9a-f]{12}$/);
    });
});

describe("finding Python >= 3.11", () => {
    test("no Python at all: says so and what it looked for", async () => {
        const empty = dir("empty");
        const error = await installFailure(findPython([{ command: "python3", source: "on PATH" }, { command: "python", source: "on PATH" }], { PATH: empty }));
        assert.equal(error.problem, "no-python");
        assert.match(error.message, /needs Python 3\.11 or newer, and no Python was found \(looked for python3, python\)/);
        assert.match(error.message, /Groundhog: Install Server/);
    });

    test("only old Pythons: names the newest version found and where", async () => {
        const old = dir("old");
        const python3 = script(old, "python3", 'echo "Python 3.8.10"');
        script(old, "python", 'echo "Python 2.7.18" >&2');
        const error = await installFailure(findPython([{ command: "python3", source: "on PATH" }, { command: "python", source: "on PATH" }], { PATH: old }));
        assert.equal(error.problem, "python-too-old");
        assert.match(error.message, new RegExp(`newest Python found is 3\\.8\\.10 \\(${python3.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}, on PATH\\)`));
    });

    test("a Python without ensurepip (Debian without python3-venv): says to install python3-venv", async () => {
        const shadow = dir("shadow");
        // A module that shadows the real ensurepip and fails to import, as on Debian without python3-venv.
        writeFileSync(join(shadow, "ensurepip.py"), "raise ImportError('No module named ensurepip')\n");
        const bin = dir("no-venv-bin");
        script(bin, "python3", `PYTHONPATH=${shadow} exec ${realPython} "$@"`);
        const error = await installFailure(findPython([{ command: "python3", source: "on PATH" }], { ...process.env, PATH: bin }));
        assert.equal(error.problem, "no-venv");
        assert.match(error.message, /'venv' or 'ensurepip' module is missing.*sudo apt install python3-venv/);
    });

    test("the first usable candidate wins: the Python extension's interpreter before an old python3 on PATH", async () => {
        const old = dir("old-first");
        script(old, "python3", 'echo "Python 3.9.2"');
        const found = await findPython(
            [
                { command: realPython, source: "the Python extension's interpreter" },
                { command: "python3", source: "on PATH" },
            ],
            { ...process.env, PATH: old },
        );
        assert.equal(found.command, realPython);
        assert.equal(found.source, "the Python extension's interpreter");
        assert.match(found.version, /^3\.(1[1-9]|[2-9]\d)\./);
    });

    test("an old python3 is skipped for a newer python later in the list", async () => {
        const mixed = dir("mixed");
        script(mixed, "python3", 'echo "Python 3.10.12"');
        const python = script(mixed, "python", `exec ${realPython} "$@"`);
        const found = await findPython([{ command: "python3", source: "on PATH" }, { command: "python", source: "on PATH" }], { ...process.env, PATH: mixed });
        assert.equal(found.command, python);
    });
});

describe("installing into the private environment (real venv, real pip)", () => {
    test("installs the wheel, checks its version, renames into place, replaces only when asked; old environments are removed", async () => {
        const wheel = makeWheel(dir("ok"), "0.1.0");
        const req = request(wheel);
        // Left behind by earlier versions, and by an install whose window died half-way.
        mkdirSync(join(req.storageDir, "servers", "0.0.9-aaaaaaaaaaaa", "bin"), { recursive: true });
        mkdirSync(join(req.storageDir, "servers", "0.1.0-test.tmp-999999999-x"), { recursive: true });
        // An install in progress in another live window (this process stands in for it).
        const inProgress = `0.1.0-test.tmp-${process.pid}-y`;
        mkdirSync(join(req.storageDir, "servers", inProgress), { recursive: true });

        const python = await installPrivateServer(req);
        assert.equal(python, envPython(envDir(req.storageDir, req.key)));
        assert.equal(installedServer(req.storageDir, req.key), python);
        assert.equal(execFileSync(python, ["-m", "groundhog", "--version"]).toString().trim(), "groundhog 0.1.0");
        assert.equal(req.stepsSeen.length, 4, JSON.stringify(req.stepsSeen));
        assert.match(req.output.join(""), /Successfully installed groundhog-0\.1\.0/);

        // A second install (another window that finished later) keeps the environment in place;
        // Install Server (replace) puts a new one there.
        const marker = join(envDir(req.storageDir, req.key), "marker");
        writeFileSync(marker, "");
        assert.equal(await installPrivateServer(req), python);
        assert.ok(existsSync(marker), "the environment in place was replaced");
        assert.equal(await installPrivateServer({ ...req, replace: true }), python);
        assert.ok(!existsSync(marker), "the environment was not replaced");
        assert.equal(execFileSync(python, ["-m", "groundhog", "--version"]).toString().trim(), "groundhog 0.1.0");

        assert.deepEqual(removeOtherEnvs(req.storageDir, req.key).sort(), ["0.0.9-aaaaaaaaaaaa", "0.1.0-test.tmp-999999999-x"]);
        assert.deepEqual(readdirSync(join(req.storageDir, "servers")).sort(), [req.key, inProgress].sort());
        // A new extension version does not use this environment: it installs its own.
        assert.equal(installedServer(req.storageDir, "0.2.0-bbbbbbbbbbbb"), undefined);
    });

    test("a server answering another version is refused and removed", async () => {
        const wheel = makeWheel(dir("wrong"), "0.1.0", { says: "0.0.1" });
        const req = request(wheel);
        const error = await installFailure(installPrivateServer(req));
        assert.equal(error.problem, "wrong-version");
        assert.match(error.message, /answered 'groundhog 0\.0\.1' to --version instead of 'groundhog 0\.1\.0'/);
        assertNothingLeft(req.storageDir);
        assert.equal(installedServer(req.storageDir, req.key), undefined);
    });

    test("pip cannot fetch a dependency (no network): says so, pip's output is in the log, nothing is left", async () => {
        const wheel = makeWheel(dir("deps"), "0.1.0", { requires: "groundhog-test-dependency>=1" });
        const env: NodeJS.ProcessEnv = {
            ...process.env,
            // An index nobody listens on, no local wheels, no cache, no pip.conf: as with no network.
            PIP_INDEX_URL: "http://127.0.0.1:9/simple",
            PIP_EXTRA_INDEX_URL: "",
            PIP_FIND_LINKS: "",
            PIP_NO_CACHE_DIR: "1",
            PIP_RETRIES: "0",
            PIP_TIMEOUT: "2",
            PIP_CONFIG_FILE: "/dev/null",
        };
        const req = request(wheel, { env });
        const error = await installFailure(installPrivateServer(req));
        assert.equal(error.problem, "network");
        assert.match(error.message, /pip could not download the server's dependencies from PyPI \(groundhog-test-dependency>=1\).*proxy/);
        assert.match(req.output.join(""), /No matching distribution found for groundhog-test-dependency/);
        assertNothingLeft(req.storageDir);
    });

    test("no suitable Python: nothing is created at all", async () => {
        const wheel = makeWheel(dir("nopy"), "0.1.0");
        const old = dir("old-only");
        script(old, "python3", 'echo "Python 3.8.10"');
        const req = request(wheel, { candidates: [{ command: "python3", source: "on PATH" }], env: { PATH: old } });
        const error = await installFailure(installPrivateServer(req));
        assert.equal(error.problem, "python-too-old");
        assertNothingLeft(req.storageDir);
    });

    test("the version check refuses an environment where the server does not start, quoting what it said", async () => {
        const broken = script(dir("broken"), "python", 'echo "ModuleNotFoundError: No module named \'pygls\'" >&2; exit 1');
        const error = await installFailure(checkVersion(broken, "0.1.0", process.env));
        assert.equal(error.problem, "wrong-version");
        assert.match(error.message, /answered 'ModuleNotFoundError: No module named 'pygls'' to --version/);
    });
});

describe("messages for what pip and venv said", () => {
    const storage = "/home/me/.vscode/globalStorage/groundhog.groundhog";

    test("a full disk", () => {
        const error = classifyFailure("pip", "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device", storage);
        assert.equal(error.problem, "disk-full");
        assert.match(error.message, /The disk is full.*\/home\/me\/\.vscode\/globalStorage\/groundhog\.groundhog.*Free some space/);
    });

    test("a proxy or DNS failure is a network problem", () => {
        for (const output of [
            "WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError(...: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')'",
            "ERROR: Could not install packages due to an OSError: ProxyError('Cannot connect to proxy.')",
        ]) {
            assert.equal(classifyFailure("pip", output, storage).problem, "network", output);
        }
    });

    test("venv without ensurepip", () => {
        const output = "The virtual environment was not created successfully because ensurepip is not\navailable.  On Debian/Ubuntu systems, you need to install the python3-venv package";
        assert.equal(classifyFailure("venv", output, storage).problem, "no-venv");
    });

    test("anything else quotes the last line and points to the logs", () => {
        const error = classifyFailure("pip", "Collecting x\nERROR: something odd happened", storage);
        assert.equal(error.problem, "failed");
        assert.match(error.message, /pip install failed: ERROR: something odd happened\. See the logs/);
    });
});
