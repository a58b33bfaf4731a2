import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { at, Finding, releasesOf } from "../resources";

/** The charts' own defaults, which apply when the values leave the trust domain out. */
const ISTIO_DEFAULT_TRUST_DOMAIN = "cluster.local";
const SPIRE_DEFAULT_TRUST_DOMAIN = "example.org";

/**
 * Problems of a stack that installs both istiod and SPIRE: Istio's
 * meshConfig.trustDomain must equal SPIRE's global.spire.trustDomain, or
 * istiod rejects the SVIDs SPIRE issues to workloads (their SPIFFE IDs name
 * another trust domain).
 */
export function trustDomainProblems(resources: PolicyResource[]): Finding[] {
    const problems: Finding[] = [];
    for (const istiod of releasesOf(resources, "istiod")) {
        const istio = at(istiod.props, "values.meshConfig.trustDomain") ?? ISTIO_DEFAULT_TRUST_DOMAIN;
        for (const spire of releasesOf(resources, "spire")) {
            const spireTd = at(spire.props, "values.global.spire.trustDomain") ?? SPIRE_DEFAULT_TRUST_DOMAIN;
            if (istio !== spireTd) {
                problems.push({
                    urn: spire.urn,
                    message: `SPIRE release ${spire.name} has trust domain ${String(spireTd)} (values.global.spire.trustDomain) but istiod release ${istiod.name} has ${String(istio)} (values.meshConfig.trustDomain): they must be equal`,
                });
            }
        }
    }
    return problems;
}

export const trustDomainAligned: StackValidationPolicy = {
    name: "trust-domain-aligned",
    description: "SPIRE's trust domain equals Istio's trust domain.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateStack: (args, reportViolation) => {
        if (releasesOf(args.resources, "istiod").length === 0 || releasesOf(args.resources, "spire").length === 0) {
            args.notApplicable("the stack does not install both istiod and spire");
        }
        for (const f of trustDomainProblems(args.resources)) reportViolation(f.message, f.urn);
    },
};
