import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { Finding, TYPES } from "../resources";

/** Another stack of the lab and its zta-testbed:pki.role. */
export interface PeerRole {
    readonly stack: string;
    readonly pkiRole: "root" | "peer";
}

/** Pack config of `single-root-ca`, written per stack by the offline plan. */
export interface SingleRootCaConfig {
    /** zta-testbed:mesh.trustModel of the lab. */
    readonly trustModel: "shared" | "federated";
    /** Every other stack of the lab (its peers, however many), each with its pki.role. */
    readonly peers: readonly PeerRole[];
}

/** The component type of the lab-services CA (components/pki.ts), which issues comp1's server certificates only. */
const LAB_SERVICES_CA = "zta:pki:LabServicesCa";

/**
 * Whether a self-signed CA is the lab-services CA and acts as one: declared in
 * that component and signing no CA certificate. It is the root of no trust
 * domain; one that signs an intermediate counts as a root like any other.
 */
function isLabServicesCa(ca: PolicyResource, resources: PolicyResource[]): boolean {
    const signsCa = resources.some(
        (r) =>
            r.type === TYPES.locallySignedCert &&
            r.props.isCaCertificate === true &&
            r.dependencies.some((d) => d.urn === ca.urn),
    );
    return ca.parent?.type === LAB_SERVICES_CA && !signsCa;
}

/**
 * Problems with the lab's root CAs (of trust domains: a CA that signs only leaves is not one): a stack declares at most one self-signed
 * CA certificate, and in the shared trust model none when any of its peers is
 * a root stack. A second root in one trust domain is a second PKI: certificates
 * under it do not verify against the first, so cross-cluster mTLS, SPIRE bundles
 * and registry pulls break. In the federated model every stack owns the root of
 * its own trust domain (docs/pki.md, "Shared and federated"), so the peers' roles do not count.
 */
export function secondRootProblems(resources: PolicyResource[], cfg: SingleRootCaConfig): Finding[] {
    const roots = resources.filter(
        (r) => r.type === TYPES.selfSignedCert && r.props.isCaCertificate === true && !isLabServicesCa(r, resources),
    );
    const problems: Finding[] = roots.slice(1).map((cert) => ({
        urn: cert.urn,
        message: `second root CA ${cert.name} in this stack (the first is ${roots[0].name}): the lab has one root CA; issue further CAs as intermediates signed by it`,
    }));
    if (roots.length === 0 || cfg.trustModel === "federated") return problems;
    for (const peer of cfg.peers.filter((p) => p.pkiRole === "root")) {
        problems.push({
            urn: roots[0].urn,
            message:
                `root CA ${roots[0].name} is declared here, but peer stack "${peer.stack}" is a root stack too (pki.role: root in Pulumi.${peer.stack}.yaml): ` +
                `in the shared trust model the lab has one root CA; set zta-testbed:pki.role to "peer" in every stack file but one`,
        });
    }
    return problems;
}

export const singleRootCa: StackValidationPolicy = {
    name: "single-root-ca",
    description:
        "One root CA per trust domain: at most one self-signed CA certificate per stack, and in the shared trust model none while a peer stack is the root stack.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: {
        properties: {
            trustModel: {
                type: "string",
                enum: ["shared", "federated"],
                description: "zta-testbed:mesh.trustModel of the lab",
            },
            peers: {
                type: "array",
                description:
                    "every other stack of the lab with its zta-testbed:pki.role (npm run plan writes them to plan/<stack>/policy-config.json)",
                items: {
                    type: "object",
                    properties: {
                        stack: { type: "string", minLength: 1 },
                        pkiRole: { type: "string", enum: ["root", "peer"] },
                    },
                    required: ["stack", "pkiRole"],
                    additionalProperties: false,
                },
            },
        },
        // Without them a second root in the lab would pass unseen: the engine refuses to run the pack instead.
        required: ["trustModel", "peers"],
    },
    validateStack: (args, reportViolation) => {
        if (!args.resources.some((r) => r.type === TYPES.selfSignedCert && r.props.isCaCertificate === true))
            args.notApplicable("the stack declares no root CA");
        for (const f of secondRootProblems(args.resources, args.getConfig<SingleRootCaConfig>()))
            reportViolation(f.message, f.urn);
    },
};
