/**
 * Handlers of the server-to-client notifications: context changes and switches update the
 * session state, `didRestore` brings back editors, `didRecover` tells the user what was recovered.
 */

import * as vscode from "vscode";
import { Commands, SERVER_NAME, ServerNotifications } from "./constants";
import type { Logger } from "./logger";
import type { DidRecoverParams } from "./protocol";
import type { EditorRestorer } from "./restore";
import type { GroundhogServer } from "./server";
import type { Session } from "./session";

export function registerNotificationHandlers(server: GroundhogServer, session: Session, restorer: EditorRestorer, logger: Logger): vscode.Disposable[] {
    return [
        server.onNotification(ServerNotifications.didChange, (params) => {
            session.contextChanged(params);
        }),
        server.onNotification(ServerNotifications.didSwitch, (params) => {
            session.activeChanged(params.context, params.version);
        }),
        server.onNotification(ServerNotifications.didRestore, (params) => {
            session.activeChanged(params.context, params.version);
            restorer.handle(params);
        }),
        server.onNotification(ServerNotifications.didRecover, (params) => {
            logger.warn(`Recovered ${JSON.stringify(params)}`);
            void session.refresh();
            warnRecovered(params, logger);
        }),
    ];
}

function recoveredMessage(params: DidRecoverParams): string {
    const where = `${SERVER_NAME} found damage in context '${params.context}'`;
    if (params.toVersion === null) {
        return `${where} that could not be repaired (${params.reason}): it is gone. What could not be read is kept aside.`;
    }
    if (params.fromVersion === params.toVersion) {
        return `${where}: ${params.reason}. The damaged data is kept aside.`;
    }
    return (
        `${where} (${params.reason}) and recovered it: version ${params.fromVersion} ` +
        `was unreadable, so the data of version ${params.toVersion} was restored as a new version. The damaged data is kept aside.`
    );
}

function warnRecovered(params: DidRecoverParams, logger: Logger): void {
    const message = recoveredMessage(params);
    void vscode.window.showWarningMessage(message, "Show History", "Show Logs").then((choice) => {
        if (choice === "Show History") {
            void vscode.commands.executeCommand(Commands.showHistory, params.context);
        } else if (choice === "Show Logs") {
            logger.show();
        }
    });
}
