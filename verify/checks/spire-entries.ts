import {
    EAST_WEST_GATEWAY,
    INGRESS_GATEWAY,
    ISTIO_NAMESPACE,
    runsIn,
    SAMPLE_NAMESPACE,
    SPIRE_MANAGED_LABEL,
    SPIRE_SERVER_NAMESPACE,
    workloadSpiffeId,
} from "../../model/lab";
import { labelSelector, SPIRE_SERVER } from "../../model/workloads";
import { Check, CheckFailed, failIf, readyPod, run } from "../check";
import { PodInfo } from "../cluster";
import { spireEntryIds } from "../parse";

export function missingEntries(expected: string[], entries: string[]): string[] {
    const have = new Set(entries);
    return [...new Set(expected)].filter((id) => !have.has(id)).map((id) => `no SPIRE registration entry for ${id}`);
}

export const spireEntries: Check = {
    id: "spire-entries",
    title: "SPIRE registers the gateways, the samples and the configured workloads",
    proves: `the SPIRE server has a registration entry (by SPIFFE ID, ${workloadSpiffeId("<trust domain>", "<ns>", "<sa>")}) for the pods of both gateways, for every ${SAMPLE_NAMESPACE} pod labelled ${SPIRE_MANAGED_LABEL}=true, and for the pods of every zta-testbed:workloads entry that runs in this cluster`,
    async run({ cluster, target }) {
        const pods: PodInfo[] = [];
        for (const name of [INGRESS_GATEWAY, EAST_WEST_GATEWAY]) {
            const svc = await cluster.getService(ISTIO_NAMESPACE, name);
            if (svc === undefined || Object.keys(svc.selector).length === 0)
                throw new CheckFailed([`Service ${ISTIO_NAMESPACE}/${name} not found or without a selector`]);
            const selector = Object.entries(svc.selector)
                .map(([k, v]) => `${k}=${v}`)
                .join(",");
            const gw = await cluster.listPods(ISTIO_NAMESPACE, selector);
            if (gw.length === 0) throw new CheckFailed([`no pods behind ${name}`]);
            pods.push(...gw);
        }
        const managed = await cluster.listPods(SAMPLE_NAMESPACE, `${SPIRE_MANAGED_LABEL}=true`);
        if (managed.length === 0)
            throw new CheckFailed([`no pod in ${SAMPLE_NAMESPACE} is labelled ${SPIRE_MANAGED_LABEL}=true`]);
        pods.push(...managed);
        for (const w of target.workloads.filter((w) => runsIn(w, target.clusterName))) {
            const own = await cluster.listPods(w.namespace, `app=${w.name},${SPIRE_MANAGED_LABEL}=true`);
            if (own.length === 0)
                throw new CheckFailed([
                    `no pod of the workload ${w.namespace}/${w.name} is labelled ${SPIRE_MANAGED_LABEL}=true`,
                ]);
            pods.push(...own);
        }
        const expected = pods.map((p) => workloadSpiffeId(target.trustDomain, p.namespace, p.serviceAccount));

        const server = await readyPod(
            cluster,
            SPIRE_SERVER_NAMESPACE,
            labelSelector(SPIRE_SERVER.labels),
            SPIRE_SERVER.container,
        );
        const out = await run(cluster, server, SPIRE_SERVER.container, [
            "/opt/spire/bin/spire-server",
            "entry",
            "show",
            "-output",
            "json",
        ]);
        const entries = spireEntryIds(out);
        failIf(missingEntries(expected, entries));
        return `${new Set(expected).size} SPIFFE IDs registered (${entries.length} entries): ${[...new Set(expected)].join(", ")}`;
    },
};
