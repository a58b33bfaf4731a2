// How a problem of the configuration is told: the error that carries every
// problem, the file each key is set in, a key's full name, and the messages of a
// value the schema refused (naming the key, the value as written, what is
// expected, and for an unknown key the nearest valid one).
import { closest, distance } from "fastest-levenshtein";
import { z } from "zod";
import { NON_EMPTY } from "./keys";
import { CONFIG_DOC, fullKey, ownKey, PROJECT_FILE } from "./namespace";
import { LAB_WIDE_KEYS, RawConfig, Section, SectionName, SECTIONS } from "./schema";
import { redactUserinfo } from "./values";

/** Raised for bad configuration; the message lists every problem, one per line. */
export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

/** The stack file a stack's config lives in, as messages name it. */
export function stackFileOf(stack: string): string {
    return `Pulumi.${stack}.yaml`;
}

/** Prefixes each problem with the stack file it is about. */
export function inStackFile(stack: string, problems: string[]): string[] {
    return problems.map((p) => `${stackFileOf(stack)}: ${p}`);
}

/**
 * Where raw values came from, when the caller read the files itself (the offline plan; under
 * the engine the CLI reads them): so that a message names the file a key is in and a number
 * as it was written.
 */
export interface RawOrigin {
    /** Top-level keys set in Pulumi.yaml's config block and not in the stack file. */
    readonly projectKeys?: ReadonlySet<string>;
    /** Numbers as written in the YAML, by key path ("versions.istio": "1.30", which YAML reads as 1.3). */
    readonly written?: Readonly<Record<string, string>>;
}

/** The file a top-level key is set in: Pulumi.yaml for a lab-wide key or one only Pulumi.yaml sets, else the stack's file. */
export function fileOfKey(stack: string, top: string, origin: RawOrigin = {}): string {
    return (LAB_WIDE_KEYS as readonly string[]).includes(top) || origin.projectKeys?.has(top)
        ? PROJECT_FILE
        : stackFileOf(stack);
}

/** The problem of a lab-wide key set in a stack file: the lab would drift. */
export function labWideInStackFile(stack: string, top: string): string {
    return (
        `${stackFileOf(stack)}: ${fullKey(top)} is lab-wide, equal in every stack: set it once in ${PROJECT_FILE}'s config block ` +
        `(\`${fullKey(top)}:\` with its ${(SECTIONS[top as SectionName] as Section | undefined)?.list ? "list" : "object"} under \`value:\`) and remove it from ${stackFileOf(stack)}`
    );
}

/** The lab-wide keys a stack file sets (keys as written there, namespaced), each a problem naming the file. */
export function labWideKeyProblems(stack: string, stackFileKeys: readonly string[]): string[] {
    return stackFileKeys
        .map(ownKey)
        .filter((k): k is string => k !== undefined && (LAB_WIDE_KEYS as readonly string[]).includes(k))
        .map((k) => labWideInStackFile(stack, k));
}

/** The stack name a StackReference name ends in: "comp3" for "comp3" and for "org/zta-testbed/comp3". */
export function stackNameOf(reference: string): string {
    return reference.split("/").pop() as string;
}

/** `cluster.id`, `metallb.addresses[0]`, `roster[1].stack`: a config path as messages write it. */
function keyPath(path: readonly PropertyKey[]): string {
    return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i > 0 ? "." : ""}${String(p)}`)).join("");
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
    return path.reduce<unknown>(
        (v, p) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[p] : undefined),
        raw,
    );
}

export function shown(value: unknown): string {
    // A PEM is long: its start is enough to recognise it. Credentials in a URL are never printed.
    const text = typeof value === "string" ? redactUserinfo(value) : value;
    const v = typeof text === "string" && text.length > 60 ? `${text.slice(0, 40)}...` : text;
    return String(JSON.stringify(v));
}

/** The keys of an object key's schema (`workloads[].ingress`), through `.optional()` and `.default()`. */
function keysOf(schema: z.ZodType | undefined): Readonly<Record<string, z.ZodType>> | undefined {
    let s: unknown = schema;
    while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap();
    return s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodType>) : undefined;
}

/** The valid keys at a path of the schema: the top-level keys, a section's, a roster entry's, or an object key's in one. */
function validKeysAt(path: readonly PropertyKey[]): string[] {
    const [top, ...inner] = path.filter((p): p is string => typeof p === "string");
    if (top === undefined) return Object.keys(SECTIONS);
    let keys: Readonly<Record<string, z.ZodType>> = SECTIONS[top as SectionName]?.fields ?? {};
    for (const k of inner) keys = keysOf(keys[k]) ?? keys;
    return Object.keys(keys);
}

/** The nearest valid key by edit distance (Levenshtein), for "did you mean". */
export function nearestKey(typo: string, valid: readonly string[]): string {
    // Case-insensitive first: "allowreset" is "allowReset" mistyped, not a different word.
    const lower = valid.find((v) => v.toLowerCase() === typo.toLowerCase());
    return lower ?? closest(typo, [...valid]);
}

/** One unknown key, named with the nearest valid one and where the valid ones are listed. */
export function unknownKeyProblem(path: readonly PropertyKey[], typo: string): string {
    const valid = validKeysAt(path);
    const where = keyPath(path);
    const nearest = nearestKey(typo, valid);
    const full = fullKey(where === "" ? typo : `${where}.${typo}`);
    const suggestion = fullKey(where === "" ? nearest : `${where}.${nearest}`);
    const far = distance(typo.toLowerCase(), nearest.toLowerCase()) > Math.max(3, Math.floor(nearest.length / 2));
    return (
        `${full} is not a known setting: ${far ? `the nearest valid key is ${suggestion}` : `did you mean ${suggestion}?`} ` +
        `(${where === "" ? "the keys" : `the keys of ${fullKey(where.replace(/\[\d+\]$/, ""))}`}: ${valid.join(", ")}; see ${CONFIG_DOC})`
    );
}

/** The problems of a failed schema parse, each naming its full key, the bad value and what is expected, with its file. */
export function schemaProblems(
    stack: string,
    raw: RawConfig,
    issues: readonly z.core.$ZodIssue[],
    origin: RawOrigin,
): { file: string; text: string }[] {
    const out: { file: string; text: string }[] = [];
    for (const issue of issues) {
        const top = String(issue.path[0] ?? "");
        if (issue.code === "unrecognized_keys") {
            for (const k of issue.keys)
                out.push({
                    file: fileOfKey(
                        stack,
                        issue.path.length === 0 ? k : top,
                        issue.path.length === 0 ? { projectKeys: origin.projectKeys } : origin,
                    ),
                    text: unknownKeyProblem(issue.path, k),
                });
            continue;
        }
        const file = fileOfKey(stack, top, origin);
        const value = valueAt(raw, issue.path);
        if (issue.path.length === 1 && value === undefined) {
            out.push({
                file,
                text: `${fullKey(top)} is not set: add it to ${file === PROJECT_FILE ? `${PROJECT_FILE}'s config block` : stackFileOf(stack)} (see ${CONFIG_DOC})`,
            });
            continue;
        }
        if (typeof value === "number" && issue.message === NON_EMPTY) {
            // YAML reads 1.30 as the number 1.3: the message shows what was written, and the fix.
            const written = origin.written?.[keyPath(issue.path)] ?? String(value);
            const lost = written !== String(value) ? ` (YAML reads it as the number ${value})` : " (a number in YAML)";
            out.push({
                file,
                text: `${fullKey(keyPath(issue.path))} = ${written}${lost}: expected a string: quote it, as "${written}"`,
            });
            continue;
        }
        out.push({ file, text: `${fullKey(keyPath(issue.path))} = ${shown(value)}: ${issue.message}` });
    }
    return out;
}
