// The command lines of the offline tools, read by Node's util.parseArgs: each tool
// lists its flags, and every mistake is a UsageError in the same words
// ("unknown argument --x", "--out needs a value"), which the tool prints with its
// usage and exits 2 on (docs/offline-plan.md, "Exit codes").
import { parseArgs, type ParseArgsConfig } from "util";

/** A bad flag: the tool could not run. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** The values of `options` as read: a string (all of them, for a flag given `multiple`), or true for a boolean flag given. */
export type Flags<O extends Options> = {
    [K in keyof O]?: O[K] extends { type: "string" } ? (O[K] extends { multiple: true } ? string[] : string) : boolean;
};

/**
 * The flags of `argv`. A flag `options` does not list, an argument that is no flag, a flag
 * that takes a value given none (nothing follows it, or another flag does) and a boolean
 * flag given a value are UsageErrors. A flag given twice keeps its last value, unless it is
 * `multiple`; a value may be given as `--out DIR` or `--out=DIR`.
 */
export function readFlags<const O extends Options>(argv: readonly string[], options: O): Flags<O> {
    // Not strict: util.parseArgs would take `--out --quiet` as --out "--quiet" and word its errors
    // its own way; its tokens say what was given, and the checks below refuse what is wrong.
    const { values, tokens } = parseArgs({
        args: [...argv],
        options,
        strict: false,
        allowPositionals: true,
        tokens: true,
    });
    for (const token of tokens) {
        if (token.kind === "positional") throw new UsageError(`unknown argument ${token.value}`);
        if (token.kind !== "option") continue;
        const type = options[token.name]?.type;
        if (type === undefined) throw new UsageError(`unknown argument ${token.rawName}`);
        if (type === "string" && (token.value === undefined || (!token.inlineValue && token.value.startsWith("--"))))
            throw new UsageError(`${token.rawName} needs a value`);
        if (type === "boolean" && token.inlineValue) throw new UsageError(`${token.rawName} takes no value`);
    }
    return values as Flags<O>;
}
