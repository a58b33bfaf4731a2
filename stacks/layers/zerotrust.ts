// Zero trust on the mesh (docs/zero-trust.md): mTLS everywhere, a token from the
// issuer at the ingress, and only the calls the samples and the lab's workloads expect.
import { MeshPolicies } from "../../components/meshpolicies";
import { ClusterAccess, ISTIO_NAMESPACE, ServiceMesh } from "../../model/lab";
import { SampleWorkloads } from "./samples";
import { StackInput } from "./stack";
import { LabWorkloads } from "./workloads";

export interface ZeroTrustInput extends StackInput {
    readonly access: ClusterAccess;
    readonly mesh: ServiceMesh;
    /** The samples, when they run: their namespace goes under default deny with the calls they expect. */
    readonly samples?: SampleWorkloads;
    /** The lab's own workloads here: each namespace under default deny with the calls the config states. */
    readonly workloads?: LabWorkloads;
}

/**
 * The mesh policies of one cluster. In the federated model the peers' trust
 * domains (once they are deployed: their `identity` says which) are named beside
 * this one's.
 */
export function zeroTrust({ cfg, peers, access, mesh, samples, workloads }: ZeroTrustInput): MeshPolicies {
    const peerTrustDomains =
        cfg.mesh.trustModel === "federated" ? peers.flatMap((p) => (p.identity ? [p.identity.trustDomain] : [])) : [];
    return new MeshPolicies(
        `${cfg.stack}-mesh-policies`,
        {
            control: mesh.control,
            rootNamespace: ISTIO_NAMESPACE,
            ingressNamespace: ISTIO_NAMESPACE,
            ingressSelector: mesh.ingressSelector,
            issuer: cfg.jwt.issuer,
            jwksUri: cfg.jwt.jwksUri,
            audiences: cfg.jwt.audiences,
            trustDomain: cfg.mesh.trustDomain,
            peerTrustDomains,
            defaultDeny: [...(samples ? [samples.samples.traffic] : []), ...(workloads?.traffic ?? [])],
        },
        { provider: access.provider },
    );
}
