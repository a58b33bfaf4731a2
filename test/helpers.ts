// Shared helpers for the tests: the committed lab config and the offline plan of it.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { PROJECT, RawConfig } from "../stacks/config";
import { main } from "../stacks/main";
import { PlannedResource } from "../offline/evaluate";
import { LabPlan, planLab, PlanOptions, StackPlan, stacksIn } from "../offline/lab";

export const REPO = path.resolve(__dirname, "..");

/** The raw (unvalidated) config of a committed stack file, keyed without namespace. */
export function rawConfig(stack: string, dir = REPO): Record<string, unknown> {
    const doc = YAML.parse(fs.readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(`${PROJECT}:`, ""), v]));
}

/** A copy of the lab's stack files (the committed ones, or those of `from`) in a temp dir, with `edit` applied to the raw config of each. */
export function labDirWith(edit: (stack: string, raw: Record<string, any>) => void, from = REPO): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-lab-"));
    for (const stack of stacksIn(from)) {
        const raw = JSON.parse(JSON.stringify(rawConfig(stack, from))) as Record<string, any>;
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
