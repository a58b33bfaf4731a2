// Where the offline plan may write: a directory that does not exist or is
// empty, or one that a previous plan wrote (it holds the marker file). Nothing
// else is touched: `--out ..` or `--out ~` must never delete anything.
import * as fs from "fs";
import * as path from "path";

/** The marker a plan leaves in its output directory: what it wrote, so a re-plan removes only that. */
export const PLAN_MARKER = ".zta-plan";

interface Marker {
    readonly tool: "zta-testbed offline plan";
    /** The per-stack folders the plan wrote, relative to the output directory. */
    readonly wrote: string[];
}

/** Raised when --out names a directory the plan did not make; the caller exits 1. */
export class OutDirError extends Error {}

function isDir(p: string): boolean {
    try {
        return fs.statSync(p).isDirectory();
    } catch {
        return false;
    }
}

function readMarker(dir: string): Marker | undefined {
    const file = path.join(dir, PLAN_MARKER);
    if (!fs.existsSync(file)) return undefined;
    try {
        const marker = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<Marker>;
        if (marker.tool === "zta-testbed offline plan" && Array.isArray(marker.wrote) && marker.wrote.every((w) => typeof w === "string")) return marker as Marker;
    } catch {
        // An unreadable marker is not a marker: the directory is refused below.
    }
    return undefined;
}

/** A stack folder name as the plan writes it: one path segment, nothing that climbs out of the directory. */
function isOwnFolder(name: string): boolean {
    return /^[A-Za-z0-9._-]+$/.test(name) && name !== "." && name !== "..";
}

/**
 * Checks that the plan may write into `out` and says why not. Checked before
 * anything is evaluated or written, so a refusal leaves `out` byte-identical.
 */
export function checkOutDir(out: string, stacks: readonly string[]): void {
    const dir = path.resolve(out);
    if (!fs.existsSync(dir)) return;
    if (!isDir(dir)) throw new OutDirError(`--out ${out}: ${dir} exists and is not a directory; give a new directory or one an earlier plan wrote`);
    if (fs.readdirSync(dir).length === 0) return;
    const marker = readMarker(dir);
    if (!marker) {
        throw new OutDirError(
            `--out ${out}: ${dir} is not empty and holds no ${PLAN_MARKER} marker, so it is not a directory an earlier plan wrote; ` +
                "the plan writes only into a new or empty directory or over its own earlier output: give another directory " +
                "(a plan/ written before the marker existed: delete it yourself once)",
        );
    }
    const foreign = marker.wrote.filter((w) => !isOwnFolder(w));
    if (foreign.length > 0) throw new OutDirError(`--out ${out}: the ${PLAN_MARKER} marker in ${dir} names ${foreign.join(", ")}, which a plan never writes; give another directory`);
    const unlisted = stacks.filter((s) => !marker.wrote.includes(s) && fs.existsSync(path.join(dir, s)));
    if (unlisted.length > 0) throw new OutDirError(`--out ${out}: ${unlisted.map((s) => path.join(dir, s)).join(", ")} exists but the earlier plan did not write it; move it away or give another directory`);
}

/**
 * Prepares `out` for a new plan of `stacks`: creates it, or removes the stack
 * folders the previous plan listed in its marker (and nothing else), then
 * writes the new marker. Call checkOutDir first.
 */
export function prepareOutDir(out: string, stacks: readonly string[]): void {
    checkOutDir(out, stacks);
    const dir = path.resolve(out);
    fs.mkdirSync(dir, { recursive: true });
    const previous = readMarker(dir);
    for (const folder of previous?.wrote ?? []) fs.rmSync(path.join(dir, folder), { recursive: true, force: true });
    const marker: Marker = { tool: "zta-testbed offline plan", wrote: [...stacks] };
    fs.writeFileSync(path.join(dir, PLAN_MARKER), JSON.stringify(marker, null, 2) + "\n");
}
