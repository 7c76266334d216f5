/**
 * Editor tracking and resume, and changes from another session: the paths behind the
 * extension's restore of editors and its status bar.
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientNotifications, ServerNotifications } from "../../src/common/constants";
import type { DidChangeParams, DidRestoreParams, EditorState } from "../../src/common/protocol";
import { eventually, Sandbox } from "./harness";

const range = (line: number, start: number, end = start) => ({ start: { line, character: start }, end: { line, character: end } });

describe("editor state", () => {
    let sandbox: Sandbox;
    before(() => {
        sandbox = new Sandbox();
    });
    after(async () => {
        await sandbox.dispose();
    });

    test("a new session gets didRestore with the documents, active document and cursors of the last one", async () => {
        const a = sandbox.file("a.txt", "one\ntwo\nthree\n");
        const b = sandbox.file("b.py", "import os\n\nprint(os.name)\n");
        const first = await sandbox.open({}, "first");
        assert.equal(first.received(ServerNotifications.didRestore).length, 0, "an empty store has nothing to restore");
        await first.didOpen(a, "one\ntwo\nthree\n");
        await first.didOpen(b, "import os\n\nprint(os.name)\n", "python");
        await first.connection.sendNotification(ClientNotifications.didChangeEditor, {
            activeUri: b,
            selections: [
                { uri: b, ranges: [range(2, 6, 8), range(0, 0)] },
                { uri: a, ranges: [range(1, 2)] },
            ],
        });
        const live = await eventually(
            () => first.api.editor(),
            (e: EditorState) => e.activeUri === b,
        );
        assert.deepEqual(live.openDocuments.map((d) => d.uri).sort(), [a, b].sort());
        assert.equal(live.openDocuments.find((d) => d.uri === b)?.languageId, "python");
        // Persisted within editorFlushMs (100 ms here), before any shutdown.
        const persisted = await eventually(
            () => first.api.get(),
            (g) => g.editor?.activeUri === b,
        );
        assert.deepEqual(persisted.editor?.selections.find((s) => s.uri === b)?.ranges, [range(2, 6, 8), range(0, 0)]);
        assert.equal(await first.close(), 0);

        const second = await sandbox.open({}, "second");
        const restore = await second.waitFor<DidRestoreParams>(ServerNotifications.didRestore);
        assert.equal(restore.context, "default");
        assert.equal(restore.editor.activeUri, b);
        assert.deepEqual(restore.editor.openDocuments.map((d) => d.uri).sort(), [a, b].sort());
        assert.deepEqual(restore.editor.selections.find((s) => s.uri === b)?.ranges, [range(2, 6, 8), range(0, 0)]);
        assert.deepEqual(restore.editor.selections.find((s) => s.uri === a)?.ranges, [range(1, 2)]);
        const status = await second.api.status();
        assert.equal(status.active?.version, restore.version);
        await second.close();
    });

    test("the last context switched to is active in the next session", async () => {
        const first = await sandbox.open();
        await first.api.switch({ name: "work", create: true });
        await first.close();
        const second = await sandbox.open();
        const restore = await second.waitFor<DidRestoreParams>(ServerNotifications.didRestore);
        assert.equal(restore.context, "work");
        assert.equal((await second.api.status()).active?.name, "work");
        await second.close();
    });

    test("a read-only session persists nothing and refuses writes", async () => {
        const session = await sandbox.open({ readOnly: true });
        assert.equal((await session.api.status()).session.readOnly, true);
        await assert.rejects(session.api.update({ set: { x: 1 } }), (e: { kind?: string }) => e.kind === "AccessDenied");
        const preview = await session.api.rollback({ toVersion: 1, dryRun: true });
        assert.equal(preview.recoveryPoint, null);
        await session.close();
    });
});

describe("two sessions on one workspace", () => {
    let sandbox: Sandbox;
    before(() => {
        sandbox = new Sandbox();
    });
    after(async () => {
        await sandbox.dispose();
    });

    test("a change in one session reaches the other as didChange with the other's session id", async () => {
        const one = await sandbox.open({}, "one");
        const two = await sandbox.open({}, "two");
        const twoId = (await two.api.status()).session.id;
        const oneId = (await one.api.status()).session.id;
        assert.notEqual(oneId, twoId);
        const since = one.notifications.length;
        const updated = await two.api.update({ set: { fromTwo: true } });
        const change = await one.waitFor<DidChangeParams>(ServerNotifications.didChange, (p) => p.version === updated.version, 10000, since);
        assert.equal(change.session, twoId);
        assert.deepEqual(change.changedKeys, ["fromTwo"]);
        assert.deepEqual((await one.api.get()).data, { fromTwo: true });
        const list = await one.api.list();
        assert.equal(list.contexts.find((c) => c.name === "default")?.sessions, 2);
    });
});
