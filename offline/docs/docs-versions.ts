// `npm run docs:versions [-- --check]`: writes the support matrix of
// stacks/support.ts into docs/versions.md between the version-table markers;
// with --check, exits 1 when docs/versions.md differs from what would be written.
import * as fs from "fs";
import * as path from "path";
import { supportTable } from "../../stacks/support";
import { readFlags, UsageError } from "../cli";

export const BEGIN =
    "<!-- versions:begin (generated from stacks/support.ts by `npm run docs:versions`; do not edit) -->";
export const END = "<!-- versions:end -->";
/** The page that holds the table, relative to the repository. */
export const VERSIONS_PAGE = "docs/versions.md";

/** The page with the table between the markers replaced by the one the matrix gives. */
export function withVersionTable(page: string): string {
    const start = page.indexOf(BEGIN);
    const end = page.indexOf(END);
    if (start < 0 || end < start)
        throw new Error(`${VERSIONS_PAGE} has no version-table markers (${BEGIN} ... ${END})`);
    return `${page.slice(0, start)}${BEGIN}\n${supportTable()}\n${page.slice(end)}`;
}

function main(check: boolean): void {
    const file = path.resolve(__dirname, "..", "..", VERSIONS_PAGE);
    const page = fs.readFileSync(file, "utf8");
    const wanted = withVersionTable(page);
    if (check) {
        if (wanted !== page) {
            console.error(
                `${VERSIONS_PAGE}'s version table differs from stacks/support.ts: run \`npm run docs:versions\``,
            );
            process.exit(1);
        }
        console.log(`${VERSIONS_PAGE}'s version table matches stacks/support.ts`);
        return;
    }
    fs.writeFileSync(file, wanted);
    console.log(
        wanted === page
            ? `${VERSIONS_PAGE}'s version table is up to date`
            : `${VERSIONS_PAGE}'s version table written from stacks/support.ts`,
    );
}

if (require.main === module) {
    try {
        main(readFlags(process.argv.slice(2), { check: { type: "boolean" } }).check ?? false);
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        console.error(`docs:versions failed: ${err.message}\n\nusage: npm run docs:versions [-- --check]`);
        process.exit(2);
    }
}
