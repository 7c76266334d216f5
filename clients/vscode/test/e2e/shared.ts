/**
 * What the end-to-end runner (plain Node) and the driver extension (inside VS Code) agree on:
 * the control files in `$GROUNDHOG_E2E_DIR`, the workspace fixture and the expected cursors.
 *
 * Control files: `phase` (the phase the next driver activation runs), `result-<phase>.json`
 * (written by the driver when a phase ends), `checkpoint-<name>.request` / `.done` (the driver
 * asks the runner to look at the page, e.g. the status bar, and waits for the answer).
 */

export const CONTROL_ENV = "GROUNDHOG_E2E_DIR";

export type Phase = "first-session" | "resume" | "after-reload" | "ask" | "mcp" | "no-python" | "install";

/**
 * Control file `mcp-server.json`: whether the server under test has the `mcp` command, so the
 * driver knows whether VS Code can start what the extension offers or can only list it.
 */
export const MCP_SERVER_FILE = "mcp-server.json";
export interface McpServerCheck {
    available: boolean;
    /** Why not, when it is not. */
    reason?: string;
}

/** The id VS Code gives the one server of the extension's MCP server definition provider. */
export const MCP_SERVER_ID = "groundhog.groundhog/Groundhog";

export interface StepRecord {
    name: string;
    ok: boolean;
    ms: number;
    detail?: unknown;
}

export interface PhaseResult {
    phase: Phase;
    ok: boolean;
    steps: StepRecord[];
    error?: string;
}

export interface CheckpointRequest {
    /** Text the status bar item of the extension must show. */
    statusIncludes?: string;
    /** Text a visible notification must contain. */
    notificationIncludes?: string;
    /** Texts that rows of the side bar (e.g. the Groundhog tree view) must show. */
    sidebarIncludes?: string[];
    /** Text the open quick input (input box or quick pick) must show. */
    quickInputIncludes?: string;
    /** Text the open modal dialog must show. */
    dialogIncludes?: string;
    /** Texts that lines of the diff editor's modified side must start with (indentation ignored). */
    diffIncludes?: string[];
    /** How many lines the diff editor's modified side must show as inserted (so the diff is done). */
    diffInserted?: number;
    /** Once the page matches: type this into the focused input and press Enter, as a user would. */
    type?: string;
    /** Once the page matches: click the button with this label in a notification or dialog. */
    click?: string;
}

export interface CheckpointAnswer {
    ok: boolean;
    statusTexts: string[];
    notifications: string[];
    sidebar: string[];
    quickInput: string;
    dialog: string;
    /** The visible lines of the diff editor's modified side (their first 200 characters), top to bottom. */
    diff: string[];
    /** How many of them are shown as inserted. */
    diffInserted: number;
    screenshot?: string;
    error?: string;
}

export interface SimpleRange {
    start: [number, number];
    end: [number, number];
}

export interface FixtureFile {
    name: string;
    text: string;
    selections: SimpleRange[];
}

export const FIXTURE: FixtureFile[] = [
    { name: "a.txt", text: "alpha\nbravo\ncharlie\n", selections: [{ start: [1, 2], end: [1, 2] }] },
    {
        name: "notes.md",
        text: "# Notes\n\n- one\n- two\n",
        selections: [
            { start: [0, 2], end: [0, 7] },
            { start: [2, 2], end: [2, 5] },
        ],
    },
    // Opened last: the active document.
    { name: "b.py", text: "import os\n\nprint(os.name)\nprint('done')\n", selections: [{ start: [2, 6], end: [2, 13] }] },
];
export const ACTIVE_FILE = "b.py";
export const SNAPSHOT_LABEL = "e2e before edits";
export const OTHER_CONTEXT = "e2e/other";
