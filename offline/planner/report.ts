// What `npm run plan` prints of each stack: a line on its cluster, and its resources as a tree.
import { CLUSTER_ANNOTATION, MULTICLUSTER_LABEL } from "../../components/remotesecret";
import { ClusterIdentity } from "../../model/lab";
import type { PlannedResource } from "../engine/record";
import type { StackPlan } from "./lab";

/** One line on a stack's cluster: its name, id and network, and the clusters whose remote secrets it installs. */
export function clusterSummary(plan: StackPlan): string {
    const identity = plan.outputs.identity?.value as ClusterIdentity | undefined;
    const remotes = plan.resources
        .filter((r) => r.type === "kubernetes:core/v1:Secret")
        .map((r) => r.inputs.metadata as { labels?: Record<string, string>; annotations?: Record<string, string> })
        .filter((m) => m.labels?.[MULTICLUSTER_LABEL] === "true")
        .map((m) => m.annotations?.[CLUSTER_ANNOTATION]);
    const cluster = identity
        ? `${identity.clusterName} (cluster id ${identity.clusterId}, ${identity.network})`
        : "no identity output";
    return `${plan.stack}: ${cluster}; remote secrets for ${remotes.length > 0 ? remotes.join(", ") : "no peer cluster"}`;
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
