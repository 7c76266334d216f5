/**
 * The protocol layer of the extension (constants, payload types, GroundhogApi) against the real
 * Python server: what the palette commands, the status bar and the tree view rely on.
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GroundhogError } from "../../src/common/api";
import { Requests, ServerNotifications, serverCommand } from "../../src/common/constants";
import type { DidChangeParams, DidSwitchParams, StatusResult } from "../../src/common/protocol";
import { Sandbox, type Session } from "./harness";

async function rejectsWith(promise: Promise<unknown>, kind: string, code: number): Promise<GroundhogError> {
    try {
        await promise;
    } catch (error) {
        assert.ok(error instanceof GroundhogError, `expected a GroundhogError, got ${String(error)}`);
        assert.equal(error.kind, kind, `kind of: ${error.message}`);
        assert.equal(error.code, code);
        assert.ok(error.message.length > 0);
        assert.doesNotMatch(error.message, /Traceback|\.py"/);
        return error;
    }
    assert.fail(`expected ${kind}`);
}

describe("a fresh workspace", () => {
    let sandbox: Sandbox;
    let session: Session;
    before(async () => {
        sandbox = new Sandbox();
        session = await sandbox.open();
    });
    after(async () => {
        await sandbox.dispose();
    });

    test("status shows the default context at version 1 in an encrypted store", async () => {
        const status = await session.api.status();
        assert.equal(status.active?.name, "default");
        assert.equal(status.active.version, 1);
        assert.equal(status.contexts, 1);
        assert.equal(status.store.encrypted, true);
        assert.equal(typeof status.session.id, "string");
        assert.equal(status.session.readOnly, false);
        assert.equal(status.workspace.uri, sandbox.workspaceUri);
    });

    test("the server lists every groundhog.<verb> command, and each answers like its request", async () => {
        const commands = session.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
        for (const name of Object.keys(Requests) as (keyof typeof Requests)[]) {
            assert.ok(commands.includes(serverCommand(name)), `missing ${serverCommand(name)} in ${JSON.stringify(commands)}`);
        }
        const viaCommand = await session.request<StatusResult>("workspace/executeCommand", {
            command: serverCommand("status"),
            arguments: [{}],
        });
        assert.deepEqual(viaCommand, await session.api.status());
    });

    test("a request without params gets a response", async () => {
        const list = await session.request<{ contexts: unknown[] }>(Requests.list);
        assert.equal(list.contexts.length, 1);
    });

    test("update and get round-trip keys that are not identifiers, and notify didChange", async () => {
        const me = (await session.api.status()).session.id;
        const since = session.notifications.length;
        const data = { "/src/a.py": { line: 3 }, class: "x", from: [1, 2], jsonrpc: "2.0", type_name: "t" };
        const updated = await session.api.update({ set: data });
        assert.equal(updated.version, 2);
        const got = await session.api.get();
        assert.deepEqual(got.data, data);
        assert.equal(got.version, 2);
        const change = await session.waitFor<DidChangeParams>(ServerNotifications.didChange, (p) => p.version === 2, 5000, since);
        assert.equal(change.context, "default");
        assert.equal(change.session, me);
        assert.deepEqual([...change.changedKeys].sort(), Object.keys(data).sort());
    });

    test("an update that changes nothing answers the head and creates no version", async () => {
        const head = (await session.api.get()).version;
        const result = await session.api.update({ set: { class: "x" } });
        assert.equal(result.version, head);
    });
});

describe("snapshots, history, diff and rollback", () => {
    let sandbox: Sandbox;
    let session: Session;
    before(async () => {
        sandbox = new Sandbox();
        session = await sandbox.open();
    });
    after(async () => {
        await sandbox.dispose();
    });

    test("a labelled snapshot is listed, newest first, and rollback to it restores its data", async () => {
        await session.api.update({ set: { task: "write tests", plan: ["a"] } }); // v2
        const snap = await session.api.snapshot({ label: "before refactor" });
        assert.equal(snap.version, 2);
        assert.equal(snap.label, "before refactor");
        assert.equal(snap.context, "default");
        assert.ok(snap.sizeBytes > 0);

        await session.api.update({ set: { task: "refactor" }, remove: ["plan"] }); // v3
        const { snapshots } = await session.api.snapshots();
        assert.equal(snapshots[0]?.id, snap.id);

        const dry = await session.api.rollback({ snapshotId: snap.id, dryRun: true });
        assert.equal(dry.version, 3);
        assert.equal(dry.recoveryPoint, null);
        assert.deepEqual([...dry.changedKeys].sort(), ["plan", "task"]);
        assert.equal((await session.api.get()).version, 3, "dryRun changes nothing");

        const rolled = await session.api.rollback({ snapshotId: snap.id });
        assert.equal(rolled.version, 4);
        assert.deepEqual(rolled.restoredFrom, { snapshotId: snap.id });
        assert.equal(typeof rolled.recoveryPoint, "string");
        const got = await session.api.get();
        assert.deepEqual(got.data, { task: "write tests", plan: ["a"] });

        const after = await session.api.snapshots();
        assert.ok(after.snapshots.some((s) => s.id === rolled.recoveryPoint), "the recovery point is a snapshot");
        assert.equal((await session.api.info({ name: "default" })).snapshots, after.snapshots.length);
    });

    test("history is newest first with kinds, and diff has one op per changed key", async () => {
        const { entries, oldestVersion } = await session.api.history();
        assert.deepEqual(
            entries.map((e) => [e.version, e.kind]),
            [
                [4, "restore"],
                [3, "update"],
                [2, "update"],
                [1, "create"],
            ],
        );
        assert.equal(oldestVersion, 1);
        const diff = await session.api.diff({ fromVersion: 2, toVersion: 3 });
        assert.equal(diff.fromVersion, 2);
        assert.equal(diff.toVersion, 3);
        assert.deepEqual(
            diff.patch.map((op) => [op.op, op.path]).sort(),
            [
                ["remove", "/plan"],
                ["replace", "/task"],
            ],
        );
        const toHead = await session.api.diff({ fromVersion: 1 });
        assert.equal(toHead.toVersion, 4);
    });

    test("rollback to a version and reading old versions", async () => {
        const rolled = await session.api.rollback({ toVersion: 3 });
        assert.equal(rolled.version, 5);
        assert.deepEqual(rolled.restoredFrom, { version: 3 });
        assert.deepEqual((await session.api.get({ version: 3 })).data, (await session.api.get()).data);
        const history = await session.api.history({ limit: 1 });
        assert.equal(history.entries[0]?.kind, "rollback");
        await rejectsWith(session.api.get({ version: 99 }), "SnapshotNotFound", -32003);
        await rejectsWith(session.api.rollback({ snapshotId: "no-such-snapshot" }), "SnapshotNotFound", -32003);
    });
});

describe("named contexts", () => {
    let sandbox: Sandbox;
    let session: Session;
    before(async () => {
        sandbox = new Sandbox();
        session = await sandbox.open();
    });
    after(async () => {
        await sandbox.dispose();
    });

    test("create, switch, list, info and delete", async () => {
        const created = await session.api.create({ name: "feature/login" });
        assert.deepEqual([created.name, created.version], ["feature/login", 1]);
        await rejectsWith(session.api.create({ name: "feature/login" }), "AlreadyExists", -32009);

        const since = session.notifications.length;
        const switched = await session.api.switch({ name: "feature/login" });
        assert.deepEqual([switched.name, switched.version, switched.data], ["feature/login", 1, {}]);
        const event = await session.waitFor<DidSwitchParams>(ServerNotifications.didSwitch, () => true, 5000, since);
        assert.deepEqual(event, { context: "feature/login", version: 1 });
        assert.equal((await session.api.status()).active?.name, "feature/login");

        const { contexts } = await session.api.list();
        const byName = new Map(contexts.map((c) => [c.name, c]));
        assert.equal(byName.get("feature/login")?.status, "active");
        assert.equal(byName.get("default")?.status, "inactive");
        assert.equal(byName.get("feature/login")?.sessions, 1);

        assert.equal((await session.api.info({ name: "nope" })).status, "nonexistent");
        await rejectsWith(session.api.delete({ name: "default" }), "InvalidState", -32004);
        await rejectsWith(session.api.delete({ name: "feature/login" }), "InvalidState", -32004);
        await session.api.switch({ name: "default" });
        assert.deepEqual(await session.api.delete({ name: "feature/login" }), { deleted: true });
        assert.equal((await session.api.info({ name: "feature/login" })).status, "nonexistent");
    });

    test("create from the active head copies its data and can activate it", async () => {
        await session.api.update({ set: { notes: "keep" } });
        const created = await session.api.create({ name: "copy", from: {}, activate: true });
        assert.equal(created.version, 1);
        const got = await session.api.get({ context: "copy" });
        assert.deepEqual(got.data, { notes: "keep" });
        assert.equal((await session.api.status()).active?.name, "copy");
    });

    test("invalid names and unknown fields are InvalidParams; missing contexts ContextNotFound", async () => {
        for (const name of [".hidden", "/abs", "a//b", "a/../b", "trailing/", "sp ace", ""]) {
            await rejectsWith(session.api.create({ name }), "InvalidParams", -32602);
        }
        await rejectsWith(session.api.request("status", { bogus: 1 } as never), "InvalidParams", -32602);
        await rejectsWith(session.api.get({ context: "missing" }), "ContextNotFound", -32002);
        await rejectsWith(session.api.switch({ name: "missing" }), "InvalidState", -32004);
    });

    test("a stale baseVersion merges disjoint keys and conflicts on shared ones", async () => {
        await session.api.switch({ name: "default" });
        const base = (await session.api.update({ set: { a: 1, b: 1 } })).version;
        await session.api.update({ set: { a: 2 } });
        const merged = await session.api.update({ baseVersion: base, set: { b: 2 } });
        assert.equal(merged.merged, true);
        const conflict = await rejectsWith(session.api.update({ baseVersion: base, set: { a: 3 } }), "VersionConflict", -32001);
        assert.deepEqual(conflict.data?.conflictingKeys, ["a"]);
        assert.equal(conflict.data.currentVersion, merged.version);
    });
});

describe("deleting a snapshot", () => {
    let sandbox: Sandbox;
    let session: Session;
    before(async () => {
        sandbox = new Sandbox();
        session = await sandbox.open();
    });
    after(async () => {
        await sandbox.dispose();
    });

    test("deleteSnapshot deletes one snapshot, keeps the others exact and refuses recovery points", async () => {
        await session.api.update({ set: { step: 1 } });
        const first = await session.api.snapshot({ label: "first" });
        await session.api.update({ set: { step: 2 } });
        const doomed = await session.api.snapshot({ label: "doomed" });
        await session.api.update({ set: { step: 3 } });
        const last = await session.api.snapshot({ label: "last" });
        assert.deepEqual(await session.api.deleteSnapshot({ snapshotId: doomed.id }), { deleted: true, id: doomed.id });
        const listed = (await session.api.snapshots()).snapshots.map((s) => s.id);
        assert.ok(!listed.includes(doomed.id) && listed.includes(first.id) && listed.includes(last.id));
        const restored = await session.api.rollback({ snapshotId: last.id, dryRun: true });
        assert.deepEqual(restored.changedKeys, [], "the head equals the last snapshot, which still reads back");
        const rolled = await session.api.rollback({ snapshotId: first.id });
        assert.equal(((await session.api.get()).data as { step?: number }).step, 1);
        assert.ok(rolled.recoveryPoint !== null);
        const refused = await rejectsWith(session.api.deleteSnapshot({ snapshotId: rolled.recoveryPoint }), "InvalidState", -32004);
        assert.match(refused.message, /recovery point/);
        await rejectsWith(session.api.deleteSnapshot({ snapshotId: doomed.id }), "SnapshotNotFound", -32003);
    });
});
