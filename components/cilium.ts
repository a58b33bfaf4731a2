import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ChartRef, helmRelease } from "./chart";

export const CILIUM_REPO = "https://helm.cilium.io";
export const CILIUM_CHART = "cilium";

/** Where Cilium's agent reaches the API server. */
export interface ApiEndpoint {
    readonly host: string;
    readonly port: number;
}

export interface CiliumReleaseArgs {
    /** Chart version, pinned (`versions.cilium`). */
    readonly version: string;
    /** Cilium `cluster.name`: at most 32 characters, not "default" (config validation checks both). */
    readonly clusterName: string;
    /** Cilium `cluster.id`, 1..255, distinct per cluster of the mesh. */
    readonly clusterId: number;
    /** Replace kube-proxy with Cilium's eBPF service load-balancing (the cluster must not run kube-proxy). */
    readonly kubeProxyReplacement: boolean;
    /** Enable Cilium's BGP control plane. MetalLB does L2 announcements either way. */
    readonly bgpControlPlane: boolean;
    /**
     * The API server as the agent dials it directly. Without kube-proxy nothing
     * routes the `kubernetes` Service's ClusterIP until Cilium itself runs.
     */
    readonly apiServer: pulumi.Input<ApiEndpoint>;
    /**
     * NICs that run the eBPF datapath (NodePort, masquerading): Helm `devices`.
     * Pinned on a two-NIC host rather than left to detection, which picks NICs
     * with a non-local route and can change with the routes. Empty: detected.
     */
    readonly devices?: string[];
}

/**
 * The API server of a kubeconfig server URL: host and port (443 when the URL
 * has none, as for any https URL).
 */
export function apiEndpointOf(url: string): ApiEndpoint {
    const u = new URL(url);
    // URL keeps IPv6 literals in brackets; Cilium wants the bare address.
    return { host: u.hostname.replace(/^\[(.*)\]$/, "$1"), port: u.port === "" ? 443 : Number(u.port) };
}

/**
 * Cilium, the cluster's CNI: the upstream chart at a pinned version in
 * kube-system, as a Helm release (components/chart.ts). The release waits for
 * the agent and operator to be ready, so everything that schedules pods can
 * depend on it.
 */
export class CiliumRelease extends pulumi.ComponentResource {
    /** The Helm release: the CNI that every pod waits for. */
    public readonly release: k8s.helm.v3.Release;
    /** Cilium `cluster.name` / `cluster.id` as installed. */
    public readonly clusterName: pulumi.Output<string>;
    public readonly clusterId: pulumi.Output<number>;

    constructor(name: string, args: CiliumReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:network:CiliumRelease", name, {}, opts);

        const ref: ChartRef = { chart: CILIUM_CHART, repo: CILIUM_REPO, version: args.version };
        const apiServer = pulumi.output(args.apiServer);
        this.release = helmRelease(
            `${name}-release`,
            {
                ref,
                namespace: "kube-system",
                values: {
                    cluster: { name: args.clusterName, id: args.clusterId },
                    // Pod addresses from the node's podCIDR, which kube-controller-manager cuts from
                    // kubeadm's --pod-network-cidr (cluster.podCidr). The default "cluster-pool"
                    // ignores it and uses 10.0.0.0/8. https://docs.cilium.io/en/v1.20/network/concepts/ipam/kubernetes/
                    ipam: { mode: "kubernetes" },
                    // The operator's required anti-affinity keeps a second replica Pending on one node.
                    operator: { replicas: 1 },
                    // The chart template (1.17 to 1.20) accepts only true or false (it fails on the old "strict"/"partial").
                    kubeProxyReplacement: args.kubeProxyReplacement,
                    k8sServiceHost: apiServer.host,
                    k8sServicePort: apiServer.port,
                    // Istio compatibility, https://docs.cilium.io/en/v1.20/network/servicemesh/istio/:
                    // socket load-balancing (on with kube-proxy replacement) rewrites a ClusterIP to a
                    // backend inside the pod's own socket, so the sidecar never sees the Service and
                    // Istio routing and mTLS are bypassed (cilium#28304); hostNamespaceOnly keeps it to
                    // host-network pods. The key is commented out in values.yaml but the template (1.17 to
                    // 1.20, cilium-configmap.yaml) reads it (bpf-lb-sock-hostns-only).
                    socketLB: { hostNamespaceOnly: true },
                    // Same page: cni-exclusive=false so Cilium does not rename other CNI configs, which
                    // Istio's CNI plugin (if enabled) chains into; harmless with init-container sidecars.
                    cni: { exclusive: false },
                    // MetalLB alone assigns LoadBalancer addresses. Cilium's LB-IPAM, on by default, resets
                    // status.loadBalancer on Services it does not own (cilium#39805, cilium#37965).
                    enableLBIPAM: false,
                    bgpControlPlane: { enabled: args.bgpControlPlane },
                    ...(args.devices && args.devices.length > 0 ? { devices: args.devices } : {}),
                },
            },
            { parent: this },
        );
        this.clusterName = pulumi.output(args.clusterName);
        this.clusterId = pulumi.output(args.clusterId);

        this.registerOutputs({ release: this.release, clusterName: this.clusterName, clusterId: this.clusterId });
    }
}
