import { ISTIO_NAMESPACE, remoteSecretName } from "../../model/lab";
import { Check, failIf } from "../check";
import { ScopedReview } from "../cluster";
import { MUST_ALLOW, MUST_DENY, reviewScope, scopeSummary } from "../reader-scope";

export const remoteSecretScope: Check = {
    id: "remote-secret-scope",
    title: "each remote secret opens only what istiod reads",
    proves: `for each peer, the token in its remote secret here (${ISTIO_NAMESPACE}/${remoteSecretName("<peer cluster>")}, key <peer cluster>) is sent with SelfSubjectAccessReviews to the peer's API server named in it; the peer's authorizers answer that it ${scopeSummary()}: who holds this copy cannot read the peer's CA keys or change anything there`,
    async run({ cluster, target, accessReview }) {
        const problems: string[] = [];
        const seen: string[] = [];
        for (const peer of target.peers) {
            const name = remoteSecretName(peer.clusterName);
            const data = await cluster.secretData(ISTIO_NAMESPACE, name);
            const kubeconfig = data?.[peer.clusterName];
            if (kubeconfig === undefined) {
                problems.push(
                    data === undefined
                        ? `Secret ${ISTIO_NAMESPACE}/${name} not found`
                        : `${name} has no key "${peer.clusterName}" (keys: ${Object.keys(data).join(", ")})`,
                );
                continue;
            }
            let scoped: ScopedReview;
            try {
                scoped = accessReview(kubeconfig);
            } catch (err) {
                problems.push(`${name}: its kubeconfig is not usable: ${(err as Error).message}`);
                continue;
            }
            problems.push(...(await reviewScope(scoped.review)).map((p) => `${name} at ${scoped.server}: ${p}`));
            seen.push(`${name} at ${scoped.server}: ${MUST_ALLOW.length} reads allowed, ${MUST_DENY.length} denied`);
        }
        failIf(problems);
        return seen.join(", ");
    },
};
