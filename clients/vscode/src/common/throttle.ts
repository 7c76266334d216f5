/**
 * A leading-and-trailing throttle: the first call runs at once, later calls within `waitMs` are
 * folded into one trailing run with the latest value. No `vscode` import (unit-tested in Node).
 */

export interface Throttled<T> {
    (value: T): void;
    /** Runs a pending trailing call now, if there is one. */
    flush(): void;
    /** Drops a pending trailing call. */
    cancel(): void;
}

export function throttle<T>(run: (value: T) => void, waitMs: number): Throttled<T> {
    let last = -Infinity;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let pending: { value: T } | undefined;

    const fire = (): void => {
        timer = undefined;
        if (pending !== undefined) {
            const { value } = pending;
            pending = undefined;
            last = Date.now();
            run(value);
        }
    };

    const throttled = ((value: T): void => {
        pending = { value };
        const elapsed = Date.now() - last;
        if (elapsed >= waitMs && timer === undefined) {
            fire();
        } else {
            timer ??= setTimeout(fire, Math.max(0, waitMs - elapsed));
        }
    }) as Throttled<T>;

    throttled.flush = (): void => {
        if (timer !== undefined) {
            clearTimeout(timer);
        }
        fire();
    };
    throttled.cancel = (): void => {
        if (timer !== undefined) {
            clearTimeout(timer);
        }
        timer = undefined;
        pending = undefined;
    };
    return throttled;
}
