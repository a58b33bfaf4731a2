// SPIRE: the server (with its controller manager), agents and the SPIFFE CSI
// driver, from the upstream hardened charts, with the cluster's SPIRE
// intermediate from the lab PKI as upstream authority. The chart's values are
// spire-values.ts's, the federated model's bundle endpoint spire-federation.ts's,
// the server's local volume spire-storage.ts's.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { SpireFederation, SPIRE_SERVER_NAMESPACE, SPIRE_SYSTEM_NAMESPACE } from "../model/lab";
import { ChartRef, helmRelease } from "./chart";
import { SpireUpstreamFiles } from "./pki";
import { declareFederation, SpireFederationArgs } from "./spire-federation";
import { localDataVolume, SPIRE_DATA_CLASS } from "./spire-storage";
import { SPIRE_CLASS_NAME, SPIRE_RELEASE, spireValues } from "./spire-values";

export const SPIRE_CHART_REPO = "https://spiffe.github.io/helm-charts-hardened";

/** The property path of the server's persistence in the spire release's inputs (a key with a dash: bracket notation). */
export const SPIRE_PERSISTENCE_PATH = 'values["spire-server"].persistence';

/** Keys of the upstream-authority Secret: the chart mounts the whole Secret at /run/spire/upstream_ca and points the disk plugin at these files. */
export const UPSTREAM_CA_KEYS = ["tls.crt", "tls.key", "bundle.crt"] as const;

export interface SpireServerArgs {
    /** SPIFFE trust domain: must equal Istio's `meshConfig.trustDomain` (both come from `mesh.trustDomain`). */
    readonly trustDomain: string;
    /** The cluster's name (`cluster.name`), SPIRE's `clusterName` for node attestation. */
    readonly clusterName: string;
    /** Pinned versions of the `spire-crds` and `spire` charts. */
    readonly versions: { readonly crds: string; readonly spire: string };
    /** This cluster's SPIRE intermediate, its key and the lab root (secret). */
    readonly upstreamCa: pulumi.Input<SpireUpstreamFiles>;
    /** The CNI release: SPIRE's pods cannot start before it runs. */
    readonly cni?: pulumi.Resource;
    /** Set for the federated trust model. */
    readonly federation?: SpireFederationArgs;
    /**
     * A directory on the control-plane node for the server's datastore and keys, as a
     * local PersistentVolume (a bare kubeadm node has no StorageClass). Absent: the
     * chart's PersistentVolumeClaim with the cluster's default StorageClass.
     */
    readonly localDataPath?: string;
    /** Run SPIRE's OIDC discovery provider (off by default: nothing in the testbed needs it). */
    readonly oidcDiscovery?: boolean;
}

/**
 * SPIRE for one cluster: namespaces, the upstream-authority Secret, the
 * `spire-crds` and `spire` charts, and in the federated trust model the bundle
 * endpoint's LoadBalancer Service and a ClusterFederatedTrustDomain per peer.
 *
 * Charts are `helm.v3.Release`s (components/chart.ts): the spire chart's
 * install/upgrade hooks (which set the webhook failure policy) then run as
 * upstream intends.
 */
export class SpireServer extends pulumi.ComponentResource {
    /** The controller manager class our ClusterSPIFFEIDs must carry (it ignores classless ones). */
    public readonly className: string;
    /** The disk UpstreamAuthority's Secret (secret values: the intermediate, its key, the lab root). */
    public readonly upstreamCa: k8s.core.v1.Secret;
    /** The CRD chart. */
    public readonly crds: k8s.helm.v3.Release;
    /** The server, agent and CSI driver chart. */
    public readonly release: k8s.helm.v3.Release;
    /** What ClusterSPIFFEIDs and gateways wait for: CRDs, the release, and the peers' federations when declared. */
    public readonly ready: pulumi.Resource[];
    /** Trust domains SVIDs must federate with (every federated peer's). */
    public readonly federatesWith: pulumi.Output<string[]>;
    /** This cluster's bundle endpoint, for the peers (federated trust model only). */
    public readonly federation?: pulumi.Output<SpireFederation>;

    constructor(name: string, args: SpireServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:identity:SpireServer", name, {}, opts);
        this.className = SPIRE_CLASS_NAME;

        // The chart creates no namespaces by default (global.spire.namespaces.*.create: false);
        // we create them with the Pod Security labels the chart's recommendations would set
        // (charts/spire-lib/templates/_spire-{server,system}-namespace.yaml): the server is
        // restricted, the agent and CSI driver (hostPath sockets, privileged) need privileged.
        const serverNs = new k8s.core.v1.Namespace(
            `${name}-server-ns`,
            { metadata: { name: SPIRE_SERVER_NAMESPACE, labels: podSecurity("restricted") } },
            { parent: this },
        );
        const systemNs = new k8s.core.v1.Namespace(
            `${name}-system-ns`,
            { metadata: { name: SPIRE_SYSTEM_NAMESPACE, labels: podSecurity("privileged") } },
            { parent: this },
        );

        // The disk UpstreamAuthority's files, from the lab PKI. Each value stays secret.
        const upstreamCa = pulumi.output(args.upstreamCa);
        this.upstreamCa = new k8s.core.v1.Secret(
            `${name}-upstream-ca`,
            {
                metadata: { name: "spire-upstream-ca", namespace: serverNs.metadata.name },
                type: "kubernetes.io/tls",
                stringData: Object.fromEntries(
                    UPSTREAM_CA_KEYS.map((k) => [k, pulumi.secret(upstreamCa.apply((f) => f[k]))]),
                ),
            },
            { parent: this },
        );

        // Pods need the CNI; no data flows from it.
        const afterCni = args.cni ? [args.cni] : [];

        // Survives the pod: the SQLite datastore (entries, attested agents) and the disk KeyManager's
        // keys.json (SPIRE's own CA keys) live under /run/spire/data, on this volume.
        const dataVolume = args.localDataPath ? localDataVolume(name, args.localDataPath, { parent: this }) : [];
        this.crds = helmRelease(
            `${name}-crds`,
            {
                ref: { chart: "spire-crds", repo: SPIRE_CHART_REPO, version: args.versions.crds },
                namespace: serverNs.metadata.name,
                values: {},
            },
            { parent: this },
        );
        const ref: ChartRef = { chart: "spire", repo: SPIRE_CHART_REPO, version: args.versions.spire };
        this.release = helmRelease(
            `${name}-chart`,
            {
                ref,
                releaseName: SPIRE_RELEASE,
                namespace: serverNs.metadata.name,
                values: spireValues({
                    trustDomain: args.trustDomain,
                    clusterName: args.clusterName,
                    // The Secret's name flows into the values: the release waits for the Secret,
                    // whose absence would leave the server pod in ContainerCreating.
                    upstreamSecret: this.upstreamCa.metadata.name,
                    systemNamespace: systemNs.metadata.name,
                    federated: args.federation !== undefined,
                    oidcDiscovery: args.oidcDiscovery ?? false,
                    dataStorageClass: args.localDataPath ? SPIRE_DATA_CLASS : undefined,
                }),
            },
            {
                parent: this,
                // The chart's CRDs live in spire-crds: the controller manager fails without them; the
                // server's claim binds only to the volume made for it.
                dependsOn: [this.crds, ...afterCni, ...dataVolume],
                // The persistence decides the StatefulSet's volumeClaimTemplates, which the API server
                // lets no update change ("spec: Forbidden: updates to statefulset spec for fields other
                // than ..."), and Helm patches the StatefulSet of a release: a change of it (a lab from
                // before commit 238f2cc, on an emptyDir) fails. The Kubernetes provider's own
                // replace-on-change of that field reaches only the objects it manages, not the ones
                // inside a release, so the release itself is replaced: `helm uninstall`, then `helm
                // install` with the new StatefulSet. Deleted first: the new release has the same Helm
                // name and objects. Any other change (a chart version) stays an in-place upgrade.
                replaceOnChanges: [SPIRE_PERSISTENCE_PATH],
                deleteBeforeReplace: true,
            },
        );
        this.ready = [this.crds, this.release];

        const fed = args.federation;
        if (fed) {
            const declared = declareFederation(
                name,
                {
                    ...fed,
                    trustDomain: args.trustDomain,
                    namespace: serverNs.metadata.name,
                    reconciledBy: [this.crds, this.release],
                },
                { parent: this },
            );
            this.federation = declared.federation;
            this.ready = [...this.ready, ...declared.peerDomains];
        }
        this.federatesWith = pulumi.all(
            (fed?.peers ?? []).map((p) => pulumi.output(p.federation).apply((f) => f.trustDomain)),
        );

        this.registerOutputs({
            className: this.className,
            upstreamCa: this.upstreamCa,
            crds: this.crds,
            release: this.release,
            federatesWith: this.federatesWith,
            federation: this.federation,
        });
    }
}

function podSecurity(level: "restricted" | "privileged"): Record<string, string> {
    return Object.fromEntries(
        ["enforce", "audit", "warn"].map((mode) => [`pod-security.kubernetes.io/${mode}`, level]),
    );
}
