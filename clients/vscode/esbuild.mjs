// Bundles the extension (dist/extension.js) and, with --tests, the test files (out/test/**).
// Usage: node esbuild.mjs [--tests] [--watch] [--dev]
import * as esbuild from "esbuild";
import { cpSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";

const args = new Set(process.argv.slice(2));
const dev = args.has("--dev") || args.has("--watch");

/** @type {import("esbuild").BuildOptions} */
const common = {
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    external: ["vscode"],
    logLevel: "warning",
};

function testEntries(dir) {
    const entries = [];
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
        if (entry.isFile() && entry.name.endsWith(".ts")) {
            entries.push(join(entry.parentPath ?? entry.path, entry.name));
        }
    }
    return entries;
}

const builds = [
    {
        ...common,
        entryPoints: ["src/extension.ts"],
        outfile: "dist/extension.js",
        minify: !dev,
        sourcemap: dev,
    },
];

if (args.has("--tests")) {
    builds.push({
        ...common,
        // Test helpers are bundled into each test; the driver extension is its own bundle.
        entryPoints: [...testEntries("test/unit"), ...testEntries("test/protocol"), ...testEntries("test/e2e")].filter(
            (file) => file.endsWith(".test.ts") || file.endsWith("driver/extension.ts"),
        ),
        outbase: "test",
        outdir: "out/test",
        sourcemap: "inline",
        // The e2e runner must not bundle ws' optional native helpers.
        external: ["vscode", "bufferutil", "utf-8-validate"],
    });
}

if (args.has("--watch")) {
    for (const options of builds) {
        const context = await esbuild.context(options);
        await context.watch();
    }
} else {
    await Promise.all(builds.map((options) => esbuild.build(options)));
    if (args.has("--tests")) {
        mkdirSync("out/test/e2e/driver", { recursive: true });
        for (const file of ["package.json", "README.md"]) {
            cpSync(`test/e2e/driver/${file}`, `out/test/e2e/driver/${file}`);
        }
    }
}
