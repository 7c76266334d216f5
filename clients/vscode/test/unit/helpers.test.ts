/** Pure helpers of the extension, in plain Node (no VS Code, no server). */

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";
import { contextNameProblem, GroundhogError, renderContextJson, toGroundhogError } from "../../src/common/api";
import { Commands, ErrorCodes, Requests, serverCommand, ServerNotifications } from "../../src/common/constants";
import { throttle } from "../../src/common/throttle";

describe("names", () => {
    test("palette command ids never collide with the server's groundhog.<verb> commands", () => {
        const server = new Set((Object.keys(Requests) as (keyof typeof Requests)[]).map(serverCommand));
        for (const id of Object.values(Commands)) {
            assert.ok(!server.has(id), id);
        }
    });

    test("protocol names follow the conventions", () => {
        for (const method of Object.values(Requests)) {
            assert.match(method, /^context\/[a-z][A-Za-z]*$/);
        }
        for (const method of Object.values(ServerNotifications)) {
            assert.match(method, /^context\/did[A-Z][A-Za-z]*$/);
        }
    });

    test("context names", () => {
        for (const good of ["default", "feature/login", "a.b_c-d", "x".repeat(128), "v1.2"]) {
            assert.equal(contextNameProblem(good), undefined, good);
        }
        for (const bad of ["", "x".repeat(129), ".hidden", "/abs", "a//b", "a/./b", "a/../b", "trailing/", "sp ace", "ü"]) {
            assert.notEqual(contextNameProblem(bad), undefined, bad);
        }
    });
});

describe("errors", () => {
    test("a JSON-RPC error keeps its code, kind and details", () => {
        const error = toGroundhogError(
            { code: -32001, message: "Version 3 of 'default' is stale.", data: { kind: "VersionConflict", conflictingKeys: ["a"] } },
            "context/update",
        );
        assert.ok(error instanceof GroundhogError);
        assert.equal(error.kind, "VersionConflict");
        assert.ok(error.is("VersionConflict"));
        assert.deepEqual(error.data?.conflictingKeys, ["a"]);
        assert.equal(error.method, "context/update");
    });

    test("the kind falls back to the code, then to a connection error", () => {
        assert.equal(toGroundhogError({ code: ErrorCodes.TooLarge, message: "too big" }, "m").kind, "TooLarge");
        assert.equal(toGroundhogError(new Error("Connection got disposed."), "m").kind, "ConnectionError");
    });
});

describe("rendering", () => {
    test("top-level keys are sorted, nested values kept as stored", () => {
        const text = renderContextJson({ b: { z: 1, a: 2 }, a: [3, 1], "/p": null });
        assert.equal(text, `${JSON.stringify({ "/p": null, a: [3, 1], b: { z: 1, a: 2 } }, null, 2)}\n`);
    });

    test("an empty state begins and ends like any other, so a diff from it is only lines added", () => {
        const empty = renderContextJson({});
        assert.equal(empty, "{\n}\n");
        assert.deepEqual(JSON.parse(empty), {});
        const lines = (text: string) => text.split("\n");
        const full = lines(renderContextJson({ a: "x".repeat(10), b: 1 }));
        const [first, ...rest] = lines(empty);
        assert.equal(full[0], first);
        assert.deepEqual(full.slice(-2), rest);
    });
});

describe("throttle (fake timers: no real waiting, no dependence on the machine's speed)", () => {
    beforeEach(() => { mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 }); });
    afterEach(() => { mock.timers.reset(); });

    test("the first call runs at once and a burst folds into one trailing call with the last value", () => {
        const seen: number[] = [];
        const t = throttle((v: number) => seen.push(v), 50);
        t(1);
        t(2);
        t(3);
        assert.deepEqual(seen, [1]);
        mock.timers.tick(49);
        assert.deepEqual(seen, [1]);
        mock.timers.tick(1);
        assert.deepEqual(seen, [1, 3]);
        mock.timers.tick(50);
        t(4);
        assert.deepEqual(seen, [1, 3, 4]);
    });

    test("flush runs the pending call now; cancel drops it", () => {
        const seen: string[] = [];
        const t = throttle((v: string) => seen.push(v), 1000);
        t("a");
        t("b");
        t.flush();
        assert.deepEqual(seen, ["a", "b"]);
        t("c");
        t.cancel();
        mock.timers.tick(2000);
        assert.deepEqual(seen, ["a", "b"]);
    });
});
