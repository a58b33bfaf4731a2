// The TypeScript half of test/engine/day2-roster.sh (a cluster leaves the running lab and
// joins it again): what a `pulumi up` changed, and that nothing of a cluster that left is
// in the others' state or clusters. Checks print "PASS: ..." or "FAIL: ...", which run.sh counts.
import * as k8s from "@kubernetes/client-node";
import * as fs from "fs";
import * as path from "path";
import { PlannedResource } from "../../offline/engine/record";
import { isKubernetesObject } from "../../offline/planner/files";
import { Flags, one, readFlags } from "./flags";
import { readRawConfig } from "../../stacks/config/load";
import { MULTICLUSTER_LABEL, CLUSTER_ANNOTATION } from "../../components/remotesecret";

function flagsOf(argv: string[]): Flags {
    return readFlags(argv, ["log", "config-dir", "gone", "state", "kubeconfig", "plan"]);
}

/** `--name stack=file` pairs, by stack. */
function pairs(flags: Flags, name: string): Map<string, string> {
    return new Map((flags[name] ?? []).map((p) => p.split("=", 2) as [string, string]));
}

/** The steps of a replacement (`pulumi up --json` says each op): create-before-delete or delete-before-create. */
const REPLACING = new Set(["replace", "create-replacement", "delete-replaced"]);

/**
 * `changes`: what one `pulumi up --json` did, from its engine events: one line,
 * "created 2, updated 3, deleted 1, replaced 0", and the name of every resource replaced.
 */
function changes(flags: Flags): void {
    const counts: Record<string, number> = {};
    const replaced = new Set<string>();
    for (const line of fs.readFileSync(one(flags, "log"), "utf8").split("\n")) {
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line) as {
            summaryEvent?: { resourceChanges?: Record<string, number> };
            resourcePreEvent?: { metadata: { op: string; urn: string } };
        };
        if (event.summaryEvent) Object.assign(counts, event.summaryEvent.resourceChanges ?? {});
        const step = event.resourcePreEvent?.metadata;
        if (step && REPLACING.has(step.op)) replaced.add(step.urn.split("::").pop() as string);
    }
    const n = (op: string) => counts[op] ?? 0;
    console.log(
        `created ${n("create")}, updated ${n("update")}, deleted ${n("delete")}, replaced ${replaced.size}` +
            (replaced.size > 0 ? ` (${[...replaced].sort().join(", ")})` : ""),
    );
}

/** `errors`: the errors of a failed `pulumi up --json` (its error diagnostics, and what it said outside the events). */
function errors(flags: Flags): void {
    for (const line of fs.readFileSync(one(flags, "log"), "utf8").split("\n")) {
        if (!line.startsWith("{")) {
            if (/error/i.test(line)) console.log(`    ${line}`);
            continue;
        }
        const diagnostic = (JSON.parse(line) as { diagnosticEvent?: { severity: string; message: string } })
            .diagnosticEvent;
        if (diagnostic?.severity === "error")
            console.log(`    ${diagnostic.message.trim().split("\n").join("\n    ")}`);
    }
}

/** Whether `text` names `token` as a whole word or address (not "cluster3" in "cluster33", not 10.5.0.5 in 10.5.0.50). */
function names(text: string, token: string): boolean {
    const escaped = token.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    return new RegExp(`(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9]|\\.[0-9])`).test(text);
}

/** What names a stack of the lab in the others: its stack and cluster name, its network, its machines' and pool's addresses, its ranges. */
function tokensOf(configDir: string, stack: string): string[] {
    const raw = readRawConfig(configDir, stack).raw as Record<string, any>;
    return [
        stack,
        raw.cluster?.name,
        raw.cluster?.network,
        raw.cluster?.podCidr,
        raw.cluster?.serviceCidr,
        raw.host?.address,
        raw.host?.serviceAddress,
        raw.metallb?.ingressAddress,
        raw.metallb?.eastWestAddress,
        raw.metallb?.federationAddress,
        ...(raw.metallb?.addresses ?? []),
    ].filter((t): t is string => typeof t === "string" && t !== "");
}

/** A value with every secret of a state export left out (its ciphertext is random text). */
function withoutSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(withoutSecrets);
    if (value === null || typeof value !== "object") return value;
    if ("ciphertext" in value) return "[secret]";
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutSecrets(v)]));
}

const results: string[] = [];
function check(ok: boolean, what: string, detail: string): void {
    results.push(`${ok ? "PASS" : "FAIL"}: ${what}${ok ? "" : `: ${detail}`}`);
}

/**
 * `check-left`: after a stack left the lab (--gone, its files in --config-dir), nothing of
 * it is in the others: no resource of their state (--state stack=file) names it, their
 * clusters (--kubeconfig stack=file) hold no remote secret for its cluster, and none of
 * their planned objects (--plan, the lab without it) names it as it is now.
 */
async function checkLeft(flags: Flags): Promise<void> {
    const gone = one(flags, "gone");
    const tokens = tokensOf(one(flags, "config-dir"), gone);
    const cluster = tokens[1];
    const states = pairs(flags, "state");
    for (const [stack, kubeconfig] of pairs(flags, "kubeconfig")) {
        const state = JSON.parse(fs.readFileSync(states.get(stack) as string, "utf8")) as {
            deployment: { resources?: { urn: string }[] };
        };
        // Not its StackReferences: each holds a peer's outputs as they were at this stack's last run
        // (comp3, run before comp2, keeps comp2's outputs of before); the peer's own state is checked.
        const own = (state.deployment.resources ?? []).filter(
            (r) => !r.urn.includes("::pulumi:pulumi:StackReference::"),
        );
        const naming = own.flatMap((r) => {
            const text = JSON.stringify(withoutSecrets(r));
            const found = tokens.filter((t) => names(text, t));
            return found.length > 0 ? [`${r.urn.split("::").pop()} (${found.join(", ")})`] : [];
        });
        check(
            naming.length === 0,
            `${stack}: none of the ${own.length} resources of its state (its StackReferences aside) names the stack that left, ${gone}, its cluster or its addresses (${tokens.join(", ")})`,
            naming.join("; "),
        );

        const kc = new k8s.KubeConfig();
        kc.loadFromFile(kubeconfig);
        const secrets = (
            await kc
                .makeApiClient(k8s.CoreV1Api)
                .listNamespacedSecret(
                    "istio-system",
                    undefined,
                    undefined,
                    undefined,
                    undefined,
                    `${MULTICLUSTER_LABEL}=true`,
                )
        ).body.items;
        const forGone = secrets.filter(
            (s) =>
                s.metadata?.annotations?.[CLUSTER_ANNOTATION] === cluster ||
                Object.keys(s.data ?? {}).includes(cluster) ||
                names(s.metadata?.name ?? "", cluster),
        );
        check(
            forGone.length === 0,
            `${stack}: its cluster holds no remote secret for ${cluster} (${secrets.length} left: ${secrets.map((s) => s.metadata?.name).join(", ")})`,
            forGone.map((s) => s.metadata?.name).join(", "),
        );

        const planned = (
            JSON.parse(
                fs.readFileSync(path.join(one(flags, "plan"), stack, "resources.json"), "utf8"),
            ) as PlannedResource[]
        ).filter(isKubernetesObject);
        const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
        const live: string[] = [];
        for (const r of planned) {
            const meta = r.inputs.metadata as { name: string; namespace?: string };
            const spec = { apiVersion: r.inputs.apiVersion as string, kind: r.inputs.kind as string, metadata: meta };
            // One that is missing names nothing (check-lab says whether every planned object exists).
            const object = await objects.read(spec).then(
                (res) => res.body,
                () => undefined,
            );
            const text = JSON.stringify(object ?? {});
            const found = tokens.filter((t) => names(text, t));
            if (found.length > 0) live.push(`${r.inputs.kind} ${meta.name} (${found.join(", ")})`);
        }
        check(
            live.length === 0,
            `${stack}: none of its ${planned.length} Kubernetes objects in the cluster names ${gone}, ${cluster} or their addresses`,
            live.join("; "),
        );
    }
    console.log(results.join("\n"));
}

const commands: Record<string, (flags: Flags) => void | Promise<void>> = { changes, errors, "check-left": checkLeft };

async function run(): Promise<void> {
    const [command, ...rest] = process.argv.slice(2);
    const fn = commands[command];
    if (!fn) throw new Error(`usage: roster-tool.ts <${Object.keys(commands).join("|")}> [--flag value ...]`);
    await fn(flagsOf(rest));
}

run().catch((err: unknown) => {
    console.log(`FAIL: roster-tool ${process.argv[2]}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
});
