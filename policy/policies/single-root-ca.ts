import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { Finding, TYPES } from "../resources";
import { peerPkiRoleOf, trustModelOf } from "../stack-config";

export interface SingleRootCaConfig {
    /** pki.role of the peer stack; when unset, read from the peer's stack file (zta-testbed:peer.stack of this stack's file). */
    readonly peerPkiRole?: string;
    /** The peer stack's name, for the message. */
    readonly peerStack?: string;
    /** mesh.trustModel of this stack; when unset, read from its stack file. */
    readonly trustModel?: string;
}

/**
 * Problems with the lab's root CAs: a stack declares at most one self-signed
 * CA certificate, and in the shared trust model none when its peer is the root
 * stack. A second root in one trust domain is a second PKI: certificates under
 * it do not verify against the first, so cross-cluster mTLS, SPIRE bundles and
 * registry pulls break. In the federated model every stack owns the root of its
 * own trust domain (docs/pki.md, "Shared and federated"), so the peer's role does not count.
 */
export function secondRootProblems(resources: PolicyResource[], peer?: { readonly stack: string; readonly role: string }, trustModel?: string): Finding[] {
    const roots = resources.filter((r) => r.type === TYPES.selfSignedCert && r.props.isCaCertificate === true);
    const problems: Finding[] = roots.slice(1).map((cert) => ({
        urn: cert.urn,
        message: `second root CA ${cert.name} in this stack (the first is ${roots[0].name}): the lab has one root CA; issue further CAs as intermediates signed by it`,
    }));
    if (roots.length > 0 && peer?.role === "root" && trustModel !== "federated") {
        problems.push({
            urn: roots[0].urn,
            message:
                `root CA ${roots[0].name} is declared here, but peer stack "${peer.stack}" is the root stack too (pki.role: root in Pulumi.${peer.stack}.yaml): ` +
                `the lab has one root CA; set zta-testbed:pki.role to "peer" in one of the two stack files`,
        });
    }
    return problems;
}

export const singleRootCa: StackValidationPolicy = {
    name: "single-root-ca",
    description:
        "One root CA per trust domain: at most one self-signed CA certificate per stack, and in the shared trust model only in the root stack.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: {
        properties: {
            peerPkiRole: { type: "string", description: "pki.role of the peer stack; default: read from its stack file" },
            peerStack: { type: "string", description: "the peer stack's name, for messages" },
            trustModel: { type: "string", description: "mesh.trustModel of this stack; default: read from its stack file" },
        },
    },
    validateStack: (args, reportViolation) => {
        const roots = args.resources.filter((r) => r.type === TYPES.selfSignedCert && r.props.isCaCertificate === true);
        if (roots.length === 0) args.notApplicable("the stack declares no root CA");
        const cfg = args.getConfig<SingleRootCaConfig>();
        const peer = cfg.peerPkiRole !== undefined ? { stack: cfg.peerStack ?? "peer", role: cfg.peerPkiRole } : peerPkiRoleOf(roots[0].urn);
        const trustModel = cfg.trustModel ?? trustModelOf(roots[0].urn);
        for (const f of secondRootProblems(args.resources, peer, trustModel)) reportViolation(f.message, f.urn);
    },
};
