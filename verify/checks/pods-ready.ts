import {
    ISTIO_NAMESPACE,
    METALLB_NAMESPACE,
    runsIn,
    SAMPLE_NAMESPACE,
    SPIRE_SERVER_NAMESPACE,
    SPIRE_SYSTEM_NAMESPACE,
} from "../../model/lab";
import { Check, failIf } from "../check";
import { PodInfo } from "../cluster";

/** The namespaces whose pods must all be Ready. */
export const PLATFORM_NAMESPACES = [
    "kube-system",
    METALLB_NAMESPACE,
    ISTIO_NAMESPACE,
    SPIRE_SERVER_NAMESPACE,
    SPIRE_SYSTEM_NAMESPACE,
    SAMPLE_NAMESPACE,
];

/** Pods that are not Ready in a namespace (finished Job pods are ignored); an empty namespace is a problem too. */
export function podProblems(namespace: string, pods: PodInfo[]): string[] {
    const live = pods.filter((p) => p.phase !== "Succeeded");
    if (live.length === 0) return [`${namespace}: no pods`];
    return live
        .filter((p) => !p.ready)
        .map(
            (p) =>
                `${namespace}/${p.name} not Ready (phase ${p.phase}${p.notReadyContainers.length ? `, containers ${p.notReadyContainers.join(", ")}` : ""})`,
        );
}

export const podsReady: Check = {
    id: "pods-ready",
    title: "every pod Ready",
    proves: `every pod in ${PLATFORM_NAMESPACES.join(", ")} and in the namespaces of the zta-testbed:workloads that run in this cluster is Ready (finished Job pods aside): the platform, the samples and the lab's workloads are up`,
    async run({ cluster, target }) {
        const problems: string[] = [];
        let count = 0;
        const own = target.workloads.filter((w) => runsIn(w, target.clusterName)).map((w) => w.namespace);
        const namespaces = [...new Set([...PLATFORM_NAMESPACES, ...own])];
        for (const ns of namespaces) {
            const pods = await cluster.listPods(ns);
            count += pods.length;
            problems.push(...podProblems(ns, pods));
        }
        failIf(problems);
        return `${count} pods Ready in ${namespaces.length} namespaces`;
    },
};
