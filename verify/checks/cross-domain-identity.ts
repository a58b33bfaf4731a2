import { createHash, X509Certificate } from "crypto";
import { SAMPLE_NAMESPACE, spiffeId, workloadSpiffeId } from "../../model/lab";
import { chainProblems, proxySecretsFromConfigDump } from "../certs";
import { Check, CheckSkipped, curlSeconds, failIf, PROXY_CONTAINER, readyPod, run } from "../check";
import { callerOf, MESH_CALLS, meshCallUrl } from "../mesh-calls";
import { parseXfcc, xfccFromHttpbin } from "../parse";

/** Printed between replies when one exec makes several calls. */
const REPLY_SEPARATOR = "----zta-verify-reply----";

/** What the cross-domain check saw: the caller's replies from httpbin, and the certificates its proxy holds. */
export interface CrossDomainEvidence {
    /** httpbin `/headers` replies, one per call. */
    readonly replies: string[];
    /** The caller's workload chain (its proxy's `default` SDS secret), leaf first. */
    readonly callerChain: X509Certificate[];
    /** The caller's SPIFFE ID in its own trust domain. */
    readonly callerId: string;
    /** This stack's root. */
    readonly ownRoot: X509Certificate;
    /** Each peer's trust domain and, when known, its root. */
    readonly peers: readonly { readonly trustDomain: string; readonly root?: X509Certificate }[];
    readonly now: Date;
}

/**
 * Problems with a cross-domain call: at least one reply must come from a server
 * in a peer's trust domain (XFCC `By=`), and each peer domain that answered must
 * have seen the caller's own-domain ID (`URI=`) and the hash of the certificate
 * the caller's proxy holds (`Hash=`, SHA-256 of its DER); that certificate must
 * chain to this stack's own root, which must be no peer's.
 */
export function crossDomainProblems(e: CrossDomainEvidence): string[] {
    const problems: string[] = [];
    if (e.peers.some((p) => p.root && p.root.fingerprint256 === e.ownRoot.fingerprint256)) {
        problems.push(
            `this stack and the peer export the same root "${e.ownRoot.subject.replace(/\n/g, ", ")}": the federated model needs a root per trust domain`,
        );
    }
    const elements = e.replies.flatMap((body) => {
        try {
            const header = xfccFromHttpbin(body);
            return header === undefined ? [] : parseXfcc(header);
        } catch {
            return [];
        }
    });
    // The first reply from each peer trust domain that answered (the calls are spread over the clusters).
    const fromPeers = e.peers.flatMap((p) =>
        elements.filter((el) => (el.By ?? []).some((by) => by.startsWith(spiffeId(p.trustDomain, "/")))).slice(0, 1),
    );
    if (fromPeers.length === 0) {
        const seen = [...new Set(elements.flatMap((el) => el.By ?? []))].join(", ") || "no X-Forwarded-Client-Cert";
        const domains = e.peers.map((p) => p.trustDomain).join(", ");
        problems.push(
            `none of ${e.replies.length} calls was answered in the ${e.peers.length === 1 ? "peer's trust domain" : "peers' trust domains"} ${domains} (By= seen: ${seen})`,
        );
        return problems;
    }
    for (const fromPeer of fromPeers) {
        const uris = fromPeer.URI ?? [];
        if (!uris.includes(e.callerId))
            problems.push(
                `the peer's httpbin (${fromPeer.By?.[0]}) saw URI [${uris.join(", ")}], expected the caller's ${e.callerId}`,
            );
        const leaf = e.callerChain[0];
        if (leaf !== undefined) {
            const hash = createHash("sha256").update(leaf.raw).digest("hex");
            const seenHash = (fromPeer.Hash ?? [])[0];
            if (seenHash !== undefined && seenHash.toLowerCase() !== hash) {
                problems.push(
                    `the peer saw a client certificate with hash ${seenHash}, not the one the caller's proxy holds (${hash})`,
                );
            }
        }
    }
    problems.push(...chainProblems(e.callerChain, e.ownRoot, e.callerId, e.now));
    return problems;
}

export const crossDomainIdentity: Check = {
    id: "cross-domain-identity",
    title: "a caller keeps its own trust domain's identity in the peer's",
    proves: `federated trust model only (else SKIP): calls (--requests at most) from the ${SAMPLE_NAMESPACE} "${MESH_CALLS.crossDomain.from}" pod to ${meshCallUrl(MESH_CALLS.crossDomain)} until the peer cluster's httpbin answers (X-Forwarded-Client-Cert By= in the peer's trust domain); its URI= is the caller's SPIFFE ID in this trust domain, its Hash= that of the certificate the caller's proxy holds, which chains signature by signature to this stack's own rootCaCert, not the peer's`,
    async run({ cluster, target, options }) {
        if (target.trustModel !== "federated")
            throw new CheckSkipped("shared trust model: one trust domain and one root, nothing to cross");
        failIf(
            target.peers
                .filter((p) => p.trustDomain === undefined)
                .map((p) => `peer stack "${p.stack}" has no identity output: deploy it first`),
        );
        const peerTrustDomains = target.peers.map((p) => p.trustDomain as string);
        const caller = callerOf(MESH_CALLS.crossDomain);
        const pod = await readyPod(cluster, SAMPLE_NAMESPACE, caller.selector, PROXY_CONTAINER);
        const secrets = proxySecretsFromConfigDump(
            await run(cluster, pod, PROXY_CONTAINER, [
                "pilot-agent",
                "request",
                "GET",
                "config_dump?resource=dynamic_active_secrets",
            ]),
        );
        const n = options.requests;
        const script = `for i in $(seq 1 ${n}); do curl -sS --max-time ${curlSeconds(options, n)} ${meshCallUrl(MESH_CALLS.crossDomain)}; echo; echo ${REPLY_SEPARATOR}; done`;
        const res = await cluster.exec(pod.namespace, pod.name, caller.container, ["sh", "-c", script]);
        const callerId = workloadSpiffeId(target.trustDomain, pod.namespace, pod.serviceAccount);
        failIf(
            crossDomainProblems({
                replies: res.stdout
                    .split(REPLY_SEPARATOR)
                    .map((r) => r.trim())
                    .filter((r) => r !== ""),
                callerChain: secrets.chain,
                callerId,
                ownRoot: new X509Certificate(target.rootCaCert),
                peers: target.peers.map((p) => ({
                    trustDomain: p.trustDomain as string,
                    root: p.rootCaCert ? new X509Certificate(p.rootCaCert) : undefined,
                })),
                now: options.now(),
            }),
        );
        return `${callerId} seen by the peer's httpbin in ${peerTrustDomains.join(" or ")}, its certificate chained to this stack's own root`;
    },
};
