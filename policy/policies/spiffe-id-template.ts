import type { ResourceValidationPolicy } from "@pulumi/policy";
import { at, Props, TYPES } from "../resources";

/** The one template the mesh accepts, written as the controller manager's Go template (whitespace inside braces is free). */
export const ISTIO_SPIFFE_ID_TEMPLATE = "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}";
const TEMPLATE_RE = /^spiffe:\/\/\{\{\s*\.TrustDomain\s*\}\}\/ns\/\{\{\s*\.PodMeta\.Namespace\s*\}\}\/sa\/\{\{\s*\.PodSpec\.ServiceAccountName\s*\}\}$/;

/**
 * Problems of one ClusterSPIFFEID: its spiffeIDTemplate must yield
 * spiffe://<trust domain>/ns/<namespace>/sa/<service account>, the identity
 * form Istio checks peers against and AuthorizationPolicy principals name.
 */
export function spiffeIdTemplateProblems(props: Props, name: string): string[] {
    const template = at(props, "spec.spiffeIDTemplate");
    if (typeof template === "string" && TEMPLATE_RE.test(template)) return [];
    const shown = template === undefined ? "no spiffeIDTemplate" : `spiffeIDTemplate ${JSON.stringify(template)}`;
    return [`ClusterSPIFFEID ${String(at(props, "metadata.name") ?? name)} has ${shown}: it must be ${ISTIO_SPIFFE_ID_TEMPLATE} so identities have Istio's /ns/<ns>/sa/<sa> form`];
}

export const spiffeIdTemplate: ResourceValidationPolicy = {
    name: "spiffe-id-template",
    description: "Every ClusterSPIFFEID yields spiffe://<trust domain>/ns/<namespace>/sa/<service account>.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: (args, reportViolation) => {
        if (args.type !== TYPES.clusterSpiffeId) return;
        for (const p of spiffeIdTemplateProblems(args.props, args.name)) reportViolation(p);
    },
};
