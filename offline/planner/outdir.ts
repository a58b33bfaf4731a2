// Where the offline plan may write: a directory that does not exist or is
// empty, or one that a previous plan wrote and that still holds exactly what it
// wrote. Nothing else is touched: `--out ..` or `--out ~` must never delete
// anything, and neither may a marker file someone else made (issue 27).
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** The marker a plan leaves in its output directory: what it wrote, so a re-plan removes only that. */
export const PLAN_MARKER = ".zta-plan";

const TOOL = "zta-testbed offline plan";

interface Marker {
    readonly tool: typeof TOOL;
    /** The per-stack folders the plan wrote, relative to the output directory. */
    readonly wrote: string[];
    /** Every file it wrote in them ("comp2/resources.json"), with its sha256: a re-plan replaces them only while they are unchanged. */
    readonly files: Record<string, string>;
}

/** Raised when --out names a directory the plan did not make; the caller exits 1. */
export class OutDirError extends Error {}

function lstat(p: string): fs.Stats | undefined {
    try {
        return fs.lstatSync(p);
    } catch {
        return undefined;
    }
}

function sha256(data: string | Buffer): string {
    return createHash("sha256").update(data).digest("hex");
}

/** A stack folder name as the plan writes it: one path segment, nothing that climbs out of the directory. */
function isOwnFolder(name: string): boolean {
    return /^[A-Za-z0-9._-]+$/.test(name) && name !== "." && name !== "..";
}

/** Every regular file under dir, relative to `base`; a symbolic link or other special file anywhere is returned in `odd`. */
function filesUnder(dir: string, base: string, odd: string[] = []): { files: string[]; odd: string[] } {
    const files: string[] = [];
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) files.push(...filesUnder(p, base, odd).files);
        else if (e.isFile()) files.push(path.relative(base, p));
        else odd.push(path.relative(base, p));
    }
    return { files, odd };
}

/** The marker in dir, checked against what is there; a problem (a string) when it is not one this plan can trust. */
function readMarker(dir: string): Marker | string {
    const file = path.join(dir, PLAN_MARKER);
    const stat = lstat(file);
    if (!stat) return `holds no ${PLAN_MARKER} marker`;
    if (!stat.isFile())
        return `has a ${PLAN_MARKER} that is not a regular file (${stat.isSymbolicLink() ? "a symbolic link" : "a directory or special file"})`;
    let marker: Partial<Marker>;
    try {
        marker = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<Marker>;
    } catch {
        return `has a ${PLAN_MARKER} marker that is not the plan's JSON`;
    }
    const files = marker.files;
    if (
        marker.tool !== TOOL ||
        !Array.isArray(marker.wrote) ||
        !marker.wrote.every((w) => typeof w === "string") ||
        files === null ||
        typeof files !== "object" ||
        Array.isArray(files) ||
        !Object.values(files).every((h) => typeof h === "string" && /^[0-9a-f]{64}$/.test(h))
    ) {
        return `has a ${PLAN_MARKER} marker without the list of files and hashes this plan writes`;
    }
    const foreign = marker.wrote.filter((w) => !isOwnFolder(w));
    if (foreign.length > 0)
        return `has a ${PLAN_MARKER} marker that names ${foreign.join(", ")}, which a plan never writes`;
    // Every listed folder must hold exactly the files the marker lists, unchanged, and nothing that leads elsewhere.
    const listed = new Set(Object.keys(files));
    const seen = new Set<string>();
    for (const folder of marker.wrote) {
        const where = path.join(dir, folder);
        const s = lstat(where);
        if (!s) continue;
        if (!s.isDirectory())
            return `has ${folder}, which the marker lists but which is ${s.isSymbolicLink() ? "a symbolic link" : "not a directory"}`;
        const { files: present, odd } = filesUnder(where, dir);
        if (odd.length > 0) return `has ${odd[0]}, a symbolic link or special file, which a plan never writes`;
        for (const rel of present) {
            if (!listed.has(rel)) return `has ${rel}, which the earlier plan did not write`;
            if (sha256(fs.readFileSync(path.join(dir, rel))) !== files[rel])
                return `has ${rel}, changed since the earlier plan wrote it`;
            seen.add(rel);
        }
    }
    if ([...listed].some((rel) => !marker.wrote?.some((w) => rel.startsWith(`${w}/`))))
        return `has a ${PLAN_MARKER} marker that lists files outside its folders`;
    return marker as Marker;
}

/**
 * Checks that the plan may write into `out` and says why not. Checked before
 * anything is evaluated or written, so a refusal leaves `out` byte-identical.
 */
export function checkOutDir(out: string, stacks: readonly string[]): void {
    const dir = path.resolve(out);
    const give = "give a new directory, or one an earlier plan wrote";
    const stat = lstat(dir);
    if (stat?.isSymbolicLink())
        throw new OutDirError(
            `--out ${out}: ${dir} is a symbolic link; the plan writes only into a directory itself: ${give}`,
        );
    if (!stat) {
        // It is made at write time: its nearest existing parent must be a directory the plan can write to.
        let parent = path.dirname(dir);
        while (!lstat(parent)) parent = path.dirname(parent);
        const p = fs.statSync(parent);
        if (!p.isDirectory())
            throw new OutDirError(`--out ${out}: ${parent} is not a directory, so ${dir} cannot be made: ${give}`);
        try {
            fs.accessSync(parent, fs.constants.W_OK);
        } catch {
            throw new OutDirError(`--out ${out}: ${parent} is not writable, so ${dir} cannot be made: ${give}`);
        }
        return;
    }
    if (!stat.isDirectory()) throw new OutDirError(`--out ${out}: ${dir} exists and is not a directory; ${give}`);
    if (fs.readdirSync(dir).length === 0) return;
    const marker = readMarker(dir);
    if (typeof marker === "string") {
        throw new OutDirError(
            `--out ${out}: ${dir} is not empty and ${marker}, so it is not a directory an earlier plan wrote (or it changed since); ` +
                "the plan writes only into a new or empty directory or over its own earlier output, unchanged: give another directory " +
                `(a plan/ written by an older version, or one you edited: delete it yourself once)`,
        );
    }
    const unlisted = stacks.filter((s) => !marker.wrote.includes(s) && lstat(path.join(dir, s)));
    if (unlisted.length > 0)
        throw new OutDirError(
            `--out ${out}: ${unlisted.map((s) => path.join(dir, s)).join(", ")} exists but the earlier plan did not write it; move it away or give another directory`,
        );
}

/**
 * Writes a plan: `files` by path relative to `out` ("comp2/resources.json"), each
 * under one of `stacks`' folders. Everything is written into a staging folder
 * inside `out` first; only then are the earlier plan's folders (those its marker
 * lists, and nothing else) swapped for the new ones, and the marker rewritten.
 * A failure while writing leaves the earlier plan as it was.
 */
export function writeOutDir(out: string, stacks: readonly string[], files: ReadonlyMap<string, string>): void {
    checkOutDir(out, stacks);
    const dir = path.resolve(out);
    for (const rel of files.keys()) {
        if (
            !stacks.some((s) => rel.startsWith(`${s}/`)) ||
            rel.split("/").some((p) => p === ".." || p === "." || p === "")
        )
            throw new Error(`the plan would write ${rel}, outside its stack folders`);
    }
    const made = !lstat(dir);
    fs.mkdirSync(dir, { recursive: true });
    const staging = fs.mkdtempSync(path.join(dir, `${PLAN_MARKER}-new-`));
    try {
        for (const [rel, text] of files) {
            fs.mkdirSync(path.dirname(path.join(staging, rel)), { recursive: true });
            fs.writeFileSync(path.join(staging, rel), text);
        }
        const marker: Marker = {
            tool: TOOL,
            wrote: [...stacks],
            files: Object.fromEntries(
                [...files].map(([rel, text]) => [rel, sha256(text)]).sort(([a], [b]) => (a < b ? -1 : 1)),
            ),
        };
        fs.writeFileSync(path.join(staging, PLAN_MARKER), JSON.stringify(marker, null, 2) + "\n");
    } catch (err) {
        fs.rmSync(staging, { recursive: true, force: true });
        if (made) fs.rmSync(dir, { recursive: true, force: true });
        throw err;
    }
    // The swap: the earlier plan's folders out (into the staging folder, removed last), the new ones in.
    const previous = readMarker(dir);
    const old = path.join(staging, ".old");
    fs.mkdirSync(old);
    for (const folder of typeof previous === "string" ? [] : previous.wrote) {
        if (lstat(path.join(dir, folder))) fs.renameSync(path.join(dir, folder), path.join(old, folder));
    }
    for (const stack of stacks) {
        if (lstat(path.join(staging, stack))) fs.renameSync(path.join(staging, stack), path.join(dir, stack));
        else fs.mkdirSync(path.join(dir, stack));
    }
    fs.renameSync(path.join(staging, PLAN_MARKER), path.join(dir, PLAN_MARKER));
    fs.rmSync(staging, { recursive: true, force: true });
}
