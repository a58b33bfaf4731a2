// The offline plan's exit codes (its --help and docs/offline-plan.md list them), and the
// errors that decide them. It loads no Pulumi SDK, so a tool can answer a bad flag or a
// bad stack file before it loads the program.
import { ConfigError } from "../../stacks/config/messages";
import { EngineRuleError } from "../engine/rules";
import { OutDirError } from "./outdir";

/** Raised when a value that was secret would be written to the plan in plain text. */
export class SecretLeakError extends Error {}

export const EXIT = { ok: 0, inputWrong: 1, cannotRun: 2 } as const;

/**
 * 1 when the input is wrong (a stack file, --out, --config-dir), a check refused the plan, or
 * the Pulumi engine would refuse the program (an EngineRuleError); 2 when it could not run.
 */
export function planExitCode(err: unknown): 1 | 2 {
    return err instanceof ConfigError ||
        err instanceof OutDirError ||
        err instanceof SecretLeakError ||
        err instanceof EngineRuleError
        ? EXIT.inputWrong
        : EXIT.cannotRun;
}
