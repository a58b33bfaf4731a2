// Runs the checks one after the other, each bounded by the per-check timeout,
// and turns the results into PASS/FAIL lines or a JSON report.
import { Check, CheckContext, CheckSkipped } from "./check";
import { withTimeout } from "./cluster";

export type Status = "pass" | "fail" | "skip";

export interface CheckResult {
    readonly id: string;
    readonly title: string;
    readonly status: Status;
    /** On PASS what was seen, on FAIL what is wrong. */
    readonly detail: string;
    readonly seconds: number;
}

export interface Progress {
    started(check: Check, index: number, total: number): void;
    finished(result: CheckResult): void;
}

export async function runChecks(
    checks: readonly Check[],
    ctx: CheckContext,
    skip: ReadonlySet<string>,
    progress: Progress,
): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    for (const [i, check] of checks.entries()) {
        let result: CheckResult;
        if (skip.has(check.id)) {
            result = {
                id: check.id,
                title: check.title,
                status: "skip",
                detail: "skipped (--skip/--only)",
                seconds: 0,
            };
        } else {
            progress.started(check, i, checks.length);
            const start = Date.now();
            const seconds = () => Math.round((Date.now() - start) / 100) / 10;
            try {
                const detail = await withTimeout(check.run(ctx), ctx.options.timeoutMs);
                result = { id: check.id, title: check.title, status: "pass", detail, seconds: seconds() };
            } catch (err) {
                // A check that does not apply here (e.g. cross-domain in the shared model) says why.
                const status = err instanceof CheckSkipped ? "skip" : "fail";
                const message = err instanceof Error ? err.message : String(err);
                result = {
                    id: check.id,
                    title: check.title,
                    status,
                    detail: status === "skip" ? `skipped: ${message}` : message,
                    seconds: seconds(),
                };
            }
        }
        results.push(result);
        progress.finished(result);
    }
    return results;
}

/** One line per check: `PASS  id  title: detail (1.2s)`. */
export function formatResult(r: CheckResult): string {
    const label = { pass: "PASS", fail: "FAIL", skip: "SKIP" }[r.status];
    return `${label}  ${r.id}  ${r.title}: ${r.detail}${r.status === "skip" ? "" : ` (${r.seconds}s)`}`;
}

export interface Report {
    readonly stack: string;
    readonly endpoint: string;
    readonly ok: boolean;
    /** Set when verify could not start the checks (stack unreadable, cluster unreachable). */
    readonly error?: string;
    readonly results: CheckResult[];
}

export function reportOf(stack: string, endpoint: string, results: CheckResult[]): Report {
    return { stack, endpoint, ok: results.every((r) => r.status !== "fail"), results };
}
