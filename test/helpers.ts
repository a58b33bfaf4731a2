// Shared helpers for the tests: the committed lab config and the offline plan of it.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { LAB_WIDE_KEYS, PROJECT, RawConfig } from "../stacks/config";
import { mergedConfig, readProjectConfig, readStackFileConfig } from "../stacks/stackfile";
import { main } from "../stacks/main";
import { PlannedResource } from "../offline/evaluate";
import { LabPlan, planLab, PlanOptions, StackPlan, stacksIn } from "../offline/lab";

export const REPO = path.resolve(__dirname, "..");

/** The raw (unvalidated) config of a committed stack, keyed without namespace: Pulumi.yaml's project config with the stack file's over it. */
export function rawConfig(stack: string, dir = REPO): Record<string, unknown> {
    const merged = mergedConfig(readProjectConfig(path.join(dir, "Pulumi.yaml")), readStackFileConfig(path.join(dir, `Pulumi.${stack}.yaml`)));
    return Object.fromEntries(Object.entries(merged).map(([k, v]) => [k.replace(`${PROJECT}:`, ""), v]));
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
        if (value !== undefined) project[`${PROJECT}:${key}`] = { value };
        raws.forEach((r) => {
            if (agreed || JSON.stringify(r[key]) === JSON.stringify(committed[key])) delete r[key];
        });
    }
    const projectFile = YAML.parse(fs.readFileSync(path.join(from, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), YAML.stringify({ ...projectFile, config: project }));
    stacks.forEach((stack, i) => {
        const config = Object.fromEntries(Object.entries(raws[i]).map(([k, v]) => [`${PROJECT}:${k}`, v]));
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), YAML.stringify({ config }));
    });
    return dir;
}

/** The reference lab with both stacks in bring-your-own mode: a kubeconfig (stand-in) instead of a host. */
export function byoLabDir(): string {
    return labDirWith((_stack, raw) => delete raw.host);
}

export function planOf(dir = REPO, options?: PlanOptions): Promise<LabPlan> {
    return planLab(dir, main, options);
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
