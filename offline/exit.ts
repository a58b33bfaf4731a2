// The offline plan's exit codes (its --help and docs/offline-plan.md list them).
import { ConfigError } from "../stacks/config";
import { EngineRuleError } from "./evaluate";
import { SecretLeakError } from "./lab";
import { OutDirError } from "./outdir";

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
