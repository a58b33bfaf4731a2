import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asRecord, objectName, Props, TYPES } from "../resources";

/** mTLS modes that accept plain-text traffic from workloads without a mesh identity. */
const WEAK_MODES = ["PERMISSIVE", "DISABLE"];

/**
 * Problems of one PeerAuthentication: a workload-wide or port-level mode that
 * lets plain text in. UNSET inherits from the parent scope, so it is fine.
 */
export function peerAuthenticationProblems(props: Props, name: string): string[] {
    const who = `PeerAuthentication ${objectName(props, name)}`;
    const spec = asRecord(props.spec);
    const problems: string[] = [];
    const mode = asRecord(spec.mtls).mode;
    if (typeof mode === "string" && WEAK_MODES.includes(mode)) {
        problems.push(
            `${who} sets mtls.mode ${mode}: plain-text traffic would be accepted; use STRICT (or leave it UNSET to inherit the mesh-wide STRICT)`,
        );
    }
    for (const [port, level] of Object.entries(asRecord(spec.portLevelMtls))) {
        const portMode = asRecord(level).mode;
        if (typeof portMode === "string" && WEAK_MODES.includes(portMode)) {
            problems.push(
                `${who} sets portLevelMtls[${port}].mode ${portMode}: plain-text traffic would be accepted on port ${port}; use STRICT`,
            );
        }
    }
    return problems;
}

export const peerAuthenticationStrict: ResourceValidationPolicy = {
    name: "peer-authentication-strict",
    description: "No PeerAuthentication sets mTLS to PERMISSIVE or DISABLE, for a workload or a port.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: (args, reportViolation) => {
        if (args.type !== TYPES.peerAuthentication) return;
        for (const p of peerAuthenticationProblems(args.props, args.name)) reportViolation(p);
    },
};
