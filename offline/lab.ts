// Plans both stacks of the lab in the order a real first deployment runs
// them, chaining each stack's outputs into its peer's StackReference.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError, fullKey, inStackFile, LabConfig, labWideKeyProblems, parseLabConfig, PROJECT, requiredSecrets, SECRET_KEYS, SecretKey } from "../stacks/config";
import { identityOf, peerProblems } from "../stacks/peer";
import { mergedConfig, projectFileIn, readProjectConfig, readStackFileConfig } from "../stacks/stackfile";
import { Evaluation, evaluateStack, PlannedResource, SECRET, StackOutputs } from "./evaluate";
import { MOCK_PRIVATE_KEY, MOCK_TOKEN } from "./mocks";

export const STACKS = ["comp2", "comp3"] as const;

export interface StackPlan extends Evaluation {
    /** Secret keys that were not set and got a labelled stand-in. */
    readonly standIns: string[];
}

export interface LabPlan {
    readonly stacks: StackPlan[];
    /** The stacks in the order they were run: the first deployment's `pulumi up` sequence. */
    readonly runs: string[];
}

interface StackConfigFile {
    readonly stack: string;
    readonly config: Record<string, string>;
    readonly secretKeys: string[];
    readonly standIns: string[];
    readonly role: unknown;
    readonly versions: unknown;
    /** The plain values, keyed without namespace, as parseLabConfig takes them. */
    readonly raw: Record<string, unknown>;
}

/**
 * Text of the stand-in for an unset secret; it must never reach the plan files.
 * A kubeconfig stand-in is a well-formed kubeconfig (the program parses it) for a
 * server that cannot exist (.invalid, RFC 2606).
 */
export function standInFor(key: string): string {
    const label = `STAND-IN(${key}: unset secret, set with pulumi config set --secret)`;
    if (key !== `${PROJECT}:kubeconfig`) return label;
    return YAML.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "byo", cluster: { server: "https://byo-cluster.invalid:6443" } }],
        users: [{ name: "byo", user: { token: label } }],
        contexts: [{ name: "byo", context: { cluster: "byo", user: "byo" } }],
        "current-context": "byo",
    });
}

/**
 * Reads Pulumi.<stack>.yaml into the flat config map the engine would pass the
 * program: Pulumi.yaml's project config with the stack file's keys over it, as
 * Pulumi merges them. A lab-wide key in the stack file is refused (it could drift).
 */
export function readStackConfig(configDir: string, stack: string): StackConfigFile {
    const file = path.join(configDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) throw new ConfigError([`${file} does not exist: the plan needs both stack files`]);
    const own = readStackFileConfig(file);
    const drift = labWideKeyProblems(stack, Object.keys(own));
    if (drift.length > 0) throw new ConfigError(drift);
    const doc = { config: mergedConfig(readProjectConfig(projectFileIn(configDir)), own) };
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        const isSecure = value !== null && typeof value === "object" && "secure" in (value as object);
        const short = key.startsWith(`${PROJECT}:`) ? key.slice(PROJECT.length + 1) : undefined;
        if (short && (SECRET_KEYS as readonly string[]).includes(short) && !isSecure) {
            throw new ConfigError([`${key} is in plain text in ${file}: remove it and run \`pulumi config set --secret ${key}\``]);
        }
        if (isSecure) {
            // Encrypted with the stack's secrets provider, which the offline plan does not have.
            config[key] = standInFor(key);
            secretKeys.push(key);
            continue;
        }
        config[key] = typeof value === "string" ? value : JSON.stringify(value);
        if (short) raw[short] = value;
    }
    const standIns: string[] = [];
    for (const key of requiredSecrets(raw)) {
        const full = `${PROJECT}:${key}`;
        if (!(full in config) || secretKeys.includes(full)) {
            config[full] = standInFor(full);
            if (!secretKeys.includes(full)) secretKeys.push(full);
            standIns.push(full);
        }
    }
    const pki = raw.pki as { role?: unknown } | undefined;
    return { stack, config, secretKeys, standIns, role: pki?.role, versions: raw.versions, raw };
}

/**
 * Every rule between the two stack files, checked before either stack is
 * evaluated: what each stack checks against its peer's `identity` under the
 * real engine (where the first stack deployed cannot see the second yet), both
 * ways, plus that each names the other as its peer. Each problem names its file.
 */
export function labProblems(files: readonly Pick<StackConfigFile, "stack" | "raw" | "secretKeys">[]): string[] {
    const problems: string[] = [];
    const parsed: LabConfig[] = [];
    for (const file of files) {
        const secretsSet = new Set(file.secretKeys.map((k) => k.slice(PROJECT.length + 1)) as SecretKey[]);
        try {
            parsed.push(parseLabConfig(file.stack, file.raw, secretsSet));
        } catch (err) {
            if (!(err instanceof ConfigError)) throw err;
            // A problem of a lab-wide key (Pulumi.yaml) is the same for every stack: reported once.
            problems.push(...err.problems.filter((p) => !problems.includes(p)));
        }
    }
    if (problems.length > 0 || parsed.length !== 2) return problems;
    // Different pins are one mistake, named with both files (the versions check between peers would repeat it).
    const differing = versionDifferences(files.map((f) => ({ stack: f.stack, versions: f.raw.versions })));
    if (differing.length > 0) return differing;
    for (const [own, peer] of [parsed, [...parsed].reverse()]) {
        const named = own.peers[0].stack === peer.stack || own.peers[0].stack.endsWith(`/${peer.stack}`);
        const mine = named ? peerProblems(identityOf(own), identityOf(peer), own.peers[0].clusterName, peer.stack) : [];
        if (!named && own.peers[0].stack !== own.stack) {
            mine.push(`${fullKey("peer.stack")} = "${own.peers[0].stack}" but the lab's other stack is "${peer.stack}": set it to "${peer.stack}"`);
        }
        problems.push(...inStackFile(own.stack, mine));
    }
    return problems;
}

/** Both stack files of the lab, read and checked (each alone and against each other) before anything is evaluated. */
export function readLabConfig(configDir: string): StackConfigFile[] {
    const files = STACKS.map((s) => readStackConfig(configDir, s));
    const problems = labProblems(files);
    if (problems.length > 0) throw new ConfigError(problems);
    return files;
}

/**
 * The three runs of a first deployment (README, "Deploying to the lab"): the
 * peer-role stack (comp3 by default) first with no peer, which exports its
 * signing requests and remote secret; then the root stack, which signs both
 * clusters' requests and installs the peer's remote secret; then the peer again,
 * which assembles its CAs from its own keys and the signed certificates and
 * installs the root stack's remote secret. The same order serves the federated
 * model, where each stack signs for itself. Each stack's plan is its last evaluation.
 */
export async function planLab(configDir: string, program: () => Promise<Record<string, unknown>>): Promise<LabPlan> {
    const files = readLabConfig(configDir);
    const [second, first] = files[1].role === "root" && files[0].role !== "root" ? [files[1], files[0]] : files;
    const run = (file: StackConfigFile, peerOutputs?: StackOutputs) =>
        evaluateStack({ project: PROJECT, stack: file.stack, config: file.config, secretKeys: file.secretKeys, peerOutputs, program }).then(
            (e): StackPlan => ({ ...e, standIns: file.standIns }),
        );
    const firstAlone = await run(first);
    const secondPlan = await run(second, firstAlone.outputs);
    const firstPlan = await run(first, secondPlan.outputs);
    const byName = new Map([firstPlan, secondPlan].map((p) => [p.stack, p]));
    return { stacks: STACKS.map((s) => byName.get(s) as StackPlan), runs: [first.stack, second.stack, first.stack] };
}

/**
 * The lab runs one set of versions: both stack files must pin the same. (A real
 * `pulumi up` sees only its own file and its peer's last outputs, and lets the
 * root stack run one step ahead during an upgrade; see stacks/peer.ts.)
 */
export function versionDifferences(files: readonly Pick<StackConfigFile, "stack" | "versions">[]): string[] {
    const [a, b] = files.map((f) => ({ stack: f.stack, versions: (f.versions ?? {}) as Record<string, unknown> }));
    const keys = [...new Set([...Object.keys(a.versions), ...Object.keys(b.versions)])];
    return keys
        .filter((k) => JSON.stringify(a.versions[k]) !== JSON.stringify(b.versions[k]))
        .map(
            (k) =>
                `${PROJECT}:versions.${k} is ${JSON.stringify(a.versions[k])} in Pulumi.${a.stack}.yaml and ${JSON.stringify(b.versions[k])} in Pulumi.${b.stack}.yaml: ` +
                "the lab runs one set of versions; set the same in both stack files",
        );
}

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
    return r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh/") && r.type !== "pulumi:providers:kubernetes";
}

export function isHelmRelease(r: PlannedResource): boolean {
    return r.type.startsWith("kubernetes:helm.sh/");
}

/**
 * Text that only secret values carry: mock keys and tokens (also base64-encoded,
 * as a Secret's `data` holds them) and stand-ins for unset secret config.
 */
export const LEAK_MARKERS = [MOCK_PRIVATE_KEY, MOCK_TOKEN, Buffer.from(MOCK_TOKEN).toString("base64").slice(0, 12), "STAND-IN("];

/**
 * Secret values shorter than this are not searched for: a secret object also
 * holds short plain words (remoteSecret's clusterName "cluster1", say), which
 * occur all over the plan and would raise false alarms. Every generated secret
 * of the program (32-character passwords, keys, tokens, kubeconfigs) is longer.
 */
export const MIN_SECRET_LENGTH = 12;

/** Raised when a value that was secret would be written to the plan in plain text. */
export class SecretLeakError extends Error {}

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
                    `${where ? ` (inputs of ${where.type} ${where.name})` : ""} (a ${secrets[Math.floor(hit / 2)].length}-character value; not shown): ` +
                    "keep it secret (pulumi.secret, or an Output derived from the secret) where it is passed on",
            );
        }
    }
}

export function writePlan(outDir: string, plan: StackPlan): void {
    assertNoSecrets(plan);
    const dir = path.join(outDir, plan.stack);
    fs.mkdirSync(path.join(dir, "manifests"), { recursive: true });
    fs.mkdirSync(path.join(dir, "helm"), { recursive: true });
    const files = new Map<string, string>();
    files.set("resources.json", JSON.stringify(plan.resources, null, 2) + "\n");
    files.set("outputs.json", JSON.stringify(redactOutputs(plan.outputs), null, 2) + "\n");
    files.set("summary.json", JSON.stringify({ stack: plan.stack, resources: plan.resources.length, warnings: plan.warnings, standIns: plan.standIns }, null, 2) + "\n");
    for (const r of plan.resources.filter(isKubernetesObject)) {
        const meta = (r.inputs.metadata ?? {}) as { name?: string; namespace?: string };
        const name = fileName(String(r.inputs.kind ?? r.type.split(":").pop()).toLowerCase(), meta.namespace, meta.name ?? r.name);
        files.set(path.join("manifests", `${name}.yaml`), YAML.stringify(r.inputs));
    }
    for (const r of plan.resources.filter(isHelmRelease)) {
        files.set(path.join("helm", `${fileName(r.name)}.yaml`), YAML.stringify(r.inputs));
    }
    for (const [rel, text] of files) {
        // The plan is meant to be shared: refuse to write anything that carries key material.
        if (LEAK_MARKERS.some((m) => text.includes(m)) || /BEGIN [A-Z ]*PRIVATE KEY/.test(text)) {
            throw new SecretLeakError(`offline plan: secret material would be written to ${path.join(dir, rel)}; a value that should be secret is not`);
        }
        fs.writeFileSync(path.join(dir, rel), text);
    }
}

/** A readable tree of the stack's resources by parent. */
export function renderTree(plan: StackPlan): string {
    const children = new Map<string | null, PlannedResource[]>();
    for (const r of plan.resources) {
        const list = children.get(r.parent) ?? [];
        list.push(r);
        children.set(r.parent, list);
    }
    const lines = [`${plan.stack}: ${plan.resources.length} resources`];
    const walk = (parent: string | null, prefix: string) => {
        const list = children.get(parent) ?? [];
        list.forEach((r, i) => {
            const last = i === list.length - 1;
            const flags = r.protect ? " [protected]" : "";
            lines.push(`${prefix}${last ? "└─ " : "├─ "}${r.type}  ${r.name}${flags}`);
            walk(r.urn, prefix + (last ? "   " : "│  "));
        });
    };
    walk(null, "");
    return lines.join("\n");
}
