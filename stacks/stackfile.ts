// Reading Pulumi.yaml and Pulumi.<stack>.yaml outside the engine (the offline
// plan, the policy pack, the tests): a syntax error or a duplicate key is a
// ConfigError naming the file and line, never a parser stack trace. (Under the
// real engine the Pulumi CLI reads the files itself.) The config the program
// sees is the project's `config:` block with the stack file's keys over it, key
// by key, as Pulumi merges them (a stack key replaces the project's whole value).
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError, PROJECT, PROJECT_FILE } from "./config";

/** A YAML file's top-level mapping; throws ConfigError naming the file and line of a YAML mistake. */
function readMapping(file: string, what: string): Record<string, unknown> {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new ConfigError([`${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
    }
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
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) return {};
    const config = (value as { config?: unknown }).config;
    if (typeof value !== "object" || Array.isArray(value) || (config !== undefined && config !== null && (typeof config !== "object" || Array.isArray(config)))) {
        throw new ConfigError([`${file}: expected a mapping with a \`config:\` mapping of "zta-testbed:<key>" entries (${what})`]);
    }
    return value as Record<string, unknown>;
}

/** The `config:` map of a stack file; throws ConfigError naming the file and line of a YAML mistake. */
export function readStackFileConfig(file: string): Record<string, unknown> {
    return (readMapping(file, "see the committed Pulumi.comp2.yaml").config ?? {}) as Record<string, unknown>;
}

/**
 * The project-level config of Pulumi.yaml, keys namespaced as Pulumi reads them
 * ("versions" is "zta-testbed:versions"), each as the value Pulumi applies: a
 * plain scalar, or an entry's `value:` (objects must be given that way).
 */
export function readProjectConfig(file: string): Record<string, unknown> {
    const block = (readMapping(file, "see the committed Pulumi.yaml").config ?? {}) as Record<string, unknown>;
    const config: Record<string, unknown> = {};
    const problems: string[] = [];
    for (const [name, entry] of Object.entries(block)) {
        const key = name.includes(":") ? name : `${PROJECT}:${name}`;
        if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
            config[key] = entry;
        } else if ("value" in entry) {
            config[key] = (entry as { value: unknown }).value;
        } else if ("default" in entry) {
            config[key] = (entry as { default: unknown }).default;
        } else {
            problems.push(`${file}: ${key} holds an object without \`value:\`: Pulumi takes an object in the project's config block only as \`${key}: { value: {...} }\``);
        }
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return config;
}

/** The stack's config as Pulumi hands it to the program: Pulumi.yaml's project config with the stack file's keys over it. */
export function mergedConfig(project: Readonly<Record<string, unknown>>, stack: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return { ...project, ...stack };
}

/** Pulumi.yaml of a project directory; a missing one is a ConfigError (the lab-wide keys live there). */
export function projectFileIn(configDir: string): string {
    const file = path.join(configDir, PROJECT_FILE);
    if (!fs.existsSync(file)) {
        throw new ConfigError([`${file} does not exist: the project file holds the lab-wide config (versions, mesh, registry, ...) in its \`config:\` block; copy the committed ${PROJECT_FILE}`]);
    }
    return file;
}
