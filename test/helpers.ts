// Shared helpers for the tests: the committed lab config and the offline plan of it.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pathToFileURL } from "url";
import * as YAML from "yaml";
import { readRawConfig } from "../stacks/config/load";
import { fullKey } from "../stacks/config/namespace";
import { LAB_WIDE_KEYS, RawConfig } from "../stacks/config/schema";
import { main } from "../stacks/main";
import { PlannedResource } from "../offline/engine/record";
import { LabPlan, planLab, PlanOptions, StackPlan, stacksIn } from "../offline/planner/lab";
import { planCommand } from "../offline/planner/plan-command";
import { PLAN_CACHE_ENV } from "./global-setup";

export const REPO = path.resolve(__dirname, "..");
/**
 * How the tests run a script of the repository as `npm run <script>` does: node with tsx's
 * loader (`node --import <loader> script.ts`). tsx's command line would start a second node
 * for each; this is the same program in a third of the start-up time.
 */
export const TSX_LOADER_ARGS = [
    "--import",
    pathToFileURL(path.join(REPO, "node_modules", "tsx", "dist", "loader.mjs")).href,
];
/** The raw (unvalidated) config of a committed stack, keyed without namespace: Pulumi.yaml's project config with the stack file's over it. */
export function rawConfig(stack: string, dir = REPO): Record<string, unknown> {
    return readRawConfig(dir, stack).raw;
}

/**
 * A copy of the lab (the committed one, or the one in `from`) in a temp dir, with
 * `edit` applied to the raw (merged) config of each stack. A lab-wide key the edits leave equal in every
 * stack goes to Pulumi.yaml's config block; one they make differ stays the
 * committed value there and is set in the stack files that differ, which the
 * lab then refuses as drift.
 */
export function labDirWith(edit: (stack: string, raw: Record<string, any>) => void, from = REPO): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-lab-"));
    const stacks = stacksIn(from);
    const raws = stacks.map((stack) => {
        const raw = JSON.parse(JSON.stringify(rawConfig(stack, from))) as Record<string, any>;
        edit(stack, raw);
        return raw;
    });
    const committed = rawConfig(stacks[0], from);
    const project: Record<string, unknown> = {};
    for (const key of LAB_WIDE_KEYS) {
        const values = raws.map((r) => JSON.stringify(r[key]));
        const agreed = values.every((v) => v === values[0]);
        const value = agreed ? raws[0][key] : committed[key];
        if (value !== undefined) project[fullKey(key)] = { value };
        raws.forEach((r) => {
            if (agreed || JSON.stringify(r[key]) === JSON.stringify(committed[key])) delete r[key];
        });
    }
    const projectFile = YAML.parse(fs.readFileSync(path.join(from, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), YAML.stringify({ ...projectFile, config: project }));
    stacks.forEach((stack, i) => {
        const config = Object.fromEntries(Object.entries(raws[i]).map(([k, v]) => [fullKey(k), v]));
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), YAML.stringify({ config }));
    });
    return dir;
}

/** The reference lab with both stacks in bring-your-own mode: a kubeconfig (stand-in) instead of a host. */
export function byoLabDir(): string {
    return labDirWith((_stack, raw) => delete raw.host);
}

/**
 * The offline plan of the lab whose stack files are in `dir` (the committed lab by default).
 * Planning is most of the tests' time, and many files plan the same lab: within one jest run,
 * each lab (by the contents of its stack files) is planned once, by whichever worker asks first,
 * and read back as JSON by every other (each file gets its own copy, free to change). Plans that
 * fail are not shared. `shared: false` plans afresh and shares nothing: for a test that plans
 * with a module mocked (the plan depends on more than the stack files then).
 */
export async function planOf(
    dir = REPO,
    { shared = true, ...options }: { shared?: boolean } & PlanOptions = {},
): Promise<LabPlan> {
    const plan = () => planLab(dir, main, options);
    const cache = process.env[PLAN_CACHE_ENV];
    if (!shared || !cache) return plan();
    const file = path.join(cache, `${labKey(dir, options)}.json`);
    const lock = `${file}.lock`;
    for (;;) {
        if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8")) as LabPlan;
        try {
            fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
        } catch {
            // Another worker is planning this lab: wait for its plan (or for it to give up or die).
            if (lockHolderDied(lock)) fs.rmSync(lock, { force: true });
            await new Promise((resolve) => setTimeout(resolve, 100));
            continue;
        }
        try {
            const lab = await plan();
            fs.writeFileSync(`${file}.${process.pid}`, JSON.stringify(lab));
            fs.renameSync(`${file}.${process.pid}`, file);
            return lab;
        } finally {
            fs.rmSync(lock, { force: true });
        }
    }
}

function lockHolderDied(lock: string): boolean {
    let pid: number;
    try {
        pid = Number(fs.readFileSync(lock, "utf8"));
    } catch {
        return false; // released meanwhile
    }
    if (!Number.isInteger(pid) || pid <= 0) return false; // just taken, its pid not written yet
    try {
        process.kill(pid, 0);
        return false;
    } catch {
        return true;
    }
}

/** The stack files (and project file) of a lab dir, by name and content. */
function labKey(dir: string, options: PlanOptions): string {
    const hash = crypto.createHash("sha256").update(`${JSON.stringify(options)}\0`);
    for (const name of fs
        .readdirSync(dir)
        .filter((n) => /^Pulumi(\..+)?\.yaml$/.test(n))
        .sort()) {
        hash.update(`${name}\0${fs.readFileSync(path.join(dir, name), "utf8")}\0`);
    }
    return hash.digest("hex").slice(0, 32);
}

export function stackOf(lab: LabPlan, stack: string): StackPlan {
    const s = lab.stacks.find((p) => p.stack === stack);
    if (!s) throw new Error(`no plan for ${stack}`);
    return s;
}

/** Like awsx's findCreatedResource: the one resource of this type and name, or a failing test. */
export function findResource(plan: Pick<StackPlan, "resources">, type: string, name: string): PlannedResource {
    const found = plan.resources.filter((r) => r.type === type && r.name === name);
    if (found.length !== 1) {
        throw new Error(
            `expected one ${type} named ${name}, found ${found.length}; have: ${plan.resources.map((r) => `${r.type} ${r.name}`).join(", ")}`,
        );
    }
    return found[0];
}

export function resourcesOfType(plan: Pick<StackPlan, "resources">, type: string): PlannedResource[] {
    return plan.resources.filter((r) => r.type === type);
}

export type { RawConfig };

/** `npm run plan -- <args>` in this process (offline/planner/plan.ts runs the same function): what it prints and its exit code. */
export async function planCommandOutput(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
    let stdout = "";
    let stderr = "";
    const status = await planCommand(args, { out: (t) => (stdout += `${t}\n`), err: (t) => (stderr += `${t}\n`) });
    return { status, stdout, stderr };
}

/** Plans the lab of `configDir` into a fresh folder as `npm run plan -- --quiet` does, in this process; expects exit 0 and nothing on stderr. */
export async function planLabQuietly(configDir: string, tmpPrefix: string): Promise<{ out: string; stdout: string }> {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix)), "plan");
    const result = await planCommandOutput(["--config-dir", configDir, "--out", out, "--quiet"]);
    expect([result.status, result.stderr]).toEqual([0, ""]);
    return { out, stdout: result.stdout };
}
