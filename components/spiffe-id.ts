// The SPIFFE ID form Istio requires, and the check of a ClusterSPIFFEID
// template against it. Pure: the SPIRE layer validates its own templates with it
// and the policy pack (which must not load the Kubernetes SDK) checks every
// ClusterSPIFFEID of a stack with it.
import { workloadSpiffeId } from "../model/lab";

/**
 * Istio's workload SPIFFE ID (`workloadSpiffeId`) as a ClusterSPIFFEID template: in
 * place of the values, the fields spire-controller-manager fills in for each pod.
 */
export const ISTIO_SPIFFE_ID_TEMPLATE = workloadSpiffeId(
    "{{ .TrustDomain }}",
    "{{ .PodMeta.Namespace }}",
    "{{ .PodSpec.ServiceAccountName }}",
);

// A sample pod to render templates for: values no template could hard-code by accident.
const SAMPLE: Record<string, string> = {
    ".TrustDomain": "sample-trust.domain",
    ".PodMeta.Namespace": "sample-namespace",
    ".PodSpec.ServiceAccountName": "sample-service-account",
};

/**
 * Problems with a ClusterSPIFFEID's `spiffeIDTemplate`: it must render, for any
 * pod, to exactly `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`
 * from the pod's own namespace and service account, or Istio rejects the SVID.
 */
export function spiffeIdTemplateProblems(template: string): string[] {
    const rendered = template.replace(/\{\{-?\s*(\S+?)\s*-?\}\}/g, (whole, field: string) => SAMPLE[field] ?? whole);
    const expected = workloadSpiffeId(
        SAMPLE[".TrustDomain"],
        SAMPLE[".PodMeta.Namespace"],
        SAMPLE[".PodSpec.ServiceAccountName"],
    );
    if (rendered === expected) return [];
    return [
        `spiffeIDTemplate ${JSON.stringify(template)} renders as ${JSON.stringify(rendered)} for a pod in namespace "sample-namespace" ` +
            `with service account "sample-service-account": Istio requires ${JSON.stringify(ISTIO_SPIFFE_ID_TEMPLATE)}`,
    ];
}

/** Throws when a template would not give Istio's ns/sa identity. */
export function validateSpiffeIdTemplate(template: string): void {
    const problems = spiffeIdTemplateProblems(template);
    if (problems.length > 0) throw new Error(problems.join("\n"));
}
