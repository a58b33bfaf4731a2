// `npm run docs:config [-- --check]`: writes the configuration tables of the
// schema (stacks/config/schema.ts, SECTIONS) between the config-table markers: a short
// table, one row per top-level key, into README.md, and the full per-key table
// into docs/config.md. With --check, exits 1 when either file differs.
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { readFlags, UsageError } from "../cli";
import { CONFIG_DOC, PROJECT_FILE } from "../../stacks/config/namespace";
import { SECRET_KEY_DOCS, Section, SECTIONS } from "../../stacks/config/schema";
import { keyDocOf } from "../../stacks/config/keys";

export const BEGIN = "<!-- config-table:begin -->";
export const END = "<!-- config-table:end -->";
const GENERATED = "<!-- generated from stacks/config/schema.ts by `npm run docs:config`; do not edit -->";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (s: string) => `\`${s}\``;

function sections(): [string, Section][] {
    return Object.entries(SECTIONS);
}

function scopeOf(doc: Section): string {
    return doc.scope === "project" ? `project (${code(PROJECT_FILE)})` : `stack (${code("Pulumi.<stack>.yaml")})`;
}

/** A key's default as the schema gives it: parsing "not set" yields the default, "required" when it fails. */
function defaultOf(schema: z.ZodType): string {
    const derived = keyDocOf(schema).derivedDefault;
    if (derived !== undefined) return derived;
    const r = schema.safeParse(undefined);
    if (!r.success) return "required";
    return r.data === undefined ? "unset" : code(JSON.stringify(r.data));
}

/** README's table: one row per top-level key. */
export function shortTable(): string {
    const rows = sections().map(([name, doc]) => {
        const keys = Object.keys(doc.fields)
            .map((k) => code(k))
            .join(", ");
        return `| ${code(doc.list ? `${name}[]` : name)} | ${doc.scope} | ${keys} | ${cell(doc.description)} |`;
    });
    const secrets = Object.keys(SECRET_KEY_DOCS).map(code).join(", ");
    return [
        "| key | scope | keys it holds | what |",
        "|---|---|---|---|",
        ...rows,
        `| secrets | stack | ${secrets} | set with \`pulumi config set --secret\`, never in a file |`,
    ].join("\n");
}

/** docs/config.md's table: every key with its type, default, scope and description. */
export function fullTable(): string {
    const rows: string[] = [];
    for (const [name, doc] of sections()) {
        const required = doc.presence === "required" ? "required" : "optional";
        rows.push(
            `| **${code(doc.list ? `${name}[]` : name)}** | ${doc.list ? "list of objects" : "object"} | ${required} | ${scopeOf(doc)} | ${cell(doc.description)} |`,
        );
        for (const [k, schema] of Object.entries(doc.fields)) {
            const d = keyDocOf(schema);
            rows.push(
                `| ${code(`${name}${doc.list ? "[]" : ""}.${k}`)} | ${cell(d.type)} | ${cell(defaultOf(schema))} | ${doc.scope} | ${cell(d.description)} |`,
            );
        }
    }
    for (const [k, description] of Object.entries(SECRET_KEY_DOCS))
        rows.push(`| ${code(k)} (secret) | string | unset | stack | ${cell(description)} |`);
    return ["| key | type | default | scope | description |", "|---|---|---|---|---|", ...rows].join("\n");
}

/** The text with what is between the markers replaced by the table. */
export function withTable(text: string, table: string, file: string): string {
    const start = text.indexOf(BEGIN);
    const end = text.indexOf(END);
    if (start < 0 || end < start) throw new Error(`${file} has no config-table markers (${BEGIN} ... ${END})`);
    return `${text.slice(0, start)}${BEGIN}\n${GENERATED}\n\n${table}\n\n${text.slice(end)}`;
}

/** Each file the tables go to, with the table it holds. */
export const TARGETS: readonly { readonly file: string; readonly table: () => string }[] = [
    { file: "README.md", table: shortTable },
    { file: CONFIG_DOC, table: fullTable },
];

function main(check: boolean): void {
    const root = path.resolve(__dirname, "..", "..");
    let stale = 0;
    for (const { file, table } of TARGETS) {
        const full = path.join(root, file);
        const text = fs.readFileSync(full, "utf8");
        const wanted = withTable(text, table(), file);
        if (check) {
            if (wanted !== text) {
                console.error(
                    `${file}'s config table differs from stacks/config/schema.ts: run \`npm run docs:config\``,
                );
                stale++;
            }
            continue;
        }
        fs.writeFileSync(full, wanted);
        console.log(
            wanted === text
                ? `${file}'s config table is up to date`
                : `${file}'s config table written from stacks/config/schema.ts`,
        );
    }
    if (stale > 0) process.exit(1);
    if (check) console.log("README.md's and docs/config.md's config tables match stacks/config/schema.ts");
}

if (require.main === module) {
    try {
        main(readFlags(process.argv.slice(2), { check: { type: "boolean" } }).check ?? false);
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        console.error(`docs:config failed: ${err.message}\n\nusage: npm run docs:config [-- --check]`);
        process.exit(2);
    }
}
