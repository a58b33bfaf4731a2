// Shared helpers for the tests: the committed lab config and the offline plan of it.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { RawConfig } from "../stacks/config";
import { main } from "../stacks/main";
import { PlannedResource } from "../offline/evaluate";
import { LabPlan, planLab, StackPlan } from "../offline/lab";
import { PLAN_CACHE_ENV } from "./global-setup";

export const REPO = path.resolve(__dirname, "..");
/** The project name (Pulumi.yaml), which namespaces every config key in a stack file. */
const PROJECT = "zta-testbed";

/** The raw (unvalidated) config of a committed stack file, keyed without namespace. */
export function rawConfig(stack: string, dir = REPO): Record<string, unknown> {
    const doc = YAML.parse(fs.readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(`${PROJECT}:`, ""), v]));
}

/** A copy of both committed stack files in a temp dir, with `edit` applied to the raw config of each. */
export function labDirWith(edit: (stack: string, raw: Record<string, any>) => void): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-lab-"));
    for (const stack of ["comp2", "comp3"]) {
        const raw = JSON.parse(JSON.stringify(rawConfig(stack))) as Record<string, any>;
        edit(stack, raw);
        const config = Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${PROJECT}:${k}`, v]));
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), YAML.stringify({ config }));
    }
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
export async function planOf(dir = REPO, { shared = true }: { shared?: boolean } = {}): Promise<LabPlan> {
    const plan = () => planLab(dir, main);
    const cache = process.env[PLAN_CACHE_ENV];
    if (!shared || !cache) return plan();
    const file = path.join(cache, `${labKey(dir)}.json`);
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
function labKey(dir: string): string {
    const hash = crypto.createHash("sha256");
    for (const name of fs.readdirSync(dir).filter((n) => /^Pulumi(\..+)?\.yaml$/.test(n)).sort()) {
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
        throw new Error(`expected one ${type} named ${name}, found ${found.length}; have: ${plan.resources.map((r) => `${r.type} ${r.name}`).join(", ")}`);
    }
    return found[0];
}

export function resourcesOfType(plan: Pick<StackPlan, "resources">, type: string): PlannedResource[] {
    return plan.resources.filter((r) => r.type === type);
}

export type { RawConfig };
