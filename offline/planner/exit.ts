// The offline plan's exit codes (its --help and docs/offline-plan.md list them), and the
// errors that decide them. It loads no Pulumi SDK, so a tool can answer a bad flag or a
// bad stack file before it loads the program.
import { ConfigError } from "../../stacks/config";
import { OutDirError } from "./outdir";

/**
 * ENGINE RULES: what the engine refuses and the mock runtime lets through
 * (offline/engine/evaluate.ts: RecordingMonitor.admit and registerResource):
 * - a custom resource bound to a provider of another package (that provider refuses it);
 * - two resources with one URN, URNs computed as the engine does;
 * - a parent, dependency, deletedWith or replaceWith that is not a resource of the stack;
 * - a provider reference that is not a provider of the stack;
 * - a custom timeout that is not a Go duration.
 * Each message says what the engine says, then what to change.
 */
export class EngineRuleError extends Error {}

/** Raised when a value that was secret would be written to the plan in plain text. */
export class SecretLeakError extends Error {}

export const EXIT = { ok: 0, inputWrong: 1, cannotRun: 2 } as const;

/** A bad flag: the plan could not run. */
export class UsageError extends Error {}

/**
 * 1 when the input is wrong (a stack file, --out, --config-dir), a check refused the plan, or
 * the Pulumi engine would refuse the program (an EngineRuleError); 2 when it could not run.
 */
export function planExitCode(err: unknown): 1 | 2 {
    return err instanceof ConfigError || err instanceof OutDirError || err instanceof SecretLeakError || err instanceof EngineRuleError ? EXIT.inputWrong : EXIT.cannotRun;
}
