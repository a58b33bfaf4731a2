import type { ResourceValidationPolicy } from "@pulumi/policy";
import { at, Props, TYPES } from "../resources";

/**
 * The SPIFFE ID Istio requires of every workload, `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`
 * (istio.io, ops/integrations/spire: "All registrations must follow the Istio SPIFFE ID pattern"),
 * as a ClusterSPIFFEID template of the SPIRE controller manager.
 */
export const ISTIO_SPIFFE_ID_TEMPLATE =
    "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}";

/** A Go template with every action written `{{ .Field }}`: spaces and trim markers inside the braces change nothing here. */
function canonical(template: string): string {
    return template.replace(/\{\{-?\s*(\S+?)\s*-?\}\}/g, "{{ $1 }}");
}

/**
 * Problems of one ClusterSPIFFEID: its spiffeIDTemplate must yield
 * spiffe://<trust domain>/ns/<namespace>/sa/<service account>, the identity
 * form Istio checks peers against and AuthorizationPolicy principals name.
 */
export function spiffeIdTemplateProblems(props: Props, name: string): string[] {
    const template = at(props, "spec.spiffeIDTemplate");
    if (typeof template === "string" && canonical(template) === ISTIO_SPIFFE_ID_TEMPLATE) return [];
    const shown = template === undefined ? "no spiffeIDTemplate" : `spiffeIDTemplate ${JSON.stringify(template)}`;
    return [
        `ClusterSPIFFEID ${String(at(props, "metadata.name") ?? name)} has ${shown}: it must be ${ISTIO_SPIFFE_ID_TEMPLATE} so identities have Istio's /ns/<ns>/sa/<sa> form`,
    ];
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
