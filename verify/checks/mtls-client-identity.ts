import { SAMPLE_NAMESPACE, workloadSpiffeId } from "../../model/lab";
import { Check, curlSeconds, failIf, readyPod, run } from "../check";
import { callerOf, MESH_CALLS, SAMPLE } from "../mesh-calls";
import { xfccFromHttpbin, xfccUris } from "../parse";

export function xfccProblems(httpbinBody: string, expectedId: string): string[] {
    let header: string | undefined;
    try {
        header = xfccFromHttpbin(httpbinBody);
    } catch {
        return [`httpbin's reply is not JSON: ${httpbinBody.slice(0, 120)}`];
    }
    if (header === undefined)
        return ["httpbin saw no X-Forwarded-Client-Cert header: the call did not arrive over mesh mTLS"];
    const uris = xfccUris(header);
    return uris.includes(expectedId)
        ? []
        : [`X-Forwarded-Client-Cert URIs are [${uris.join(", ")}], expected ${expectedId}`];
}

export const mtlsClientIdentity: Check = {
    id: "mtls-client-identity",
    title: "httpbin sees the caller's SPIFFE ID",
    proves: `a call from "${MESH_CALLS.clientIdentity.from}" (SPIRE-managed) to ${SAMPLE.httpbinHeadersUrl} arrives with an X-Forwarded-Client-Cert whose URI is the caller's SPIFFE ID: the hop was mutual TLS with workload identities`,
    async run({ cluster, target, options }) {
        const caller = callerOf(MESH_CALLS.clientIdentity);
        const pod = await readyPod(cluster, SAMPLE_NAMESPACE, caller.selector, caller.container);
        const body = await run(cluster, pod, caller.container, [
            "curl",
            "-sS",
            "--max-time",
            String(curlSeconds(options, 1)),
            SAMPLE.httpbinHeadersUrl,
        ]);
        const expectedId = workloadSpiffeId(target.trustDomain, pod.namespace, pod.serviceAccount);
        failIf(xfccProblems(body, expectedId));
        return `X-Forwarded-Client-Cert URI=${expectedId}`;
    },
};
