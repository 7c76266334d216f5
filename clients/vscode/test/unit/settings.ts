/** The extension's settings at their defaults, for unit tests of the modules that read them. */

import type { GroundhogSettings } from "../../src/common/settingValues";

export function testSettings(overrides: Partial<GroundhogSettings> = {}): GroundhogSettings {
    return {
        serverCommand: [],
        serverEnv: {},
        autoInstall: "ask",
        restoreEditors: "ask",
        editorTracking: true,
        editorThrottleMs: 500,
        storeDir: "",
        readOnly: false,
        mcpEnabled: true,
        historyLimit: 1000,
        snapshotMaxBytes: 1_048_576,
        ...overrides,
    };
}
