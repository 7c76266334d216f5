/** The settings as VS Code answers them -> the extension's values and the server's initialization options, in plain Node. */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { MCP_SETTINGS, RESTART_SETTINGS, SERVER_ID, Settings } from "../../src/common/constants";
import { HISTORY_LIMIT, initializationOptions, settingsFrom, SNAPSHOT_MAX_BYTES } from "../../src/common/settingValues";
import { testSettings } from "./settings";

/** `get` of a configuration where only `values` are set (VS Code answers undefined for the others when they have no default). */
function read(values: Record<string, unknown>) {
    return settingsFrom((key) => values[key], (paths) => paths.map((p) => p.replace("${userHome}", "/home/me")));
}

interface ContributedSetting {
    type: string;
    default: unknown;
    minimum?: number;
    maximum?: number;
    scope?: string;
}

/** The settings package.json contributes, by key relative to `groundhog.` (the test runs from out/test/unit/). */
function contributed(): Record<string, ContributedSetting> {
    const pkg = JSON.parse(readFileSync(resolve(__dirname, "../../../package.json"), "utf8")) as {
        contributes: { configuration: { properties: Record<string, ContributedSetting> } };
    };
    return Object.fromEntries(Object.entries(pkg.contributes.configuration.properties).map(([key, value]) => [key.slice(SERVER_ID.length + 1), value]));
}

describe("reading the settings", () => {
    test("nothing set: every default, and the server gets no historyLimit or snapshotMaxBytes", () => {
        const settings = read({});
        assert.deepEqual(settings, testSettings());
        assert.deepEqual(initializationOptions(settings), { readOnly: false, editorTracking: true });
    });

    test("historyLimit and snapshotMaxBytes set: both reach the initialization options", () => {
        const settings = read({ [Settings.historyLimit]: 20, [Settings.snapshotMaxBytes]: 67_108_864 });
        assert.equal(settings.historyLimit, 20);
        assert.equal(settings.snapshotMaxBytes, 67_108_864);
        assert.deepEqual(initializationOptions(settings), { readOnly: false, editorTracking: true, historyLimit: 20, snapshotMaxBytes: 67_108_864 });
    });

    test("each limit is sent on its own, and only when it is not the default", () => {
        assert.deepEqual(initializationOptions(read({ [Settings.historyLimit]: 1 })), { readOnly: false, editorTracking: true, historyLimit: 1 });
        assert.deepEqual(initializationOptions(read({ [Settings.snapshotMaxBytes]: 1024 })), { readOnly: false, editorTracking: true, snapshotMaxBytes: 1024 });
        const atDefaults = read({ [Settings.historyLimit]: 1000, [Settings.snapshotMaxBytes]: 1_048_576 });
        assert.deepEqual(initializationOptions(atDefaults), { readOnly: false, editorTracking: true });
    });

    test("the bounds themselves are valid", () => {
        for (const [key, setting] of [
            [Settings.historyLimit, HISTORY_LIMIT],
            [Settings.snapshotMaxBytes, SNAPSHOT_MAX_BYTES],
        ] as const) {
            const field = key === Settings.historyLimit ? "historyLimit" : "snapshotMaxBytes";
            assert.equal(read({ [key]: setting.minimum })[field], setting.minimum, key);
            assert.equal(read({ [key]: setting.maximum })[field], setting.maximum, key);
        }
    });

    test("an invalid limit (wrong type, fraction, out of range) is the default, so the server never refuses it", () => {
        for (const bad of ["5000", 0, -1, 2.5, 1500.5, Number.NaN, Number.POSITIVE_INFINITY, null, true, [10], { n: 10 }]) {
            const settings = read({ [Settings.historyLimit]: bad, [Settings.snapshotMaxBytes]: bad });
            assert.equal(settings.historyLimit, 1000, `historyLimit ${JSON.stringify(bad)}`);
            assert.equal(settings.snapshotMaxBytes, 1_048_576, `snapshotMaxBytes ${JSON.stringify(bad)}`);
            assert.deepEqual(initializationOptions(settings), { readOnly: false, editorTracking: true }, JSON.stringify(bad));
        }
        assert.equal(read({ [Settings.historyLimit]: 1_000_001 }).historyLimit, 1000);
        // Valid for the server (2..1 GiB) but not for the setting: below 1 KiB, or above the 64 MiB message limit.
        for (const bad of [2, 1023, 67_108_865, 1_073_741_824]) {
            assert.equal(read({ [Settings.snapshotMaxBytes]: bad }).snapshotMaxBytes, 1_048_576, String(bad));
        }
    });

    test("the other settings keep their rules: invalid values are the defaults, paths are expanded", () => {
        const settings = read({
            [Settings.restoreEditors]: "sometimes",
            [Settings.autoInstall]: 3,
            [Settings.editorThrottleMs]: -5,
            [Settings.editorTracking]: false,
            [Settings.readOnly]: "yes",
            [Settings.storeDir]: " ${userHome}/stores ",
            [Settings.serverCommand]: "groundhog  serve",
            [Settings.serverEnv]: { A: "1", B: 2, C: { nested: true } },
        });
        assert.equal(settings.restoreEditors, "ask");
        assert.equal(settings.autoInstall, "ask");
        assert.equal(settings.editorThrottleMs, 500);
        assert.equal(settings.editorTracking, false);
        assert.equal(settings.readOnly, false);
        assert.equal(settings.storeDir, "/home/me/stores");
        assert.deepEqual(settings.serverCommand, ["groundhog", "serve"]);
        assert.deepEqual(settings.serverEnv, { A: "1", B: "2" });
        assert.deepEqual(initializationOptions(settings), { readOnly: false, editorTracking: false, storeDir: "/home/me/stores" });
    });
});

describe("the settings in package.json", () => {
    test("historyLimit and snapshotMaxBytes are contributed with the defaults and ranges the extension enforces", () => {
        const settings = contributed();
        for (const [key, setting] of [
            [Settings.historyLimit, HISTORY_LIMIT],
            [Settings.snapshotMaxBytes, SNAPSHOT_MAX_BYTES],
        ] as const) {
            const declared = settings[key];
            assert.ok(declared, `groundhog.${key} is not contributed`);
            assert.deepEqual(
                { type: declared.type, default: declared.default, minimum: declared.minimum, maximum: declared.maximum, scope: declared.scope },
                { type: "integer", default: setting.default, minimum: setting.minimum, maximum: setting.maximum, scope: "window" },
                key,
            );
        }
        assert.deepEqual(testSettings().historyLimit, HISTORY_LIMIT.default);
        assert.deepEqual(testSettings().snapshotMaxBytes, SNAPSHOT_MAX_BYTES.default);
    });

    test("every setting the extension reads is contributed; a change of a limit restarts the server and the MCP definition", () => {
        const settings = contributed();
        for (const key of Object.values(Settings)) {
            assert.ok(settings[key], `groundhog.${key} is read but not contributed`);
        }
        for (const key of [Settings.historyLimit, Settings.snapshotMaxBytes]) {
            assert.ok(RESTART_SETTINGS.includes(key), `${key} does not restart the server`);
            assert.ok(MCP_SETTINGS.includes(key), `${key} does not update the MCP server definition`);
        }
    });
});
