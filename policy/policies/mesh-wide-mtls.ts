import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { asRecord, at, Finding, objectName, releasesOf, rootNamespaceOf, TYPES } from "../resources";

/**
 * Problems of a stack that installs istiod: there must be a mesh-wide
 * PeerAuthentication (in the root namespace, without a selector; by
 * convention named `default`) with mtls.mode STRICT. Istio's own default,
 * with no such policy, is PERMISSIVE. A stack without istiod has no mesh.
 */
export function meshWideMtlsProblems(resources: PolicyResource[]): Finding[] {
    const problems: Finding[] = [];
    for (const istiod of releasesOf(resources, "istiod")) {
        const root = rootNamespaceOf(istiod);
        const meshWide = resources.filter(
            (r) =>
                r.type === TYPES.peerAuthentication &&
                at(r.props, "metadata.namespace") === root &&
                Object.keys(asRecord(at(r.props, "spec.selector.matchLabels"))).length === 0,
        );
        if (meshWide.length === 0) {
            problems.push({
                urn: istiod.urn,
                message: `istiod release ${istiod.name} has no mesh-wide PeerAuthentication: declare one named default in ${root} (no selector) with mtls.mode STRICT; Istio's default is PERMISSIVE`,
            });
            continue;
        }
        for (const pa of meshWide) {
            const mode = at(pa.props, "spec.mtls.mode");
            if (mode !== "STRICT") {
                problems.push({
                    urn: pa.urn,
                    message: `mesh-wide PeerAuthentication ${objectName(pa.props, pa.name)} has mtls.mode ${mode === undefined ? "unset (PERMISSIVE)" : String(mode)}: it must be STRICT`,
                });
            }
        }
    }
    return problems;
}

export const meshWideMtlsStrict: StackValidationPolicy = {
    name: "mesh-wide-mtls-strict",
    description:
        "A stack that installs istiod declares a mesh-wide PeerAuthentication in the root namespace with mtls.mode STRICT.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateStack: (args, reportViolation) => {
        if (releasesOf(args.resources, "istiod").length === 0) args.notApplicable("the stack installs no istiod");
        for (const f of meshWideMtlsProblems(args.resources)) reportViolation(f.message, f.urn);
    },
};
