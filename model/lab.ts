// The bottom layer: the names, ports, label keys and identity formats every layer
// of a cluster agrees on, what each layer hands to the layers above it, and the
// types of the cross-stack protocol. It imports nothing of this repository
// (test/layering.test.ts checks), and only types from Pulumi, so that components,
// stacks, the offline plan and verify can all build on it without loading an SDK.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

// ---- names the layers agree on ----
// The gateway chart derives a gateway's labels and its service account from the
// release name (`istio: <name without "istio-">`, `app: <name>`), so the Istio and
// SPIRE layers both start from these.

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

// ---- the lab's own workloads (`workloads`, stacks/config/workloads.ts) ----

/**
 * A workload the lab's config puts on the mesh: what the workloads layer declares
 * (stacks/layers/workloads.ts), the tests replay and `verify` calls.
 */
export interface LabWorkload {
    /** Its namespace: made with sidecar injection, under default deny. */
    readonly namespace: string;
    /** Its ServiceAccount, Deployment and `app` label, and its Service's name. */
    readonly name: string;
    /** The `cluster.name` it runs in; undefined: every cluster of the lab. */
    readonly cluster?: string;
    /** Its container image, pinned. */
    readonly image: string;
    /** The port it serves HTTP on (container and Service); undefined: it serves nothing. */
    readonly port?: number;
    /** Its container's command; undefined: the image's entrypoint. */
    readonly command?: readonly string[];
    /** The workloads allowed to call it, as `<namespace>/<name>` (workloadRef). */
    readonly callers: readonly string[];
    /** Routed at the ingress gateway under this path prefix (a token from the JWT issuer required, as for every route there). */
    readonly ingress?: { readonly pathPrefix: string };
    /** What it may reach outside the mesh, each `<IPv4 address or CIDR>:<port>`. */
    readonly egress: readonly string[];
}

/** A workload as `callers` name it: `<namespace>/<name>`. */
export function workloadRef(w: Pick<LabWorkload, "namespace" | "name">): string {
    return `${w.namespace}/${w.name}`;
}

/** Whether a workload runs in the cluster `clusterName` (one without `cluster` runs in every one). */
export function runsIn(w: Pick<LabWorkload, "cluster">, clusterName: string): boolean {
    return w.cluster === undefined || w.cluster === clusterName;
}

/** The namespaces this program runs its own pods in: no workload of the config may be put there (nor in `kube-*`). */
export const PROGRAM_NAMESPACES = [
    ISTIO_NAMESPACE,
    METALLB_NAMESPACE,
    SPIRE_SERVER_NAMESPACE,
    SPIRE_SYSTEM_NAMESPACE,
    SAMPLE_NAMESPACE,
] as const;

// ---- ports between clusters ----

/**
 * The port of the network gateways' AUTO_PASSTHROUGH server, where the peer's
 * sidecars reach this network with end-to-end mTLS: what istiod announces for
 * cross-network traffic when the Service has no `networking.istio.io/gatewayPort`
 * label (istio's samples/multicluster/expose-services.yaml).
 */
export const CROSS_NETWORK_PORT = 15443;
/** The SPIRE bundle endpoint's port (chart default `federation.bundleEndpoint.port`, stated so the Service, the URL and the network policies use one number). */
export const FEDERATION_PORT = 8443;

// ---- the lab PKI ----

/**
 * The CAs below the root on the longest chain the lab builds: root -> SPIRE
 * upstream intermediate -> SPIRE server CA -> SVID (SPIRE's disk UpstreamAuthority
 * signs the SPIRE server's own CA; Istio's chain, root -> Istio intermediate ->
 * leaf, is shorter). The SPIRE upstream intermediate gets path length one less;
 * a brought root's pathLenConstraint must be at least this.
 */
export const CAS_BELOW_ROOT = 2;

// ---- identities ----

/** A SPIFFE ID: `spiffe://<trust domain><path>`, the path empty or starting with "/". */
export function spiffeId(trustDomain: string, path: string): string {
    return `spiffe://${trustDomain}${path}`;
}

/** The path Istio requires of a workload's SPIFFE ID: `/ns/<namespace>/sa/<service account>`. */
function workloadPath(namespace: string, serviceAccount: string): string {
    return `/ns/${namespace}/sa/${serviceAccount}`;
}

/**
 * The SPIFFE ID Istio gives (and requires of) a workload,
 * `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`
 * (istio.io, ops/integrations/spire: "All registrations must follow the Istio SPIFFE ID pattern").
 */
export function workloadSpiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
    return spiffeId(trustDomain, workloadPath(namespace, serviceAccount));
}

/** A workload's mTLS principal in Istio's AuthorizationPolicy: its SPIFFE ID without `spiffe://`. */
export function workloadPrincipal(trustDomain: string, namespace: string, serviceAccount: string): string {
    return `${trustDomain}${workloadPath(namespace, serviceAccount)}`;
}

/** The Secret (in istio-system) that holds a peer cluster's reader kubeconfig, as `istioctl create-remote-secret` names it. */
export function remoteSecretName(clusterName: string): string {
    return `istio-remote-secret-${clusterName}`;
}

// ---- what each layer of a cluster hands to the layers above it (docs/design.md, "Layers") ----

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

// ---- the cross-stack protocol (docs/design.md, "The cross-stack protocol") ----

/** Whether a stack owns the lab root CA (`pki.role`): the config schema takes these values. */
export const PKI_ROLES = ["root", "peer"] as const;
export type PkiRole = (typeof PKI_ROLES)[number];
/** One trust domain and root for the lab, or one per cluster (`mesh.trustModel`): the config schema takes these values. */
export const TRUST_MODELS = ["shared", "federated"] as const;
export type TrustModel = (typeof TRUST_MODELS)[number];

/** Every pinned version (`versions.*` in a stack file). */
export interface Versions {
    readonly kubernetes: string;
    readonly cilium: string;
    readonly metallb: string;
    readonly istio: string;
    readonly spireCrds: string;
    readonly spire: string;
    readonly prometheus: string;
    readonly kiali: string;
    readonly grafana: string;
}

/**
 * The version of the cross-stack protocol (the outputs of PEER_OUTPUTS and their
 * shapes) this program exports, as the identity's `protocolVersion`. It starts at 2:
 * the identities exported before it had a number, which carry no `protocolVersion`,
 * are protocol 1. A stack reads a peer of its own protocol; one behind is read with a
 * warning naming its `pulumi up` as the next run; any other is refused (stacks/peer.ts,
 * docs/upgrade.md "The cross-stack protocol").
 */
export const PROTOCOL_VERSION = 2;

/** The non-secret `identity` output: what the peer needs for its consistency checks. */
export interface ClusterIdentity {
    /** PROTOCOL_VERSION of the program that exported it. */
    readonly protocolVersion: number;
    readonly clusterName: string;
    readonly clusterId: number;
    readonly network: string;
    readonly meshId: string;
    readonly trustDomain: string;
    readonly trustModel: TrustModel;
    readonly metallbAddresses: string[];
    readonly podCidr: string;
    readonly serviceCidr: string;
    /**
     * The east-west gateway's MetalLB address (`metallb.eastWestAddress`): the peer's
     * network policies let its pods out to it from its first run on, before this
     * cluster's gateway exists.
     */
    readonly eastWestAddress: string;
    /** Every pinned version (`versions.*`): the lab runs one set of versions in both clusters. */
    readonly versions: Versions;
    /** Which stack owns the lab root CA. */
    readonly pkiRole: PkiRole;
    /** The lab machines' addresses this stack uses, by key ("host.address", "registry.host", ...). */
    readonly labAddresses: Record<string, string>;
}

/**
 * The `federation` output (federated trust model only): what the peer's SPIRE
 * server needs for a ClusterFederatedTrustDomain pointing at this cluster.
 */
export interface SpireFederation {
    /** This cluster's SPIFFE trust domain. */
    readonly trustDomain: string;
    /** The SPIRE bundle endpoint on its MetalLB address, e.g. "https://10.5.0.102:8443". */
    readonly bundleEndpointURL: string;
    /** The SPIRE server's own ID, which the bundle endpoint presents (`https_spiffe` profile). */
    readonly endpointSPIFFEID: string;
    /** This trust domain's bundle in SPIFFE bundle format, to bootstrap the first fetch; absent when it could not be built. */
    readonly trustDomainBundle?: string;
}

/** The `remoteSecret` output (secret): what the peer needs to reach this cluster's API server as the Istio reader. */
export interface RemoteSecretValue {
    /** The cluster's mesh name: the key of the peer's Secret, istiod's cluster id for it. */
    readonly clusterName: string;
    /** A kubeconfig with the API server, its CA and the reader's token. */
    readonly kubeconfig: string;
}

/** One cluster's certificate signing requests (PEM), one per intermediate. Public: the `signingRequests` output. */
export interface SigningRequests {
    readonly istio: string;
    readonly spire: string;
}

/** The certificates a root signed for one cluster's requests (PEM). Public: the `signedIntermediates` output holds them by cluster. */
export interface SignedIntermediates {
    readonly istio: string;
    readonly spire: string;
}

/** Names of the stack outputs of the protocol. */
export const PEER_OUTPUTS = [
    "identity",
    "rootCaCert",
    "labServicesCaCert",
    "signingRequests",
    "signedIntermediates",
    "remoteSecret",
    "eastWestAddress",
    "federation",
    "usedFromPeer",
] as const;
export type PeerOutputName = (typeof PEER_OUTPUTS)[number];

/**
 * Everything a stack exports, in one place: the outputs of the cross-stack
 * protocol (PEER_OUTPUTS, which its peers read) and what the user, kubectl and
 * `verify` read. An output is absent until what makes it is declared.
 */
export interface StackOutputs {
    readonly identity: ClusterIdentity;
    /** This cluster's intermediate signing requests (shared trust model): the root stack signs them. */
    readonly signingRequests?: pulumi.Output<SigningRequests>;
    /** The root stack's signed intermediates by cluster name (shared trust model). */
    readonly signedIntermediates?: pulumi.Output<Record<string, SignedIntermediates>>;
    /** The root this cluster's intermediates chain to (the lab root; in the federated model its trust domain's). */
    readonly rootCaCert?: pulumi.Output<string>;
    /**
     * The lab-services CA (root-role stack): the one CA of comp1's server certificates
     * (registry, issuer). Peers trust it for the registry (containerd) and the JWKS fetch (istiod) only.
     */
    readonly labServicesCaCert?: pulumi.Output<string>;
    /** The Istio reader's kubeconfig of this cluster (secret): every peer installs it as a remote secret. */
    readonly remoteSecret?: pulumi.Output<RemoteSecretValue>;
    /** The east-west gateway's address, once the gateway is declared. */
    readonly eastWestAddress?: string;
    /** This cluster's SPIRE bundle endpoint (federated trust model). */
    readonly federation?: pulumi.Output<SpireFederation>;
    /** The peer outputs this run declared resources from, by the peer's cluster name. */
    readonly usedFromPeer: UsedFromPeers;
    /** The cluster's admin kubeconfig (secret), for kubectl and verify. */
    readonly kubeconfig?: pulumi.Output<string>;
    /** The lab issuer (root stack on comp1): what verify needs to get a token. */
    readonly issuer?: {
        readonly url: string;
        readonly tokenUrl: string;
        readonly clientId: string;
        readonly otherClientId: string;
    };
    readonly issuerClientSecret?: pulumi.Output<string>;
    /** The secret of the issuer's second client, whose tokens carry an audience the ingress refuses (verify shows it). */
    readonly issuerOtherClientSecret?: pulumi.Output<string>;
    readonly grafanaAdminPassword?: pulumi.Output<string>;
    /** The lab registry (root stack on comp1): where to push, and as whom. */
    readonly registry?: { readonly endpoint: pulumi.Output<string>; readonly pushUser: string };
    /** The registry's push password (secret); pulls need none. */
    readonly registryPushPassword?: pulumi.Output<string>;
}

/**
 * The `usedFromPeer` output: for each peer (by cluster name) the names of its
 * outputs this stack declared resources from.
 */
export type UsedFromPeers = Readonly<Record<string, PeerOutputName[]>>;
