// Replaces `istioctl create-remote-secret` across the stacks: each stack exports a
// reader kubeconfig of its own cluster; every peer installs it for its istiod.
import { KubeConfig } from "@kubernetes/client-node";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { remoteSecretName, RemoteSecretValue } from "../model/lab";

/** The service account the `base` chart creates for remote istiods (templates/reader-serviceaccount.yaml). */
export const READER_SERVICE_ACCOUNT = "istio-reader-service-account";
/** The name istioctl gives the reader's long-lived token Secret (istioctl/pkg/multicluster/remote_secret.go). */
export const READER_TOKEN_SECRET = `${READER_SERVICE_ACCOUNT}-istio-remote-secret-token`;
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
    readonly provider: k8s.Provider;
    /** istio-system. */
    readonly namespace: pulumi.Input<string>;
    /** This cluster's mesh name. */
    readonly clusterName: string;
    /** API server URL the peer can reach (ClusterAccess.apiServer). */
    readonly apiServer: pulumi.Input<string>;
    /** The `base` release, which creates the reader service account. */
    readonly readerAccount: pulumi.Resource;
}

/**
 * The exporting half: a long-lived token for the Istio reader (a
 * `kubernetes.io/service-account-token` Secret, which istioctl also uses), read
 * back once Kubernetes fills it in (pulumi-kubernetes waits for that,
 * pulumi-kubernetes#2048), turned into a kubeconfig. Everything it yields is secret.
 */
export class RemoteSecretSource extends pulumi.ComponentResource {
    /** The `remoteSecret` stack output (secret). */
    public readonly remoteSecret: pulumi.Output<RemoteSecretValue>;

    constructor(name: string, args: RemoteSecretSourceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:mesh:RemoteSecretSource", name, {}, opts);
        const token = new k8s.core.v1.Secret(
            `${name}-token`,
            {
                metadata: {
                    name: READER_TOKEN_SECRET,
                    namespace: args.namespace,
                    annotations: { "kubernetes.io/service-account.name": READER_SERVICE_ACCOUNT },
                },
                type: "kubernetes.io/service-account-token",
            },
            // No data flows from `base`, but the service account must exist first: the token
            // controller deletes a token Secret whose account is missing (pulumi-kubernetes#4396).
            { parent: this, provider: args.provider, dependsOn: [args.readerAccount], additionalSecretOutputs: ["data"] },
        );
        const clusterName = args.clusterName;
        this.remoteSecret = pulumi.secret(
            pulumi.all([token.data, args.apiServer]).apply(([data, server]): RemoteSecretValue => {
                const caData = data?.["ca.crt"];
                const jwt = data?.token;
                if (!caData || !jwt) throw new Error(`${READER_TOKEN_SECRET} has no token or ca.crt: the token controller has not filled it in`);
                return { clusterName, kubeconfig: readerKubeconfig(clusterName, server, caData, Buffer.from(jwt, "base64").toString("utf8")) };
            }),
        );
        this.registerOutputs({ remoteSecret: this.remoteSecret });
    }
}

export interface RemoteSecretArgs {
    readonly provider: k8s.Provider;
    /** istio-system, where istiod looks for remote secrets. */
    readonly namespace: pulumi.Input<string>;
    /** The peer's cluster name as this stack expects it (its zta-testbed:peers entry's clusterName). */
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
                if (rs.clusterName !== peer) throw new Error(`the peer's remoteSecret is for cluster "${rs.clusterName}", expected "${peer}" (the clusterName of its zta-testbed:peers entry)`);
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
            { parent: this, provider: args.provider, additionalSecretOutputs: ["data", "stringData"] },
        );
        this.registerOutputs({ secret: this.secret });
    }
}
