import type { ResourceValidationPolicy } from "@pulumi/policy";
import { ISTIO_SPIFFE_ID_TEMPLATE, spiffeIdTemplateProblems as templateProblems } from "../../components/spiffe-id";
import { at, Props, TYPES } from "../resources";

/**
 * Problems of one ClusterSPIFFEID: its spiffeIDTemplate must yield
 * spiffe://<trust domain>/ns/<namespace>/sa/<service account>, the identity
 * form Istio checks peers against and AuthorizationPolicy principals name.
 */
export function spiffeIdTemplateProblems(props: Props, name: string): string[] {
    const template = at(props, "spec.spiffeIDTemplate");
    if (typeof template === "string" && templateProblems(template).length === 0) return [];
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
