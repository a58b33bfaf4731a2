import { SAMPLE_NAMESPACE } from "../../model/lab";
import { Check, curlSeconds, failIf, readyPod } from "../check";
import { callerOf, DENIED_FLOW, SAMPLE } from "../mesh-calls";

/** curl's output with `-w '\n%{http_code}'`: the body, then the status ("000": no HTTP answer). */
export function splitStatus(output: string): { body: string; status: string } {
    const trimmed = output.replace(/\s+$/, "");
    const cut = trimmed.lastIndexOf("\n");
    return { body: cut < 0 ? "" : trimmed.slice(0, cut), status: (cut < 0 ? trimmed : trimmed.slice(cut + 1)).trim() };
}

/**
 * The allowed flow must answer 200; the denied one must get no answer from its
 * target: no connection at all ("000"), or the sidecar's own 503 saying it
 * could not connect upstream (Envoy: "upstream connect error").
 */
export function segmentationProblems(
    allowed: { body: string; status: string },
    denied: { body: string; status: string },
    urls: { allowed: string; denied: string },
): string[] {
    const problems: string[] = [];
    if (allowed.status !== "200")
        problems.push(
            `allowed flow ${urls.allowed}: HTTP ${allowed.status}, expected 200 (${allowed.body.slice(0, 120)})`,
        );
    const blocked = denied.status === "000" || (denied.status === "503" && /upstream connect error/.test(denied.body));
    if (!blocked)
        problems.push(
            `denied flow ${urls.denied}: HTTP ${denied.status}, expected no connection (the network policy does not drop it)`,
        );
    return problems;
}

export const networkSegmentation: Check = {
    id: DENIED_FLOW.check,
    title: "the network policies drop what they do not allow",
    proves: `from the ${SAMPLE_NAMESPACE} "${DENIED_FLOW.from}" pod, ${SAMPLE.helloworldUrl} answers 200 (an allowed flow) while http://${DENIED_FLOW.to.service}.${DENIED_FLOW.to.namespace}:${DENIED_FLOW.to.port}${DENIED_FLOW.to.path} (istiod's monitoring port, which only Prometheus and Kiali may reach; no AuthorizationPolicy covers it) gets no connection: the default-deny CiliumNetworkPolicies are enforced`,
    async run({ cluster, options }) {
        const caller = callerOf(DENIED_FLOW);
        const pod = await readyPod(cluster, SAMPLE_NAMESPACE, caller.selector, caller.container);
        const urls = {
            allowed: SAMPLE.helloworldUrl,
            denied: `http://${DENIED_FLOW.to.service}.${DENIED_FLOW.to.namespace}:${DENIED_FLOW.to.port}${DENIED_FLOW.to.path}`,
        };
        const seconds = String(curlSeconds(options, 2));
        // curl exits non-zero on no connection; the status line decides, so read stdout whatever the exit code.
        const call = async (url: string) =>
            splitStatus(
                (
                    await cluster.exec(pod.namespace, pod.name, caller.container, [
                        "curl",
                        "-s",
                        "--max-time",
                        seconds,
                        "-w",
                        "\\n%{http_code}",
                        url,
                    ])
                ).stdout,
            );
        const allowed = await call(urls.allowed);
        const denied = await call(urls.denied);
        failIf(segmentationProblems(allowed, denied, urls));
        return `${urls.allowed}: 200; ${urls.denied}: ${denied.status === "000" ? "no connection" : "503 upstream connect error"}`;
    },
};
