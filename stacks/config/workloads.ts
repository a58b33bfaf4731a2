// The rules between the lab's own workloads (`workloads`, lab-wide; their keys are in
// workload-fields.ts) and the rest of the configuration: the lab's clusters, the
// registry, the egress opt-in. What the program makes of them: stacks/layers/workloads.ts;
// how to add one: docs/zero-trust.md, "Adding your workload".
import { PROGRAM_NAMESPACES, runsIn, workloadRef } from "../../model/lab";
import { SIDECAR_PORTS } from "../../model/workloads";
import { LabConfig, labAddressesOf } from "./lab-config";
import { stackFileOf } from "./messages";
import { fullKey } from "./namespace";
import { parseEgress } from "./workload-fields";
import { broadEgressReason, checkWorkloadImage } from "./values";

/** The namespaces of `workloads` the program refuses: its own, and Kubernetes' `kube-*`. */
function programNamespace(namespace: string): boolean {
    return (PROGRAM_NAMESPACES as readonly string[]).includes(namespace) || namespace.startsWith("kube-");
}

/** `<namespace>/<name>` of a workload, as `callers` name it. */
/**
 * The rules of `workloads` (lab-wide: every problem is the same in every stack, so the
 * plan reports it once): the clusters named are the lab's, each workload is named once
 * and not in the program's namespaces, its image is pinned and allowed, its port is not
 * the sidecar's, its callers are other workloads, `callers` and `ingress` come with a
 * `port`, no two routes share a path, and broad egress has its opt-in.
 */
export function workloadProblems(cfg: LabConfig): string[] {
    const problems: string[] = [];
    const at = (i: number, k?: string) => fullKey(`workloads[${i}]${k ? `.${k}` : ""}`);
    const clusters = [cfg.cluster.name, ...cfg.peers.map((p) => p.clusterName)].sort();
    const refs = cfg.workloads.map(workloadRef);
    const labRegistry = `${cfg.registry.host}:${cfg.registry.port}`;
    const paths = new Map<string, number>();
    cfg.workloads.forEach((w, i) => {
        const ref = workloadRef(w);
        const first = refs.indexOf(ref);
        if (first < i)
            problems.push(
                `${at(i)} "${ref}" is already ${at(first)}: name each workload once (an entry without \`cluster\` runs in every cluster)`,
            );
        if (programNamespace(w.namespace))
            problems.push(
                `${at(i, "namespace")} = "${w.namespace}" is a namespace the program runs its own pods in (${PROGRAM_NAMESPACES.join(", ")}, kube-*): give the workload a namespace of its own`,
            );
        if (w.cluster !== undefined && !clusters.includes(w.cluster))
            problems.push(
                `${at(i, "cluster")} = "${w.cluster}" is not a cluster of the lab (its clusters: ${clusters.map((c) => `"${c}"`).join(", ")}): name one of them, or leave cluster out to run the workload in every cluster`,
            );
        const image = checkWorkloadImage(w.image, labRegistry);
        if (image) problems.push(`${at(i, "image")} = ${JSON.stringify(w.image)}: ${image}`);
        if (w.port !== undefined && (SIDECAR_PORTS as readonly number[]).includes(w.port))
            problems.push(
                `${at(i, "port")} = ${w.port} is a port the Istio sidecar takes in every meshed pod (${SIDECAR_PORTS.join(", ")}): serve the workload on another port`,
            );
        for (const [k, set] of [
            ["callers", w.callers.length > 0],
            ["ingress", w.ingress !== undefined],
        ] as const) {
            if (set && w.port === undefined)
                problems.push(
                    `${at(i, k)} is set but ${at(i, "port")} is not: a workload is called on the port it serves; give its port, or remove ${k}`,
                );
        }
        w.callers.forEach((caller, j) => {
            if (caller === ref)
                problems.push(
                    `${at(i, `callers[${j}]`)} = "${caller}" is the workload itself: list the other workloads that call it`,
                );
            else if (!refs.includes(caller))
                problems.push(
                    `${at(i, `callers[${j}]`)} = "${caller}" is not a workload of ${fullKey("workloads")} (its workloads: ${refs.map((r) => `"${r}"`).join(", ")}): add the caller there, or name one of them`,
                );
        });
        if (w.ingress) {
            const other = paths.get(w.ingress.pathPrefix);
            if (other !== undefined)
                problems.push(
                    `${at(i, "ingress.pathPrefix")} = "${w.ingress.pathPrefix}" is already ${at(other, "ingress.pathPrefix")}: each route at the ingress needs a path of its own`,
                );
            else paths.set(w.ingress.pathPrefix, i);
        }
        // Its egress is declared in the clusters it runs in, each under its own stack's opt-in.
        if (!cfg.networkPolicy.allowBroadEgress && runsIn(w, cfg.cluster.name)) {
            w.egress.forEach((entry, j) => {
                const reason = broadEgressReason((parseEgress(entry) as { cidr: string }).cidr, labAddressesOf(cfg));
                if (reason)
                    problems.push(
                        `${at(i, `egress[${j}]`)} = "${entry}": ${reason}; list the outside endpoints the workload needs (a /17 or narrower, no lab machine), ` +
                            `or set ${fullKey("networkPolicy.allowBroadEgress")}: true in ${stackFileOf(cfg.stack)} to accept that (warned at every preview)`,
                    );
            });
        }
    });
    return problems;
}
