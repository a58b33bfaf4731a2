// Reading Pulumi.yaml and Pulumi.<stack>.yaml outside the engine (the offline
// plan, the policy pack, the tests): a syntax error or a duplicate key is a
// ConfigError naming the file and line, never a parser stack trace. (Under the
// real engine the Pulumi CLI reads the files itself.) The config the program
// sees is the project's `config:` block with the stack file's keys over it, key
// by key, as Pulumi merges them (a stack key replaces the project's whole value).
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError } from "./messages";
import { fullKey, ownKey, PROJECT_FILE } from "./namespace";
import { privateKeyPaths } from "./values";

/** A YAML file as read: its top-level mapping, and every number as written (by path, "config\0zta-testbed:versions\0istio"). */
interface Mapping {
    readonly value: Record<string, unknown>;
    readonly numbers: ReadonlyMap<string, string>;
}

/** The text of every number scalar under `node`, by its path joined with NUL: YAML reads 1.30 as 1.3, the message shows 1.30. */
function numbersAsWritten(node: unknown, text: string, at: string[], into: Map<string, string>): void {
    if (YAML.isScalar(node)) {
        if (typeof node.value === "number" && node.range)
            into.set(at.join("\0"), text.slice(node.range[0], node.range[1]));
    } else if (YAML.isMap(node)) {
        for (const pair of node.items)
            numbersAsWritten(
                pair.value,
                text,
                [...at, String(YAML.isScalar(pair.key) ? pair.key.value : pair.key)],
                into,
            );
    } else if (YAML.isSeq(node)) {
        node.items.forEach((item, i) => numbersAsWritten(item, text, [...at, String(i)], into));
    }
}

/** A YAML file's top-level mapping; throws ConfigError naming the file and line of a YAML mistake. */
function readMapping(file: string, what: string): Mapping {
    let bytes: Buffer;
    try {
        bytes = fs.readFileSync(file);
    } catch (err) {
        throw new ConfigError([
            `${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        ]);
    }
    // Pulumi reads its files as UTF-8: a UTF-16 file (an editor's "Unicode") is named, not misread.
    if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff) || bytes.includes(0)) {
        throw new ConfigError([
            `${file} is not UTF-8 text (it looks like UTF-16, or holds NUL bytes): save it as UTF-8`,
        ]);
    }
    const text = bytes.toString("utf8");
    // uniqueKeys: a key given twice is an error (YAML 1.2 forbids it; the default parser would keep the last one silently).
    const doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length > 0) {
        throw new ConfigError(
            doc.errors.map((e) => {
                const where = e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "somewhere";
                const message = e.message.split(" at line ")[0].split("\n")[0];
                return `${file}, ${where}: ${message} (${e.code}): fix the YAML there`;
            }),
        );
    }
    let value: unknown;
    try {
        // The yaml library refuses aliases that expand past a bound (an "alias bomb"): the file is named.
        value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    } catch (err) {
        throw new ConfigError([
            `${file}: ${(err as Error).message} (YAML aliases that expand too far): write the values out instead of aliasing them`,
        ]);
    }
    const numbers = new Map<string, string>();
    numbersAsWritten(doc.contents, text, [], numbers);
    if (value === null || value === undefined) return { value: {}, numbers };
    const config = (value as { config?: unknown }).config;
    if (
        typeof value !== "object" ||
        Array.isArray(value) ||
        (config !== undefined && config !== null && (typeof config !== "object" || Array.isArray(config)))
    ) {
        throw new ConfigError([
            `${file}: expected a mapping with a \`config:\` mapping of "zta-testbed:<key>" entries (${what})`,
        ]);
    }
    return { value: value as Record<string, unknown>, numbers };
}

/** Numbers as written under the `config:` block, by key path as messages write it ("versions.istio"); `skip` drops Pulumi.yaml's `value:` level. */
function writtenNumbers(numbers: ReadonlyMap<string, string>, skipValueLevel: boolean): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [at, text] of numbers) {
        const parts = at.split("\0");
        const top = parts[0] === "config" && parts[1] !== undefined ? ownKey(parts[1]) : undefined;
        if (top === undefined) continue;
        const rest =
            skipValueLevel && (parts[2] === "value" || parts[2] === "default") ? parts.slice(3) : parts.slice(2);
        const key = [top, ...rest].map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : `${i > 0 ? "." : ""}${p}`)).join("");
        out[key] = text;
    }
    return out;
}

/** The `config:` map of a stack file; throws ConfigError naming the file and line of a YAML mistake. */
export function readStackFileConfig(file: string): Record<string, unknown> {
    return readStackFile(file).config;
}

/** A stack file's `config:` map, and its numbers as written (by key path). */
export function readStackFile(file: string): { config: Record<string, unknown>; written: Record<string, string> } {
    const { value, numbers } = readMapping(file, "see the committed Pulumi.comp2.yaml");
    return { config: (value.config ?? {}) as Record<string, unknown>, written: writtenNumbers(numbers, false) };
}

/**
 * The project-level config of Pulumi.yaml, keys namespaced as Pulumi reads them
 * ("versions" is "zta-testbed:versions"), each as the value Pulumi applies: a
 * plain scalar, or an entry's `value:` (objects must be given that way).
 */
export function readProjectConfig(file: string): Record<string, unknown> {
    return readProjectFile(file).config;
}

/** Pulumi.yaml's config as readProjectConfig gives it, its block as written (for the key guard), and its numbers as written. */
export function readProjectFile(file: string): {
    config: Record<string, unknown>;
    block: Record<string, unknown>;
    written: Record<string, string>;
} {
    const { value, numbers } = readMapping(file, "see the committed Pulumi.yaml");
    const block = (value.config ?? {}) as Record<string, unknown>;
    const config: Record<string, unknown> = {};
    const problems: string[] = [];
    for (const [name, entry] of Object.entries(block)) {
        const key = name.includes(":") ? name : fullKey(name);
        if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
            config[key] = entry;
        } else if ("value" in entry) {
            config[key] = (entry as { value: unknown }).value;
        } else if ("default" in entry) {
            config[key] = (entry as { default: unknown }).default;
        } else {
            problems.push(
                `${file}: ${key} holds an object without \`value:\`: Pulumi takes an object in the project's config block only as \`${key}: { value: {...} }\``,
            );
        }
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return { config, block, written: writtenNumbers(numbers, true) };
}

/** The stack's config as Pulumi hands it to the program: Pulumi.yaml's project config with the stack file's keys over it. */
export function mergedConfig(
    project: Readonly<Record<string, unknown>>,
    stack: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
    return { ...project, ...stack };
}

/** Pulumi.yaml of a project directory; a missing one is a ConfigError (the lab-wide keys live there). */
export function projectFileIn(configDir: string): string {
    const file = path.join(configDir, PROJECT_FILE);
    if (!fs.existsSync(file)) {
        throw new ConfigError([
            `${file} does not exist: the project file holds the lab-wide config (versions, mesh, registry, ...) in its \`config:\` block; copy the committed ${PROJECT_FILE}`,
        ]);
    }
    return file;
}

/** Every plain private key in a file's config block, each a problem naming the file and key, never the key itself. */
export function plainKeyProblems(file: string, block: Readonly<Record<string, unknown>>): string[] {
    return privateKeyPaths(block).map((at) => {
        const byHand = /(^|\.)secure$/.test(at)
            ? " wrapped by hand as {secure: ...} (a secure value is the ciphertext `pulumi config set --secret` writes)"
            : "";
        return (
            `${file}: ${at.replace(/\.secure$/, "")} holds a private key in plain text${byHand} (PEM "PRIVATE KEY", not shown): remove it from the file; ` +
            `an SSH key is set with \`pulumi config set --secret ${fullKey("sshPrivateKey")} < ~/.ssh/id_ed25519\`, a brought root's with \`pulumi config set --secret ${fullKey("rootCaKey")} < root-key.pem\``
        );
    });
}
