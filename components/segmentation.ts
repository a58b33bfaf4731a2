import * as pulumi from "@pulumi/pulumi";
import { TypedCustomResource } from "./crd";

// CiliumNetworkPolicy (cilium.io/v2, Cilium 1.17 CRD): only the fields this testbed sets.

/** An endpoint selector. Without `k8s:io.kubernetes.pod.namespace` it selects in the policy's own namespace only. */
export interface EndpointSelector {
    readonly matchLabels?: Record<string, string>;
}

export interface PortRule {
    readonly ports: { readonly port: pulumi.Input<string>; readonly protocol: "TCP" | "UDP" }[];
    /** L7 DNS rules: only on the DNS port, so Cilium's DNS proxy learns the names `toFQDNs` allows. */
    readonly rules?: { readonly dns: { readonly matchPattern?: string; readonly matchName?: string }[] };
}

/** Cilium's reserved identities this testbed names (docs "Entities based"). */
export type Entity = "world" | "cluster" | "host" | "remote-node" | "kube-apiserver";

export interface IngressRule {
    readonly fromEndpoints?: EndpointSelector[];
    readonly fromEntities?: Entity[];
    readonly toPorts?: PortRule[];
}

export interface EgressRule {
    readonly toEndpoints?: EndpointSelector[];
    readonly toEntities?: Entity[];
    readonly toCIDR?: pulumi.Input<string>[];
    readonly toFQDNs?: { readonly matchName: string }[];
    readonly toPorts?: PortRule[];
}

export interface CiliumNetworkPolicySpec {
    readonly description?: string;
    readonly endpointSelector: EndpointSelector;
    readonly ingress?: IngressRule[];
    readonly egress?: EgressRule[];
}

/** The label Cilium gives every endpoint for its namespace: selectors across namespaces use it. */
export const NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace";

/** One workload (or group) of a namespace and exactly the flows it has. */
export interface WorkloadFlows {
    /** The allow policy's name in the namespace. */
    readonly name: string;
    /** What the workload is, for the policy's description. */
    readonly description: string;
    /** Pod labels; empty selects every pod of the namespace. */
    readonly selector: Record<string, string>;
    readonly ingress: IngressRule[];
    readonly egress: EgressRule[];
}

/** A namespace under default deny, with the flows of what runs there. */
export interface SegmentedNamespace {
    readonly name: string;
    readonly flows: WorkloadFlows[];
}

export interface SegmentationArgs {
    /** Cilium (its operator registers the CiliumNetworkPolicy CRD) and the namespaces' creators: no data flows from them. */
    readonly dependsOn: pulumi.Resource[];
    readonly namespaces: SegmentedNamespace[];
}

/** The default-deny policy's name in every segmented namespace. */
export const DEFAULT_DENY = "default-deny";

/**
 * Micro-segmentation at L3/L4: in each namespace a `default-deny`
 * CiliumNetworkPolicy selecting every pod with one empty ingress and one empty
 * egress rule (Cilium: a selected endpoint goes to default deny in each
 * direction a policy has rules for; an empty rule allows nothing), and one
 * allow policy per workload naming exactly its peers and ports.
 *
 * Why CiliumNetworkPolicy, not Kubernetes NetworkPolicy: Cilium is the CNI
 * here and its policies can name what a NetworkPolicy cannot: the API server
 * (`kube-apiserver` entity; with kube-proxy replacement the API server is a
 * host-network endpoint, which an `ipBlock` does not match in Cilium's
 * default CIDR match mode), host-network peers such as the SPIRE agents
 * (`host`/`remote-node`), and DNS names (`toFQDNs`). Rules stay at L3/L4:
 * Cilium's L7 HTTP rules cannot read the mesh's mTLS traffic, and Istio's
 * AuthorizationPolicies already decide per request (components/meshpolicies.ts).
 *
 * Host-network pods (SPIRE agents, MetalLB speakers, Cilium itself) are not
 * Cilium endpoints, so no policy applies to them; the kubelet's probes from
 * the local host are allowed by Cilium by default.
 */
export class Segmentation extends pulumi.ComponentResource {
    /** Every policy, by "<namespace>/<name>". */
    public readonly policies: Record<string, TypedCustomResource<CiliumNetworkPolicySpec>> = {};

    constructor(name: string, args: SegmentationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:network:Segmentation", name, {}, opts);
        const child: pulumi.CustomResourceOptions = { parent: this, dependsOn: args.dependsOn };
        const policy = (namespace: string, policyName: string, spec: CiliumNetworkPolicySpec) => {
            this.policies[`${namespace}/${policyName}`] = new TypedCustomResource<CiliumNetworkPolicySpec>(
                `${name}-${namespace}-${policyName}`,
                {
                    apiVersion: "cilium.io/v2",
                    kind: "CiliumNetworkPolicy",
                    metadata: { name: policyName, namespace },
                    spec,
                },
                child,
            );
        };
        for (const ns of args.namespaces) {
            policy(ns.name, DEFAULT_DENY, {
                description: `default deny: every pod of ${ns.name} sends and receives only what an allow policy names`,
                endpointSelector: {},
                ingress: [{}],
                egress: [{}],
            });
            for (const w of ns.flows) {
                policy(ns.name, w.name, {
                    description: w.description,
                    endpointSelector: { matchLabels: w.selector },
                    ...(w.ingress.length > 0 ? { ingress: w.ingress } : {}),
                    ...(w.egress.length > 0 ? { egress: w.egress } : {}),
                });
            }
        }
        this.registerOutputs({});
    }
}
