// How a config key is declared: its zod type with the message a wrong value gets,
// and what the generated tables (offline/docs/config-docs.ts) say of it. schema.ts
// declares every key with these.
import { z } from "zod";
import { Check } from "./values";

/** What the generated tables say of a key beyond its description: its type, and a default that is derived rather than fixed. */
interface KeyDoc {
    readonly type: string;
    readonly derivedDefault?: string;
}
const KEY_DOCS = z.registry<KeyDoc>();

/** A documented key: its description (`.describe()`), type and derived default go into the generated tables. */
export function key<T extends z.ZodType>(schema: T, type: string, description: string, derivedDefault?: string): T {
    const described = schema.describe(description);
    KEY_DOCS.add(described, { type, derivedDefault });
    return described;
}

/** The type, derived default and description the tables show for a key of SECTIONS (schema.ts; every key is declared with key()). */
export function keyDocOf(schema: z.ZodType): KeyDoc & { readonly description: string } {
    const doc = KEY_DOCS.get(schema);
    if (!doc || !schema.description)
        throw new Error("a config key declared without key(): give it a type and a description");
    return { ...doc, description: schema.description };
}

export const NON_EMPTY = "expected a non-empty string";

export function text(check?: Check) {
    return z
        .string({ error: NON_EMPTY })
        .min(1, { error: NON_EMPTY, abort: true })
        .superRefine((s, ctx) => {
            const complaint = check?.(s);
            if (complaint) ctx.addIssue({ code: "custom", message: complaint });
        });
}

export function integer(min: number, max: number) {
    const expected = `expected an integer from ${min} to ${max}`;
    return z
        .number({ error: expected })
        .refine((n) => Number.isInteger(n) && n >= min && n <= max, { error: expected });
}

export const bool = () => z.boolean({ error: "expected true or false" });

/** A list of strings, each checked; a wrong list is one problem at the list's key, a wrong entry one at `key[i]`. */
export function list(check: Check, allowEmpty: boolean) {
    const expected = allowEmpty ? "expected a list of strings" : "expected a non-empty list of strings";
    return z
        .array(z.unknown(), { error: expected })
        .superRefine((items, ctx) => {
            if ((!allowEmpty && items.length === 0) || items.some((v) => typeof v !== "string")) {
                ctx.addIssue({ code: "custom", message: expected });
                return;
            }
            items.forEach((v, i) => {
                const complaint = check(v as string);
                if (complaint) ctx.addIssue({ code: "custom", message: complaint, path: [i] });
            });
        })
        .transform((items) => items as string[]);
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T, expected: string) {
    return z.enum(values, { error: expected });
}

/** A section: one top-level config key holding an object; unknown keys inside it are refused with the nearest valid one. */
export function section<S extends z.ZodRawShape>(shape: S) {
    return z.strictObject(shape, { error: "expected an object" });
}
