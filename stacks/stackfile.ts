// Reading a Pulumi.<stack>.yaml outside the engine (the offline plan, the
// policy pack): a syntax error or a duplicate key is a ConfigError naming the
// file and line, never a parser stack trace. (Under the real engine the Pulumi
// CLI reads the file itself.)
import * as fs from "fs";
import * as YAML from "yaml";
import { ConfigError } from "./config";

/** The `config:` map of a stack file; throws ConfigError naming the file and line of a YAML mistake. */
export function readStackFileConfig(file: string): Record<string, unknown> {
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
                const what = e.message.split(" at line ")[0].split("\n")[0];
                return `${file}, ${where}: ${what} (${e.code}): fix the YAML there`;
            }),
        );
    }
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) return {};
    const config = (value as { config?: unknown }).config;
    if (typeof value !== "object" || Array.isArray(value) || (config !== undefined && config !== null && (typeof config !== "object" || Array.isArray(config)))) {
        throw new ConfigError([`${file}: expected a mapping with a \`config:\` mapping of "zta-testbed:<key>" entries (see the committed Pulumi.comp2.yaml)`]);
    }
    return (config ?? {}) as Record<string, unknown>;
}
