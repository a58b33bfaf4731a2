// What the policies know about the resources they inspect: Pulumi type tokens
// and small readers over plain property bags. Under CrossGuard a policy sees
// the engine's view of a resource (props, urn, opts); in the offline plan the
// adapter (offline/simulate/policy-plan.ts) hands it the same shape built from a PlannedResource.
import type { PolicyResource } from "@pulumi/policy";

export const TYPES = {
    helmRelease: "kubernetes:helm.sh/v3:Release",
    helmChartV4: "kubernetes:helm.sh/v4:Chart",
    peerAuthentication: "kubernetes:security.istio.io/v1:PeerAuthentication",
    requestAuthentication: "kubernetes:security.istio.io/v1:RequestAuthentication",
    authorizationPolicy: "kubernetes:security.istio.io/v1:AuthorizationPolicy",
    clusterSpiffeId: "kubernetes:spire.spiffe.io/v1alpha1:ClusterSPIFFEID",
    secret: "kubernetes:core/v1:Secret",
    k8sProvider: "pulumi:providers:kubernetes",
    remoteCommand: "command:remote:Command",
    copyToRemote: "command:remote:CopyToRemote",
    privateKey: "tls:index/privateKey:PrivateKey",
    selfSignedCert: "tls:index/selfSignedCert:SelfSignedCert",
    locallySignedCert: "tls:index/locallySignedCert:LocallySignedCert",
} as const;

/** Istio's root namespace unless meshConfig.rootNamespace says otherwise. */
export const DEFAULT_ROOT_NAMESPACE = "istio-system";

export type Props = Record<string, unknown>;

/** The value at a dotted path, or undefined when any step is missing or not an object. */
export function at(obj: unknown, path: string): unknown {
    let cur: unknown = obj;
    for (const key of path.split(".")) {
        if (cur === null || typeof cur !== "object") return undefined;
        cur = (cur as Record<string, unknown>)[key];
    }
    return cur;
}

export function asRecord(v: unknown): Record<string, unknown> {
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function asArray(v: unknown): unknown[] {
    return Array.isArray(v) ? v : [];
}

/** "namespace/name" of a Kubernetes object's metadata, for messages. */
export function objectName(props: Props, fallback: string): string {
    const ns = at(props, "metadata.namespace");
    const name = at(props, "metadata.name") ?? fallback;
    return typeof ns === "string" ? `${ns}/${String(name)}` : String(name);
}

/** Whether a Helm release (or v4 Chart) installs `chart`, given as a bare name, "repo/name" or an OCI URL. */
export function installsChart(r: { type: string; props: Props }, chart: string): boolean {
    if (r.type !== TYPES.helmRelease && r.type !== TYPES.helmChartV4) return false;
    const c = r.props.chart;
    return typeof c === "string" && (c === chart || c.endsWith(`/${chart}`));
}

export function releasesOf(resources: PolicyResource[], chart: string): PolicyResource[] {
    return resources.filter((r) => installsChart(r, chart));
}

/** The root namespace of the mesh that the stack's istiod release configures. */
export function rootNamespaceOf(istiod: PolicyResource): string {
    const ns = at(istiod.props, "values.meshConfig.rootNamespace");
    return typeof ns === "string" && ns !== "" ? ns : DEFAULT_ROOT_NAMESPACE;
}

/** Every key of `selector` has the same value in `labels`: the selector picks pods with those labels. */
export function selects(selector: unknown, labels: Record<string, string>): boolean {
    const entries = Object.entries(asRecord(selector));
    return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/** A stack policy's finding: what is wrong, and the resource it is about (reported as the violation's URN). */
export interface Finding {
    readonly message: string;
    readonly urn: string;
}
