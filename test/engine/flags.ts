// The engine tier's tools (lab-tool.ts, roster-tool.ts) read their flags the same way:
// every flag a string that may repeat, an unknown one refused.
import { parseArgs } from "util";

export type Flags = Record<string, string[] | undefined>;

/** The flags of `argv` among `names`, each a list of its values. */
export function readFlags(argv: string[], names: readonly string[]): Flags {
    const { values } = parseArgs({
        args: argv,
        options: Object.fromEntries(names.map((n) => [n, { type: "string", multiple: true }])),
        strict: true,
    });
    return values as Flags;
}

/** The one value of a required flag. */
export function one(flags: Flags, name: string): string {
    const v = flags[name]?.[0];
    if (v === undefined) throw new Error(`--${name} is required`);
    return v;
}
