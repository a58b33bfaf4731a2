import { SAMPLE_NAMESPACE } from "../../model/lab";
import { Check, curlSeconds, failIf, readyPod } from "../check";
import { callerOf, MESH_CALLS, SAMPLE } from "../mesh-calls";
import { tallyHelloworld, VersionTally } from "../parse";

export function trafficProblems(tally: VersionTally, requests: number): string[] {
    const problems = SAMPLE.versions
        .filter((v) => !(tally.versions[v] > 0))
        .map((v) => `no reply from helloworld ${v}`);
    if (problems.length > 0) {
        const got =
            Object.entries(tally.versions)
                .map(([v, n]) => `${v}: ${n}`)
                .join(", ") || "no replies";
        const errors = tally.other.length ? `; other output: ${tally.other.slice(0, 3).join(" | ")}` : "";
        problems.push(`of ${requests} calls: ${got}${errors}`);
    }
    return problems;
}

export const crossClusterTraffic: Check = {
    id: "cross-cluster-traffic",
    title: `calls from ${MESH_CALLS.crossCluster.from} reach helloworld v1 and v2`,
    proves: `repeated calls (--requests) from the ${SAMPLE_NAMESPACE} "${MESH_CALLS.crossCluster.from}" pod to ${SAMPLE.helloworldUrl} are answered by both helloworld-v1 (cluster1) and helloworld-v2 (cluster2): cross-cluster, cross-network traffic works`,
    async run({ cluster, options }) {
        const caller = callerOf(MESH_CALLS.crossCluster);
        const pod = await readyPod(cluster, SAMPLE_NAMESPACE, caller.selector, caller.container);
        const n = options.requests;
        const script = `for i in $(seq 1 ${n}); do curl -sS --max-time ${curlSeconds(options, n)} ${SAMPLE.helloworldUrl}; echo; done`;
        // The loop's exit status is the last curl's; the tally decides, so read stdout whatever it is.
        const res = await cluster.exec(pod.namespace, pod.name, caller.container, ["sh", "-c", script]);
        const tally = tallyHelloworld(res.stdout + "\n" + res.stderr);
        failIf(trafficProblems(tally, n));
        return (
            Object.entries(tally.versions)
                .map(([v, count]) => `${v}: ${count}`)
                .join(", ") + ` of ${n} calls`
        );
    },
};
