// The files of a stack's plan (resources.json, outputs.json, summary.json, one
// manifest per Kubernetes object, one file per Helm release), made only once the
// leak guard found no secret in them: the plan is meant to be shared.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { MOCK_PRIVATE_KEY, MOCK_TOKEN } from "../engine/mocks";
import { PlannedResource, SECRET, StackOutputs } from "../engine/record";
import { SecretLeakError } from "./exit";
import type { StackPlan } from "./lab";

function redactOutputs(outputs: StackOutputs): Record<string, unknown> {
    return Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, o.secret ? SECRET : o.value]));
}

function fileName(...parts: (string | undefined)[]): string {
    return parts
        .filter((p): p is string => !!p)
        .join("_")
        .replace(/[^A-Za-z0-9._-]+/g, "-");
}

/** Kubernetes objects: typed and custom resources, not providers and not Helm releases. */
export function isKubernetesObject(r: PlannedResource): boolean {
    return (
        r.custom &&
        r.type.startsWith("kubernetes:") &&
        !r.type.startsWith("kubernetes:helm.sh/") &&
        r.type !== "pulumi:providers:kubernetes"
    );
}

export function isHelmRelease(r: PlannedResource): boolean {
    return r.type.startsWith("kubernetes:helm.sh/");
}

/**
 * Text that only secret values carry: mock keys and tokens (also base64-encoded,
 * as a Secret's `data` holds them) and stand-ins for unset secret config.
 */
export const LEAK_MARKERS = [
    MOCK_PRIVATE_KEY,
    MOCK_TOKEN,
    Buffer.from(MOCK_TOKEN).toString("base64").slice(0, 12),
    "STAND-IN(",
];

/**
 * Secret values shorter than this are not searched for: a secret object also
 * holds short plain words (remoteSecret's clusterName "cluster1", say), which
 * occur all over the plan and would raise false alarms. Every generated secret
 * of the program (32-character passwords, keys, tokens, kubeconfigs) is longer.
 */
export const MIN_SECRET_LENGTH = 12;

/** Every string and key in a JSON-like value. */
function stringsIn(value: unknown, into: string[] = []): string[] {
    if (typeof value === "string") into.push(value);
    else if (Array.isArray(value)) value.forEach((v) => stringsIn(v, into));
    else if (value !== null && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) {
            into.push(k);
            stringsIn(v, into);
        }
    }
    return into;
}

/**
 * Refuses a plan that would write any value that was secret anywhere in the
 * program (Evaluation.secretValues), as it is or base64-encoded (a Secret's
 * `data`), in what the plan files are made of.
 */
export function assertNoSecrets(plan: StackPlan): void {
    const secrets = plan.secretValues.filter((v) => v.length >= MIN_SECRET_LENGTH && v !== SECRET);
    if (secrets.length === 0) return;
    const needles = secrets.flatMap((v) => [v, Buffer.from(v).toString("base64")]);
    const parts: [string, unknown][] = [
        ["resources.json", plan.resources],
        ["outputs.json", redactOutputs(plan.outputs)],
        ["summary.json", [plan.warnings, plan.standIns]],
    ];
    for (const [file, value] of parts) {
        for (const text of stringsIn(value)) {
            const hit = needles.findIndex((n) => text.includes(n));
            if (hit < 0) continue;
            const where = plan.resources.find((r) => stringsIn(r.inputs).some((t) => t.includes(needles[hit])));
            throw new SecretLeakError(
                `offline plan: a value that is secret elsewhere in the program would be written in plain text to ${path.join(plan.stack, file)}` +
                    `${where ? ` (inputs of ${where.type} ${where.name})` : ""} (a ${secrets[Math.floor(hit / 2)].length}-character value${hit % 2 === 1 ? ", base64-encoded" : ""}; not shown): ` +
                    "keep it secret (pulumi.secret, or an Output derived from the secret) where it is passed on",
            );
        }
    }
}

/** Where in the plan a string that `hit` matches sits: a resource's input key, or an output, for the leak guard's message. */
function leakSite(plan: StackPlan, hit: (text: string) => boolean): string | undefined {
    const pathTo = (value: unknown, at: string): string | undefined => {
        if (typeof value === "string") return hit(value) ? at : undefined;
        if (value === null || typeof value !== "object") return undefined;
        for (const [k, v] of Object.entries(value)) {
            const found = hit(k) ? at : pathTo(v, Array.isArray(value) ? `${at}[${k}]` : at === "" ? k : `${at}.${k}`);
            if (found !== undefined) return found;
        }
        return undefined;
    };
    for (const r of plan.resources) {
        const at = pathTo(r.inputs, "");
        if (at !== undefined) return `input ${at === "" ? "(the inputs)" : at} of ${r.type} ${r.name}`;
    }
    for (const [name, o] of Object.entries(plan.outputs)) {
        if (!o.secret && pathTo(o.value, "") !== undefined) return `stack output ${name}`;
    }
    return undefined;
}

/**
 * The files of a stack's plan, by path under its folder ("resources.json",
 * "manifests/secret_ns_name.yaml"), checked for leaks: nothing is written when
 * one would carry key material, and the message names where it comes from.
 */
export function planFiles(plan: StackPlan): Map<string, string> {
    assertNoSecrets(plan);
    const files = new Map<string, string>();
    files.set("resources.json", JSON.stringify(plan.resources, null, 2) + "\n");
    files.set("outputs.json", JSON.stringify(redactOutputs(plan.outputs), null, 2) + "\n");
    files.set(
        "summary.json",
        JSON.stringify(
            { stack: plan.stack, resources: plan.resources.length, warnings: plan.warnings, standIns: plan.standIns },
            null,
            2,
        ) + "\n",
    );
    for (const r of plan.resources.filter(isKubernetesObject)) {
        const meta = (r.inputs.metadata ?? {}) as { name?: string; namespace?: string };
        const name = fileName(
            String(r.inputs.kind ?? r.type.split(":").pop()).toLowerCase(),
            meta.namespace,
            meta.name ?? r.name,
        );
        files.set(path.join("manifests", `${name}.yaml`), YAML.stringify(r.inputs));
    }
    for (const r of plan.resources.filter(isHelmRelease)) {
        files.set(path.join("helm", `${fileName(r.name)}.yaml`), YAML.stringify(r.inputs));
    }
    const leaks = (text: string) => LEAK_MARKERS.some((m) => text.includes(m)) || /BEGIN [A-Z ]*PRIVATE KEY/.test(text);
    for (const [rel, text] of files) {
        // The plan is meant to be shared: refuse to write anything that carries key material.
        if (leaks(text)) {
            const site = leakSite(plan, leaks);
            throw new SecretLeakError(
                `offline plan: secret material would be written to ${path.join(plan.stack, rel)}${site ? ` (${site})` : ""}; a value that should be secret is not: ` +
                    "keep it secret (pulumi.secret, or an Output derived from the secret) where it is passed on",
            );
        }
    }
    return files;
}

/** Writes a stack's plan files into outDir/<stack> (tests; `npm run plan` writes the whole lab through writeOutDir). */
export function writePlan(outDir: string, plan: StackPlan): void {
    const files = planFiles(plan);
    for (const [rel, text] of files) {
        const file = path.join(outDir, plan.stack, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
    }
}
