import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { Finding, TYPES } from "../resources";

/**
 * Problems of the stack's root CAs: a self-signed CA certificate and the
 * private key it is signed with must be `protect`ed, since replacing either
 * invalidates every intermediate, SVID and registry certificate of both
 * clusters. The key is found through the certificate's dependencies.
 */
export function rootCaProblems(resources: PolicyResource[]): Finding[] {
    const problems: Finding[] = [];
    for (const cert of resources.filter((r) => r.type === TYPES.selfSignedCert && r.props.isCaCertificate === true)) {
        if (!cert.opts.protect) {
            problems.push({
                urn: cert.urn,
                message: `root CA certificate ${cert.name} is not protected: set protect: true, replacing it invalidates every certificate under it`,
            });
        }
        for (const key of cert.dependencies.filter((d) => d.type === TYPES.privateKey)) {
            if (!key.opts.protect) {
                problems.push({
                    urn: key.urn,
                    message: `root CA private key ${key.name} (of ${cert.name}) is not protected: set protect: true, replacing it invalidates every certificate under it`,
                });
            }
        }
    }
    return problems;
}

export const rootCaProtected: StackValidationPolicy = {
    name: "root-ca-protected",
    description: "Self-signed CA certificates and their private keys are protected.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, reportViolation) => {
        if (!args.resources.some((r) => r.type === TYPES.selfSignedCert))
            args.notApplicable("the stack declares no self-signed certificate");
        for (const f of rootCaProblems(args.resources)) reportViolation(f.message, f.urn);
    },
};
