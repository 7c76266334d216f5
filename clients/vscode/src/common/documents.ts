/**
 * Read-only virtual documents `groundhog:/<context>/v<version>.json` holding one version of a
 * context rendered as JSON, and the diff editor over two of them.
 */

import * as vscode from "vscode";
import { GroundhogError, type GroundhogApi, renderContextJson } from "./api";
import { DOCUMENT_SCHEME } from "./constants";

export interface VersionRef {
    context: string;
    version: number;
}

export function versionUri(ref: VersionRef): vscode.Uri {
    return vscode.Uri.from({ scheme: DOCUMENT_SCHEME, path: `/${ref.context}/v${ref.version}.json` });
}

export function parseVersionUri(uri: vscode.Uri): VersionRef | undefined {
    const match = /^\/(.+)\/v(\d+)\.json$/.exec(uri.path);
    if (uri.scheme !== DOCUMENT_SCHEME || match === null) {
        return undefined;
    }
    return { context: match[1] ?? "", version: Number(match[2]) };
}

/**
 * The content of `groundhog:` documents. A version of a state near the 64 MiB limit renders to
 * more than 50 MB: VS Code shows it (with tokenization and folding off, as for any file above
 * 20 MB) but gives such a document to no extension (`openTextDocument` fails with "Files above
 * 50MB cannot be synchronized with extensions"); nothing here reads the documents back.
 */
export class VersionDocumentProvider implements vscode.TextDocumentContentProvider {
    constructor(private readonly api: GroundhogApi) {}

    async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
        const ref = parseVersionUri(uri);
        if (ref === undefined) {
            return `Not a Groundhog version: ${uri.toString()}\n`;
        }
        try {
            const result = await this.api.get({ context: ref.context, version: ref.version });
            return renderContextJson(result.data);
        } catch (error) {
            const reason = error instanceof GroundhogError ? error.message : String(error);
            return `${JSON.stringify({ unavailable: `${ref.context} v${ref.version}`, reason }, null, 2)}\n`;
        }
    }
}

/** Opens VS Code's diff editor on two versions of a context. */
export async function showVersionDiff(
    from: VersionRef,
    to: VersionRef,
    options: vscode.TextDocumentShowOptions = {},
): Promise<void> {
    const title =
        from.context === to.context
            ? `${from.context}: v${from.version} ↔ v${to.version}`
            : `${from.context} v${from.version} ↔ ${to.context} v${to.version}`;
    await vscode.commands.executeCommand("vscode.diff", versionUri(from), versionUri(to), title, options);
}
