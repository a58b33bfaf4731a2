// Replaces `istioctl create-remote-secret` across the stacks: each stack exports a
// reader kubeconfig of its own cluster; every peer installs it for its istiod.
import { KubeConfig } from "@kubernetes/client-node";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { remoteSecretName, RemoteSecretValue } from "../model/lab";

/**
 * The service account whose token goes to the peers. Ours, not the `base` chart's
 * `istio-reader-service-account`: the chart binds that one (istiod chart,
 * templates/reader-clusterrolebinding.yaml) to a ClusterRole that reads every Secret,
 * so no binding of the chart names this account, and the chart's reader RBAC is
 * turned off besides (`global.enableReaderRBAC: false`, components/istio.ts).
 */
export const REMOTE_READER_ACCOUNT = "zta-istio-remote-reader";
/** The ClusterRole of REMOTE_READER_RULES, and the istio-system Role of REMOTE_READER_MESH_CONFIG_RULES (same name). */
export const REMOTE_READER_ROLE = "zta-istio-remote-reader";
/** The reader's long-lived token Secret (istio-system), whose token the peers get. */
export const REMOTE_READER_TOKEN_SECRET = "zta-istio-remote-reader-token";
/** The mesh ConfigMap a peer's istiod reads here (revision ""): pilot/pkg/serviceregistry/kube/controller/multicluster.go, getMeshConfigMapName. */
export const MESH_CONFIGMAP = "istio";

/**
 * What istiod 1.30.3 reads from a peer cluster in a multi-primary mesh: its
 * informers on the cluster a remote secret opens, and nothing else. Informers
 * list and watch; no code path istiod runs for a peer primary calls `get` (the one
 * direct Get, of the system namespace in multicluster.go checkShouldLead, runs
 * only with EXTERNAL_ISTIOD). Read-only, and no `secrets`. Upstream files
 * (istio 1.30.3 source) per rule:
 */
export const REMOTE_READER_RULES = [
    // namespaces: pkg/kube/multicluster/cluster.go (Cluster.Run: the discovery-namespaces filter,
    // buildClusterCollections) and pilot/pkg/serviceregistry/kube/controller/controller.go (NewController:
    // the system namespace's network label). services, pods, nodes: controller.go (NewController),
    // cluster.go (buildClusterCollections), pilot/pkg/serviceregistry/kube/controller/pod.go; pods also
    // security/pkg/server/ca/node_auth.go (the CA's node authorizer, on with CA_TRUSTED_NODE_ACCOUNTS, which
    // the istiod chart always sets).
    { apiGroups: [""], resources: ["namespaces", "services", "pods", "nodes"], verbs: ["list", "watch"] },
    // pilot/pkg/serviceregistry/kube/controller/endpointslice.go (the peer's endpoints), cluster.go.
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
    // controller/multicluster.go createWleConfigStore (PILOT_ENABLE_CROSS_CLUSTER_WORKLOAD_ENTRY, default on):
    // the peer's WorkloadEntries, through pilot/pkg/config/kube/crdclient.
    { apiGroups: ["networking.istio.io"], resources: ["workloadentries"], verbs: ["list", "watch"] },
    // cluster.go buildClusterCollections and controller/network.go (PILOT_MULTI_NETWORK_DISCOVER_GATEWAY_API,
    // default on): Gateway API gateways, read once their CRD exists.
    { apiGroups: ["gateway.networking.k8s.io"], resources: ["gateways"], verbs: ["list", "watch"] },
    // pkg/kube/kclient/crdwatcher.go: which CRDs exist, for the delayed informers above (enabled for remote
    // clients in pkg/kube/multicluster/secretcontroller.go, DefaultBuildClientsFromConfig).
    { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["list", "watch"] },
];

/**
 * The peer's istiod reads this cluster's mesh config (trust domain and the like):
 * controller/multicluster.go NewMulticluster, through pkg/config/mesh/kubemesh
 * NewConfigMapSource, an informer on istio-system with the field selector
 * `metadata.name=istio`, which a Role scoped by resourceNames authorizes.
 */
export const REMOTE_READER_MESH_CONFIG_RULES = [
    { apiGroups: [""], resources: ["configmaps"], resourceNames: [MESH_CONFIGMAP], verbs: ["list", "watch"] },
];

/** istiod's secret controller watches Secrets with this label in its namespace (pkg/kube/multicluster/secretcontroller.go). */
export const MULTICLUSTER_LABEL = "istio/multiCluster";
export const CLUSTER_ANNOTATION = "networking.istio.io/cluster";

/**
 * Why an API server URL cannot go into a remote secret, or undefined: the
 * peer's istiod dials it from the other cluster, so loopback and in-cluster
 * names (which resolve to the peer's own API server) are wrong.
 */
export function unreachableApiServerProblem(server: string): string | undefined {
    let host: string;
    try {
        const url = new URL(server);
        if (url.protocol !== "https:") return `API server "${server}" is not an https:// URL`;
        host = url.hostname.replace(/^\[|\]$/g, "");
    } catch {
        return `API server "${server}" is not a URL`;
    }
    if (host === "localhost" || host === "::1" || /^127\./.test(host) || host === "0.0.0.0") {
        return `API server "${server}" is a loopback address: the peer cluster cannot reach it; use the host's management address`;
    }
    if (host === "kubernetes" || host.startsWith("kubernetes.default")) {
        return `API server "${server}" is the in-cluster name: from the peer it names the peer's own API server; use the host's management address`;
    }
    return undefined;
}

/**
 * A kubeconfig for the reader, as istioctl writes it: one cluster, user and
 * context, all named after the cluster. `caData` is base64 (as the token
 * Secret's `ca.crt` data already is); `token` is the plain token.
 */
export function readerKubeconfig(clusterName: string, server: string, caData: string, token: string): string {
    const problem = unreachableApiServerProblem(server);
    if (problem) throw new Error(`remote secret for ${clusterName}: ${problem}`);
    const kc = new KubeConfig();
    kc.loadFromOptions({
        clusters: [{ name: clusterName, server, caData, skipTLSVerify: false }],
        users: [{ name: clusterName, token }],
        contexts: [{ name: clusterName, cluster: clusterName, user: clusterName }],
        currentContext: clusterName,
    });
    return kc.exportConfig();
}

export interface RemoteSecretSourceArgs {
    /** istio-system. */
    readonly namespace: pulumi.Input<string>;
    /** This cluster's mesh name. */
    readonly clusterName: string;
    /** API server URL the peer can reach (ClusterAccess.apiServer). */
    readonly apiServer: pulumi.Input<string>;
}

/**
 * The exporting half: a service account of our own bound to exactly what a peer's
 * istiod reads (REMOTE_READER_RULES, REMOTE_READER_MESH_CONFIG_RULES), a
 * long-lived token for it (a `kubernetes.io/service-account-token` Secret, which
 * istioctl also uses), read back once Kubernetes fills it in (pulumi-kubernetes
 * waits for that, pulumi-kubernetes#2048), turned into a kubeconfig. Everything
 * it yields is secret.
 *
 * Left out on purpose, though istiod would use them for a peer cluster's own
 * proxies (primary-remote, external control plane), which a multi-primary mesh
 * does not have (each proxy connects to its own cluster's istiod):
 * - `secrets` (list/watch, cluster-wide): pilot/pkg/credentials/kube/secrets.go,
 *   the credentialName certificates of gateways whose proxies connect from the
 *   peer. That informer lists every Secret of the cluster, so no resourceNames
 *   rule can scope it. Without it the informer never syncs, and istiod reports
 *   the peer as `timeout`, not `synced`, PILOT_REMOTE_CLUSTER_TIMEOUT (30 s) after
 *   it starts (pkg/kube/multicluster/cluster.go, Cluster.Run); the service registry
 *   of the peer syncs on its own informers and serves its endpoints.
 * - `subjectaccessreviews` and `tokenreviews` (create): the same credentials
 *   controller's Authorize, and the CA's token authentication, for such proxies.
 * - MCS `serviceexports`/`serviceimports`: ENABLE_MCS_SERVICE_DISCOVERY and
 *   ENABLE_MCS_HOST are off (controller/serviceexportcache.go, serviceimportcache.go).
 * - writes (webhook patching, the root-certificate ConfigMaps, leader election)
 *   happen in a peer only with EXTERNAL_ISTIOD (controller/multicluster.go), off.
 */
export class RemoteSecretSource extends pulumi.ComponentResource {
    /** The reader's service account. */
    public readonly account: k8s.core.v1.ServiceAccount;
    /** The `remoteSecret` stack output (secret). */
    public readonly remoteSecret: pulumi.Output<RemoteSecretValue>;

    constructor(name: string, args: RemoteSecretSourceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:mesh:RemoteSecretSource", name, {}, opts);
        const account = (this.account = new k8s.core.v1.ServiceAccount(
            `${name}-account`,
            { metadata: { name: REMOTE_READER_ACCOUNT, namespace: args.namespace } },
            { parent: this },
        ));
        const subjects = [
            { kind: "ServiceAccount", name: account.metadata.name, namespace: account.metadata.namespace },
        ];
        const clusterRole = new k8s.rbac.v1.ClusterRole(
            `${name}-role`,
            { metadata: { name: REMOTE_READER_ROLE }, rules: REMOTE_READER_RULES },
            { parent: this },
        );
        const clusterBinding = new k8s.rbac.v1.ClusterRoleBinding(
            `${name}-binding`,
            {
                metadata: { name: REMOTE_READER_ROLE },
                roleRef: {
                    apiGroup: "rbac.authorization.k8s.io",
                    kind: "ClusterRole",
                    name: clusterRole.metadata.name,
                },
                subjects,
            },
            { parent: this },
        );
        const meshConfigRole = new k8s.rbac.v1.Role(
            `${name}-mesh-config-role`,
            {
                metadata: { name: REMOTE_READER_ROLE, namespace: args.namespace },
                rules: REMOTE_READER_MESH_CONFIG_RULES,
            },
            { parent: this },
        );
        const meshConfigBinding = new k8s.rbac.v1.RoleBinding(
            `${name}-mesh-config-binding`,
            {
                metadata: { name: REMOTE_READER_ROLE, namespace: args.namespace },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: meshConfigRole.metadata.name },
                subjects,
            },
            { parent: this },
        );
        const token = new k8s.core.v1.Secret(
            `${name}-token`,
            {
                metadata: {
                    name: REMOTE_READER_TOKEN_SECRET,
                    namespace: args.namespace,
                    annotations: { "kubernetes.io/service-account.name": account.metadata.name },
                },
                type: "kubernetes.io/service-account-token",
            },
            // No data flows from the bindings, but the token the peers get should read what
            // istiod needs from the moment they have it.
            { parent: this, dependsOn: [clusterBinding, meshConfigBinding], additionalSecretOutputs: ["data"] },
        );
        const clusterName = args.clusterName;
        this.remoteSecret = pulumi.secret(
            pulumi.all([token.data, args.apiServer]).apply(([data, server]): RemoteSecretValue => {
                const caData = data?.["ca.crt"];
                const jwt = data?.token;
                if (!caData || !jwt)
                    throw new Error(
                        `${REMOTE_READER_TOKEN_SECRET} has no token or ca.crt: the token controller has not filled it in`,
                    );
                return {
                    clusterName,
                    kubeconfig: readerKubeconfig(
                        clusterName,
                        server,
                        caData,
                        Buffer.from(jwt, "base64").toString("utf8"),
                    ),
                };
            }),
        );
        this.registerOutputs({ account: this.account, remoteSecret: this.remoteSecret });
    }
}

export interface RemoteSecretArgs {
    /** istio-system, where istiod looks for remote secrets. */
    readonly namespace: pulumi.Input<string>;
    /** The peer's cluster name as this stack expects it (its zta-testbed:roster entry's clusterName). */
    readonly peerClusterName: string;
    /** The peer's `remoteSecret` output (secret). */
    readonly remoteSecret: pulumi.Output<RemoteSecretValue>;
}

/**
 * The installing half: the peer's reader kubeconfig as istioctl's remote
 * secret, from which istiod discovers the peer's endpoints.
 */
export class RemoteSecret extends pulumi.ComponentResource {
    public readonly secret: k8s.core.v1.Secret;

    constructor(name: string, args: RemoteSecretArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:mesh:RemoteSecret", name, {}, opts);
        const peer = args.peerClusterName;
        const kubeconfig = pulumi.secret(
            args.remoteSecret.apply((rs) => {
                // istiod takes the data key as the cluster id; it must be the name the peer uses for itself.
                if (rs.clusterName !== peer)
                    throw new Error(
                        `the peer's remoteSecret is for cluster "${rs.clusterName}", expected "${peer}" (the clusterName of its zta-testbed:roster entry)`,
                    );
                return rs.kubeconfig;
            }),
        );
        this.secret = new k8s.core.v1.Secret(
            `${name}-secret`,
            {
                metadata: {
                    name: remoteSecretName(peer),
                    namespace: args.namespace,
                    labels: { [MULTICLUSTER_LABEL]: "true" },
                    annotations: { [CLUSTER_ANNOTATION]: peer },
                },
                type: "Opaque",
                stringData: { [peer]: kubeconfig },
            },
            { parent: this, additionalSecretOutputs: ["data", "stringData"] },
        );
        this.registerOutputs({ secret: this.secret });
    }
}
