// Plans every stack of the lab in the order a real first deployment runs
// them, chaining each stack's outputs into its peers' StackReferences, until
// no run changes anything.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError, inStackFile, RawOrigin, stackFileOf, stackNameOf } from "../../stacks/config/messages";
import { fullKey, ownKey, PROJECT, PROJECT_FILE } from "../../stacks/config/namespace";
import { PeerRef, SecretKey } from "../../stacks/config/schema";
import { peersOf } from "../../stacks/config/roster";
import { labAddressesOf, LabConfig } from "../../stacks/config/lab-config";
import { parseLabConfig, requiredSecrets } from "../../stacks/config/parse";
import { broadEgressReason, checkStackName } from "../../stacks/config/values";
import { identityOf } from "../../stacks/peer";
import { peerProblems } from "../../stacks/peer-checks";
import { evaluateStack, Evaluation } from "../engine/evaluate";
import { isSecure, readRawConfig } from "../../stacks/config/load";
import { projectFileIn, readProjectConfig } from "../../stacks/config/files";

export interface StackPlan extends Evaluation {
    /** Secret keys that were not set and got a labelled stand-in. */
    readonly standIns: string[];
}

/** One evaluation of a stack during the plan: a `pulumi up` of the first deployment, or a check that one more would change nothing. */
export interface LabRun {
    readonly stack: string;
    /** Whether this run changed the stack's resources or outputs from its previous run (its first run always does). */
    readonly changed: boolean;
}

export interface LabPlan {
    /** Each stack's plan (its last evaluation, with every peer's final outputs), in the lab's order. */
    readonly stacks: StackPlan[];
    /**
     * The first deployment's `pulumi up` sequence: the runs that changed something,
     * in order (comp3, comp2, comp3 for the two-cluster lab). Its length is the run count.
     */
    readonly runs: string[];
    /** Every evaluation the plan made, in order: the runs, and the last ones that found nothing to change (the fixpoint). */
    readonly evaluations: LabRun[];
}

/** Options of planLab. */
export interface PlanOptions {
    /** The stacks of the lab, from the config dir; default: every Pulumi.<stack>.yaml there. */
    readonly stacks?: readonly string[];
    /** The bound: at most this many passes of the deployment order; default: the number of stacks + 2. */
    readonly maxRounds?: number;
}

/** The stacks whose files are in `configDir`: every Pulumi.<stack>.yaml, sorted by name. */
export function stacksIn(configDir: string): string[] {
    return fs
        .readdirSync(configDir)
        .filter((f) => f !== PROJECT_FILE && /^Pulumi\..+\.yaml$/.test(f))
        .map((f) => f.slice("Pulumi.".length, -".yaml".length))
        .sort();
}

/**
 * The stacks of the lab in `configDir`: its stack files whose stack is on the roster. Every stack
 * file when the roster cannot be read; reading the lab then says what is wrong with it.
 */
export function labStacksIn(configDir: string): string[] {
    const all = stacksIn(configDir);
    let roster: unknown;
    try {
        roster = readProjectConfig(projectFileIn(configDir))[fullKey("roster")];
    } catch {
        return all;
    }
    if (!Array.isArray(roster)) return all;
    const named = roster.map((e) => stackNameOf(String((e as { stack?: unknown } | null)?.stack)));
    return all.filter((s) => named.includes(s));
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
    /** Which file each key came from, and numbers as written: for the messages. */
    readonly origin: RawOrigin;
}

/**
 * Stack names become folders of the plan (and file names here): each must be a Pulumi stack
 * name that stays one path segment, checked before it is joined to any path. `from` says
 * where the names came from: "--stacks", or the config dir (file names).
 */
export function stackNameProblems(stacks: readonly string[], from: string): string[] {
    return stacks.flatMap((s) => {
        const problem = checkStackName(s);
        return problem
            ? [
                  `${from === "--stacks" ? "--stacks" : path.join(from, `Pulumi.${s}.yaml`)}: stack name ${JSON.stringify(s)}: ${problem}`,
              ]
            : [];
    });
}

/**
 * Text of the stand-in for an unset secret; it must never reach the plan files.
 * A kubeconfig stand-in is a well-formed kubeconfig (the program parses it) for a
 * server that cannot exist (.invalid, RFC 2606).
 */
export function standInFor(key: string): string {
    const label = `STAND-IN(${key}: unset secret, set with pulumi config set --secret)`;
    if (key !== fullKey("kubeconfig")) return label;
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
    const badName = stackNameProblems([stack], configDir);
    if (badName.length > 0) throw new ConfigError(badName);
    const file = path.join(configDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file))
        throw new ConfigError([
            `${file} does not exist: give the stacks whose Pulumi.<stack>.yaml is in ${configDir} (--stacks), or write that file`,
        ]);
    const { merged, raw, origin } = readRawConfig(configDir, stack);
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(merged)) {
        if (isSecure(value)) {
            // Encrypted with the stack's secrets provider, which the offline plan does not have.
            config[key] = standInFor(key);
            secretKeys.push(key);
            continue;
        }
        config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    const standIns: string[] = [];
    for (const key of requiredSecrets(raw)) {
        const full = fullKey(key);
        if (!(full in config) || secretKeys.includes(full)) {
            config[full] = standInFor(full);
            if (!secretKeys.includes(full)) secretKeys.push(full);
            standIns.push(full);
        }
    }
    const pki = raw.pki as { role?: unknown } | undefined;
    return { stack, config, secretKeys, standIns, role: pki?.role, versions: raw.versions, raw, origin };
}

/**
 * Every rule between the stack files of the lab, checked before any stack is
 * evaluated: what each stack checks against each peer's `identity` under the
 * real engine (where a stack deployed first cannot see the others yet), from
 * every side, plus that every stack of the roster has a stack file and that
 * one stack owns the root. Each problem names its file. `elsewhere`: stacks
 * whose files are in the config dir but left out of the plan (--stacks), which a
 * roster may name (they are then not deployed).
 */
export function labProblems(
    files: readonly (Pick<StackConfigFile, "stack" | "raw" | "secretKeys"> &
        Partial<Pick<StackConfigFile, "origin">>)[],
    elsewhere: readonly string[] = [],
): string[] {
    const problems: string[] = [];
    const parsed: LabConfig[] = [];
    for (const file of files) {
        const secretsSet = new Set(file.secretKeys.map(ownKey) as SecretKey[]);
        try {
            parsed.push(parseLabConfig(file.stack, file.raw, secretsSet, file.origin));
        } catch (err) {
            if (!(err instanceof ConfigError)) throw err;
            // A problem of a lab-wide key (Pulumi.yaml) is the same for every stack: reported once.
            problems.push(...err.problems.filter((p) => !problems.includes(p)));
        }
    }
    if (problems.length > 0 || parsed.length !== files.length) return problems;
    const lab = parsed.map((c) => c.stack);
    // One Pulumi.yaml, one roster for every stack of the dir: each entry must be a stack file of it.
    (files[0].raw.roster as PeerRef[]).forEach((entry, i) => {
        const name = stackNameOf(entry.stack);
        if (!lab.includes(name) && !elsewhere.includes(name))
            problems.push(
                `${PROJECT_FILE}: ${fullKey(`roster[${i}].stack`)} = "${entry.stack}" has no stack file here (the lab's: ${lab.map((s) => `Pulumi.${s}.yaml`).join(", ")}): ` +
                    `add Pulumi.${name}.yaml, or remove the entry`,
            );
    });
    for (const own of parsed) {
        const mine: string[] = [];
        for (const entry of own.peers) {
            const peer = parsed.find((c) => c.stack === stackNameOf(entry.stack));
            if (peer) mine.push(...peerProblems(identityOf(own), identityOf(peer), entry.clusterName, peer.stack));
        }
        // Egress to another stack's machine is as broad as egress to this one's (parseLabConfig checked its own).
        if (!own.networkPolicy.allowBroadEgress) {
            for (const other of parsed.filter((c) => c !== own)) {
                const machines = Object.fromEntries(
                    Object.entries(labAddressesOf(other)).map(([k, ip]) => [`${k} of stack "${other.stack}"`, ip]),
                );
                own.networkPolicy.egressCidrs.forEach((cidr, i) => {
                    const reason = broadEgressReason(cidr, machines);
                    if (reason)
                        mine.push(
                            `${fullKey(`networkPolicy.egressCidrs[${i}]`)} = "${cidr}": ${reason}: set ${fullKey("networkPolicy.allowBroadEgress")}: true to accept that (warned at every preview), or leave it out`,
                        );
                });
            }
        }
        problems.push(...inStackFile(own.stack, [...new Set(mine)]));
    }
    if (!parsed.some((c) => c.pki.role === "root")) {
        problems.push(
            `${fullKey("pki.role")} is "peer" in every stack file (${lab.map((s) => `Pulumi.${s}.yaml`).join(", ")}): ` +
                'then no stack issues the lab PKI and no run can converge; set pki.role to "root" in one of them',
        );
    }
    return problems;
}

/** The lab's stack files, read and checked (each alone and against each other) before anything is evaluated. */
export function readLabConfig(configDir: string, stacks: readonly string[] = stacksIn(configDir)): StackConfigFile[] {
    if (stacks.length === 0)
        throw new ConfigError([
            `${configDir} holds no stack file (Pulumi.<stack>.yaml): give the directory of the lab's stack files`,
        ]);
    const badNames = stackNameProblems(stacks, configDir);
    if (badNames.length > 0) throw new ConfigError(badNames);
    const files = stacks.map((s) => readStackConfig(configDir, s));
    // A stack file of a stack that is not on the roster: said here with the plan's ways out.
    const lab = labStacksIn(configDir);
    const off = files.filter((f) => !lab.includes(f.stack));
    if (off.length > 0)
        throw new ConfigError(
            off.map(
                (f) =>
                    `${PROJECT_FILE}: ${fullKey("roster")} has no entry for stack "${f.stack}", whose ${stackFileOf(f.stack)} is in ${configDir}: ` +
                    `add \`- {stack: ${f.stack}, clusterName: ${String((f.raw.cluster as { name?: unknown } | undefined)?.name)}}\` to it; ` +
                    `a stack that has left the lab is not planned: plan the others (--stacks ${stacks.filter((s) => lab.includes(s)).join(",")}), ` +
                    `or remove its file (\`pulumi stack rm ${f.stack}\` does, after its destroy)`,
            ),
        );
    const elsewhere = stacksIn(configDir).filter((s) => !stacks.includes(s));
    const problems = labProblems(files, elsewhere);
    if (problems.length > 0) throw new ConfigError(problems);
    return files;
}

/**
 * The order of a first deployment (README, "Deploying to the lab"; docs/design.md, "The run order"): the
 * peer-role stacks first, in the lab's order, each exporting its signing
 * requests and remote secret; the root stack last, which then signs every
 * cluster's requests and installs every remote secret. The same order serves
 * the federated model, where each stack signs for itself.
 */
export function deploymentOrder(files: readonly Pick<StackConfigFile, "stack" | "role">[]): string[] {
    return [...files.filter((f) => f.role !== "root"), ...files.filter((f) => f.role === "root")].map((f) => f.stack);
}

/** Raised when the runs do not reach a fixpoint within the bound. */
export class NotConvergedError extends Error {}

/** JSON with object keys sorted: equal values give equal text whatever order their keys were set in. */
function stableJson(value: unknown): string {
    return JSON.stringify(value, (_k, v: unknown) =>
        v !== null && typeof v === "object" && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
            : v,
    );
}

/**
 * Plans the lab: runs the deployment order over and over, each run with the
 * last outputs of the stacks deployed so far, until a fixpoint: a stack runs
 * again only when the outputs of a stack of its roster changed since its last
 * run, and the plan ends when none has to. A run that changes neither the
 * stack's resources nor its outputs is the check that the lab converged (what
 * `pulumi preview --expect-no-changes` would show), not a run of the deployment.
 * Bounded: a stack still due after `maxRounds` passes is an error naming the
 * stacks whose outputs still changed. Each stack's plan is its last evaluation.
 */
export async function planLab(
    configDir: string,
    program: () => Promise<object>,
    options: PlanOptions = {},
): Promise<LabPlan> {
    const files = readLabConfig(configDir, options.stacks);
    const order = deploymentOrder(files);
    const maxRounds = options.maxRounds ?? files.length + 2;
    const byStack = new Map(files.map((f) => [f.stack, f]));
    const rosterOf = new Map(files.map((f) => [f.stack, parseRoster(f)]));
    const last = new Map<string, StackPlan>();
    /** What each stack's last run read of its roster's outputs. */
    const readAtLastRun = new Map<string, string>();
    const runs: string[] = [];
    const evaluations: LabRun[] = [];
    const deployed = () => Object.fromEntries([...last].map(([stack, plan]) => [stack, plan.outputs]));
    const rosterOutputs = (stack: string) =>
        stableJson((rosterOf.get(stack) ?? []).map((s) => last.get(s)?.outputs ?? null));
    let changedOutputs = new Map<string, string[]>();
    for (let round = 1; ; round++) {
        const due = order.filter((s) => !last.has(s) || readAtLastRun.get(s) !== rosterOutputs(s));
        if (due.length === 0) break;
        if (round > maxRounds) {
            const still = [...changedOutputs].map(([stack, keys]) => `"${stack}" (${keys.join(", ")})`);
            throw new NotConvergedError(
                `the offline plan did not converge in ${maxRounds} passes of the deployment order ${order.join(", ")}: ` +
                    `the outputs of ${still.join(", ")} still changed in the last pass, so ${due.map((s) => `"${s}"`).join(", ")} would have to run again; ` +
                    "a stack's outputs must depend only on its stack file and its peers' outputs",
            );
        }
        changedOutputs = new Map();
        for (const stack of order) {
            const seen = rosterOutputs(stack);
            if (last.has(stack) && readAtLastRun.get(stack) === seen) continue;
            const file = byStack.get(stack) as StackConfigFile;
            const e = await evaluateStack({
                project: PROJECT,
                stack,
                config: file.config,
                secretKeys: file.secretKeys,
                deployed: deployed(),
                program,
            });
            const plan: StackPlan = { ...e, standIns: file.standIns };
            const before = last.get(stack);
            const outputsChanged = Object.keys({ ...before?.outputs, ...plan.outputs }).filter(
                (k) => stableJson(before?.outputs[k]) !== stableJson(plan.outputs[k]),
            );
            const changed =
                !before || outputsChanged.length > 0 || stableJson(before.resources) !== stableJson(plan.resources);
            if (outputsChanged.length > 0) changedOutputs.set(stack, outputsChanged.sort());
            evaluations.push({ stack, changed });
            if (changed) runs.push(stack);
            last.set(stack, plan);
            readAtLastRun.set(stack, seen);
        }
    }
    return { stacks: files.map((f) => last.get(f.stack) as StackPlan), runs, evaluations };
}

/** The other stacks of the lab a stack reads (by stack name): the roster without it. */
function parseRoster(file: Pick<StackConfigFile, "stack" | "raw">): string[] {
    return peersOf(file.stack, (file.raw.roster ?? []) as PeerRef[]).map((e) => stackNameOf(e.stack));
}
