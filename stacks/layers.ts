// What each layer of a cluster hands to the layers above it (docs/design.md, "Layers").
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { SpireFederation } from "./peer";

/** How to reach the cluster: from HostPrep (bare host) or from a kubeconfig the user brings. */
export interface ClusterAccess {
    /** The cluster's Kubernetes provider; every Kubernetes resource of the stack uses it. */
    readonly provider: k8s.Provider;
    /** API server URL the peer's istiod can reach (the host's management address), never 127.0.0.1. */
    readonly apiServer: pulumi.Output<string>;
}

/** The cluster network: what pods and LoadBalancer Services wait for. */
export interface ClusterNetwork {
    /** The CNI release: everything that schedules pods depends on it. */
    readonly cni: pulumi.Resource;
    /** MetalLB's chart, pool and advertisement: LoadBalancer Services with fixed addresses depend on them. */
    readonly loadBalancer: pulumi.Resource[];
}

/** SPIRE, the source of every mesh identity. */
export interface MeshIdentity {
    /** SPIRE server, agent, CSI driver and the ClusterSPIFFEIDs: in place before any gateway mounts the CSI socket. */
    readonly ready: pulumi.Resource[];
    /** This cluster's SPIRE bundle endpoint (federated trust model only): exported as the `federation` output. */
    readonly federation?: pulumi.Output<SpireFederation>;
}

/** Istio's control plane, what policies and workloads are declared against. */
export interface ServiceMesh {
    /** istiod and Istio's CRDs (base chart): Istio custom resources depend on them. */
    readonly control: pulumi.Resource[];
    /** The ingress gateway's pod labels: what RequestAuthentication/AuthorizationPolicy select. */
    readonly ingressSelector: Record<string, string>;
    /** The ingress gateway's TLS: Gateways serve HTTPS with `credentialName`; port 80 is off or redirects. */
    readonly ingressTls: IngressTls;
}

export interface IngressTls {
    /** The kubernetes.io/tls Secret in the gateway's namespace, chaining to the lab root. */
    readonly credentialName: string;
    /** The Secret itself: Gateways that name it wait for it. */
    readonly credential: pulumi.Resource;
    readonly plainHttp: "off" | "redirect";
}

// Names the layers agree on. The gateway chart derives a gateway's labels and its
// service account from the release name (`istio: <name without "istio-">`,
// `app: <name>`), so the Istio and SPIRE layers both start from these.
export const ISTIO_NAMESPACE = "istio-system";
export const METALLB_NAMESPACE = "metallb-system";
/** The cluster's one MetalLB IPAddressPool; gateways name it with `loadBalancerAnnotations` (components/metallb.ts). */
export const METALLB_POOL = "lab-pool";
export const SPIRE_SERVER_NAMESPACE = "spire-server";
export const SPIRE_SYSTEM_NAMESPACE = "spire-system";
/** On a host HostPrep builds: the SPIRE server's data directory, a local PersistentVolume on the control-plane node. */
export const SPIRE_DATA_DIR = "/var/lib/zta-testbed/spire-server";
export const SAMPLE_NAMESPACE = "sample";
export const INGRESS_GATEWAY = "istio-ingressgateway";
export const EAST_WEST_GATEWAY = "istio-eastwestgateway";
/** Pods with this label set to "true" get their identity from SPIRE (Istio's `spire` injection template). */
export const SPIRE_MANAGED_LABEL = "spiffe.io/spire-managed-identity";
/** The SPIFFE CSI driver's name: pods (and gateways) mount the SPIRE agent's Workload API socket through it. */
export const SPIFFE_CSI_DRIVER = "csi.spiffe.io";

/**
 * The sample workloads (Istio's samples/helloworld, sleep, httpbin, curl): the
 * names of their Services, Deployments and `app` labels, and the Service ports,
 * which the samples layer declares and `verify` calls.
 */
export const SAMPLE_APPS = {
    helloworld: { name: "helloworld", port: 5000 },
    httpbin: { name: "httpbin", port: 8000 },
    sleep: { name: "sleep" },
    curl: { name: "curl" },
} as const;
