// `npm run docs:versions [-- --check]`: writes the support matrix of
// stacks/support.ts into README.md between the version-table markers; with
// --check, exits 1 when README.md differs from what would be written.
import * as fs from "fs";
import * as path from "path";
import { supportTable } from "../stacks/support";

export const BEGIN = "<!-- versions:begin (generated from stacks/support.ts by `npm run docs:versions`; do not edit) -->";
export const END = "<!-- versions:end -->";

/** The README with the table between the markers replaced by the one the matrix gives. */
export function withVersionTable(readme: string): string {
    const start = readme.indexOf(BEGIN);
    const end = readme.indexOf(END);
    if (start < 0 || end < start) throw new Error(`README.md has no version-table markers (${BEGIN} ... ${END})`);
    return `${readme.slice(0, start)}${BEGIN}\n${supportTable()}\n${readme.slice(end)}`;
}

function main(): void {
    const file = path.resolve(__dirname, "..", "README.md");
    const readme = fs.readFileSync(file, "utf8");
    const wanted = withVersionTable(readme);
    if (process.argv.includes("--check")) {
        if (wanted !== readme) {
            console.error("README.md's version table differs from stacks/support.ts: run `npm run docs:versions`");
            process.exit(1);
        }
        console.log("README.md's version table matches stacks/support.ts");
        return;
    }
    fs.writeFileSync(file, wanted);
    console.log(wanted === readme ? "README.md's version table is up to date" : "README.md's version table written from stacks/support.ts");
}

if (require.main === module) main();
