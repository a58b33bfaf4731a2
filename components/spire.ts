// SPIRE: the server (with its controller manager), agents and the SPIFFE CSI
// driver, from the upstream hardened charts, with the cluster's SPIRE
// intermediate from the lab PKI as upstream authority.
import { X509Certificate } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ChartRef, helmRelease } from "./chart";
import { TypedCustomResource } from "./crd";
import { loadBalancerAnnotations } from "./metallb";
import { SpireUpstreamFiles } from "./pki";
import { FEDERATION_PORT, METALLB_POOL, SPIFFE_CSI_DRIVER, spiffeId, SpireFederation, SPIRE_SERVER_NAMESPACE, SPIRE_SYSTEM_NAMESPACE } from "../model/lab";

export const SPIRE_CHART_REPO = "https://spiffe.github.io/helm-charts-hardened";
/** The `spire` release's name: the server's pod labels (`app.kubernetes.io/instance`) carry it. */
export const SPIRE_RELEASE = "spire";
/**
 * The controller manager's class. The chart's default is `<release namespace>-<release name>`
 * (`spire-server.controller-manager-class-name` in charts/spire-server/templates/_helpers.tpl);
 * naming it here lets our ClusterSPIFFEIDs carry the same string without depending on how
 * the release is named.
 */
export const SPIRE_CLASS_NAME = "zta-testbed";
/** The StorageClass name of the server's local PersistentVolume: its claim asks for this class, so nothing else binds it. */
export const SPIRE_DATA_CLASS = "zta-spire-server-local";
/** Size of the server's volume; the chart's `persistence.size` default, stated so the claim and the PersistentVolume agree. */
export const SPIRE_DATA_SIZE = "1Gi";
/**
 * The claim the server's StatefulSet makes: `<volumeClaimTemplate>-<StatefulSet>-<ordinal>`,
 * here `spire-data` (charts/spire-server/templates/server-resource.yaml) and the
 * StatefulSet `spire-server` (release `spire`, nameOverride `server`).
 */
export const SPIRE_DATA_CLAIM = "spire-data-spire-server-0";

/** Keys of the upstream-authority Secret: the chart mounts the whole Secret at /run/spire/upstream_ca and points the disk plugin at these files. */
export const UPSTREAM_CA_KEYS = ["tls.crt", "tls.key", "bundle.crt"] as const;

/** ClusterFederatedTrustDomain spec, by hand from spire-controller-manager v0.6.2 `spire.spiffe.io_clusterfederatedtrustdomains.yaml`. */
export interface ClusterFederatedTrustDomainSpec {
    /** The federated trust domain, `[a-z0-9._-]{1,255}`. */
    readonly trustDomain: string;
    /** HTTPS URL of that trust domain's bundle endpoint (no userinfo). */
    readonly bundleEndpointURL: string;
    readonly bundleEndpointProfile: {
        readonly type: "https_spiffe" | "https_web";
        /** Required for `https_spiffe`: the SPIFFE ID the endpoint presents. */
        readonly endpointSPIFFEID?: string;
    };
    /** The trust domain's bundle (SPIFFE bundle format), to bootstrap the first fetch. */
    readonly trustDomainBundle?: string;
    /** The controller manager class that acts on this object. */
    readonly className?: string;
}

/** What the federated trust model adds to a SPIRE server. */
export interface SpireFederationArgs {
    /** Fixed MetalLB address of this server's bundle endpoint (`metallb.federationAddress`). */
    readonly address: string;
    /** MetalLB's pool and advertisement: the LoadBalancer Service gets its address from them. */
    readonly loadBalancer: pulumi.Resource[];
    /** This trust domain's own root CA (PEM): its bundle, which the peers bootstrap from. */
    readonly rootCaCert: pulumi.Input<string>;
    /** The peers to federate with: those that exported their `federation` (the others are not deployed yet). */
    readonly peers: readonly FederatedPeer[];
}

/** A peer cluster this SPIRE server federates with. */
export interface FederatedPeer {
    /** The peer cluster's name (a DNS label): names its ClusterFederatedTrustDomain. */
    readonly name: string;
    /** The peer's `federation` output. */
    readonly federation: pulumi.Input<SpireFederation>;
}

export interface SpireServerArgs {
    /** The cluster's Kubernetes provider. */
    readonly provider: k8s.Provider;
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
        const provider = args.provider;
        this.className = SPIRE_CLASS_NAME;

        // The chart creates no namespaces by default (global.spire.namespaces.*.create: false);
        // we create them with the Pod Security labels the chart's recommendations would set
        // (charts/spire-lib/templates/_spire-{server,system}-namespace.yaml): the server is
        // restricted, the agent and CSI driver (hostPath sockets, privileged) need privileged.
        const serverNs = new k8s.core.v1.Namespace(`${name}-server-ns`, { metadata: { name: SPIRE_SERVER_NAMESPACE, labels: podSecurity("restricted") } }, { parent: this, provider });
        const systemNs = new k8s.core.v1.Namespace(`${name}-system-ns`, { metadata: { name: SPIRE_SYSTEM_NAMESPACE, labels: podSecurity("privileged") } }, { parent: this, provider });

        // The disk UpstreamAuthority's files, from the lab PKI. Each value stays secret.
        const upstreamCa = pulumi.output(args.upstreamCa);
        this.upstreamCa = new k8s.core.v1.Secret(
            `${name}-upstream-ca`,
            {
                metadata: { name: "spire-upstream-ca", namespace: serverNs.metadata.name },
                type: "kubernetes.io/tls",
                stringData: Object.fromEntries(UPSTREAM_CA_KEYS.map((k) => [k, pulumi.secret(upstreamCa.apply((f) => f[k]))])),
            },
            { parent: this, provider },
        );

        // Pods need the CNI; no data flows from it.
        const afterCni = args.cni ? [args.cni] : [];

        // Survives the pod: the SQLite datastore (entries, attested agents) and the disk KeyManager's
        // keys.json (SPIRE's own CA keys) live under /run/spire/data, on this volume.
        const dataVolume = args.localDataPath ? this.localDataVolume(name, args.localDataPath, provider) : [];
        this.crds = helmRelease(`${name}-crds`, { ref: { chart: "spire-crds", repo: SPIRE_CHART_REPO, version: args.versions.crds }, namespace: serverNs.metadata.name, values: {} }, { parent: this, provider });
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
            // The chart's CRDs live in spire-crds: the controller manager fails without them; the
            // server's claim binds only to the volume made for it.
            { parent: this, provider, dependsOn: [this.crds, ...afterCni, ...dataVolume] },
        );
        this.ready = [this.crds, this.release];

        const fed = args.federation;
        if (fed) {
            new k8s.core.v1.Service(
                `${name}-federation`,
                {
                    metadata: { name: "spire-server-federation", namespace: serverNs.metadata.name, annotations: loadBalancerAnnotations(fed.address, METALLB_POOL) },
                    spec: {
                        type: "LoadBalancer",
                        // The chart's own Service would also expose the server API (gRPC 443) if made a
                        // LoadBalancer; this one exposes only the bundle endpoint. Labels: the server
                        // pod's (charts/spire-server/templates/server-resource.yaml, nameOverride "server").
                        selector: { "app.kubernetes.io/name": "server", "app.kubernetes.io/instance": SPIRE_RELEASE, "app.kubernetes.io/component": "server" },
                        ports: [{ name: "federation", port: FEDERATION_PORT, targetPort: "federation", protocol: "TCP" }],
                    },
                },
                // MetalLB must have its pool before it can hand out the fixed address; no data flows.
                { parent: this, provider, dependsOn: fed.loadBalancer },
            );
            const bundleEndpointURL = `https://${fed.address}:${FEDERATION_PORT}`;
            this.federation = pulumi.output(fed.rootCaCert).apply((root): SpireFederation => ({
                trustDomain: args.trustDomain,
                bundleEndpointURL,
                endpointSPIFFEID: serverSpiffeId(args.trustDomain),
                ...optionalBundle(root),
            }));

            // One ClusterFederatedTrustDomain per peer, named after its cluster.
            const peerDomains = fed.peers.map(
                (peer) =>
                    new TypedCustomResource<ClusterFederatedTrustDomainSpec>(
                        `${name}-federation-${peer.name}`,
                        {
                            apiVersion: "spire.spiffe.io/v1alpha1",
                            kind: "ClusterFederatedTrustDomain",
                            metadata: { name: peer.name },
                            spec: pulumi.output(peer.federation).apply((p) => federatedTrustDomainSpec(p, SPIRE_CLASS_NAME)),
                        },
                        // Reconciled by the controller manager of the release; its CRD comes from spire-crds.
                        { parent: this, provider, dependsOn: [this.crds, this.release] },
                    ),
            );
            this.ready = [...this.ready, ...peerDomains];
        }
        this.federatesWith = pulumi.all((fed?.peers ?? []).map((p) => pulumi.output(p.federation).apply((f) => f.trustDomain)));

        this.registerOutputs({ className: this.className, upstreamCa: this.upstreamCa, crds: this.crds, release: this.release, federatesWith: this.federatesWith, federation: this.federation });
    }

    /**
     * A local PersistentVolume at `path` on the control-plane node, kept on release
     * (`Retain`), pre-bound to the server's claim, with a no-provisioner StorageClass
     * (Kubernetes' "local" volume docs: bind when the pod is scheduled). The directory
     * must exist: HostPrep makes it.
     */
    private localDataVolume(name: string, path: string, provider: k8s.Provider): pulumi.Resource[] {
        const storageClass = new k8s.storage.v1.StorageClass(
            `${name}-data-class`,
            { metadata: { name: SPIRE_DATA_CLASS }, provisioner: "kubernetes.io/no-provisioner", volumeBindingMode: "WaitForFirstConsumer", reclaimPolicy: "Retain" },
            { parent: this, provider },
        );
        const volume = new k8s.core.v1.PersistentVolume(
            `${name}-data`,
            {
                metadata: { name: "spire-server-data" },
                spec: {
                    capacity: { storage: SPIRE_DATA_SIZE },
                    accessModes: ["ReadWriteOnce"],
                    volumeMode: "Filesystem",
                    persistentVolumeReclaimPolicy: "Retain",
                    storageClassName: storageClass.metadata.name,
                    claimRef: { namespace: SPIRE_SERVER_NAMESPACE, name: SPIRE_DATA_CLAIM },
                    local: { path },
                    // The node kubeadm made: the only control-plane node of the cluster.
                    nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists" }] }] } },
                },
            },
            { parent: this, provider },
        );
        return [storageClass, volume];
    }
}

interface ValuesInputs {
    /** StorageClass of the server's data claim; absent: the cluster's default. */
    readonly dataStorageClass?: string;
    readonly trustDomain: string;
    readonly clusterName: string;
    readonly upstreamSecret: pulumi.Input<string>;
    readonly systemNamespace: pulumi.Input<string>;
    readonly federated: boolean;
    readonly oidcDiscovery: boolean;
}

/** Values of the umbrella `spire` chart (charts/spire/values.yaml; the keys are the same at spire-0.24.5 and spire-0.30.0); only what differs from upstream, or what others rely on. */
export function spireValues(v: ValuesInputs): Record<string, unknown> {
    return {
        global: {
            spire: {
                trustDomain: v.trustDomain,
                clusterName: v.clusterName,
                // Recommendations: the two-namespace layout (server in spire-server, agent, CSI driver
                // and bundle ConfigMap in spire-system), restricted security contexts, priority
                // classes, and strictMode, which fails rendering if trustDomain, clusterName or the CA
                // subject is still the chart's example value.
                recommendations: { enabled: true },
                namespaces: { server: { name: SPIRE_SERVER_NAMESPACE }, system: { name: v.systemNamespace } },
                // strictMode rejects the default subject (ARPA/Example/example.org). "ZZ" is the
                // ISO 3166 user-assigned code for "unknown": the lab has no country.
                caSubject: { country: "ZZ", organization: "zta-testbed", commonName: `SPIRE CA ${v.clusterName}` },
            },
        },
        "spire-server": {
            // The datastore and keys outlive the pod: a claim of the StatefulSet (`pvc`, the chart's
            // default), bound to our local PersistentVolume on a bare kubeadm node, else to the
            // cluster's default StorageClass. Not `hostPath`: the chart's hostPath volume is not
            // allowed in the restricted spire-server namespace, and kubelet applies the pod's
            // fsGroup to a local volume, not to a hostPath one.
            persistence: { type: "pvc", size: SPIRE_DATA_SIZE, ...(v.dataStorageClass ? { storageClass: v.dataStorageClass } : {}) },
            upstreamAuthority: {
                disk: {
                    enabled: true,
                    secret: {
                        // We create the Secret (from the lab PKI), so the chart must not.
                        create: false,
                        name: v.upstreamSecret,
                        // charts/spire-server/templates/configmap.yaml emits `bundle_file_path` only
                        // `if ne .secret.data.bundle ""`, even with create: false, and without it the disk
                        // plugin accepts only a self-signed CA ("with no bundle_file_path configured only
                        // self-signed CAs are supported"). The value itself is never used: with create:
                        // false the chart renders no Secret, and the server reads bundle.crt from ours.
                        data: { bundle: "bundle.crt of the Secret above" },
                    },
                },
            },
            federation: { enabled: v.federated, bundleEndpoint: { port: FEDERATION_PORT } },
            controllerManager: {
                enabled: true,
                className: SPIRE_CLASS_NAME,
                // Only objects of our class are reconciled: a classless ClusterSPIFFEID (as in
                // Istio's docs) does nothing instead of silently issuing IDs (spire-controller-manager#441).
                watchClassless: false,
                identities: {
                    clusterSPIFFEIDs: {
                        // The fallback `default` would give every pod outside the SPIRE namespaces an
                        // ns/sa SVID. Off: SPIRE issues an identity only where a ClusterSPIFFEID of ours
                        // asks for one (the gateways and pods labelled spire-managed), and a gateway
                        // without its registration fails visibly instead of passing on the fallback.
                        default: { enabled: false },
                        // For `helm test` pods only; the testbed does not run chart tests.
                        "test-keys": { enabled: false },
                        // The OIDC discovery provider's own identity: only with the provider (below).
                        "oidc-discovery-provider": { enabled: v.oidcDiscovery },
                    },
                },
            },
        },
        "spire-agent": { sds: sdsNames(v.federated) },
        // Pods mount the Workload API socket through this driver; the Istio layer mounts the same name.
        "spiffe-csi-driver": { enabled: true, pluginName: SPIFFE_CSI_DRIVER },
        // Nothing in the testbed itself consumes JWT-SVIDs through OIDC discovery: off unless
        // spire.oidcDiscovery asks for it (e.g. to let an outside service verify JWT-SVIDs).
        "spiffe-oidc-discovery-provider": { enabled: v.oidcDiscovery },
    };
}

/**
 * The agent's SDS resource names as Istio asks for them (istio.io, ops/integrations/spire):
 * Envoy requests "default" (its SVID) and "ROOTCA" (what it validates peers with). With
 * federation ROOTCA must hold every bundle, the federated ones included, so it becomes the
 * all-bundles name and the own-bundle name is unused ("null").
 */
export function sdsNames(federated: boolean): Record<string, unknown> {
    return federated
        ? { enabled: true, defaultSVIDName: "default", defaultBundleName: "null", defaultAllBundlesName: "ROOTCA" }
        : { enabled: true, defaultSVIDName: "default", defaultBundleName: "ROOTCA", defaultAllBundlesName: "ALL" };
}

function podSecurity(level: "restricted" | "privileged"): Record<string, string> {
    return Object.fromEntries(["enforce", "audit", "warn"].map((mode) => [`pod-security.kubernetes.io/${mode}`, level]));
}

/** The SPIRE server's own SPIFFE ID, which its bundle endpoint presents (`https_spiffe`). */
export function serverSpiffeId(trustDomain: string): string {
    return spiffeId(trustDomain, "/spire/server");
}

/** A ClusterFederatedTrustDomain spec for a peer's exported federation. */
export function federatedTrustDomainSpec(peer: SpireFederation, className: string): ClusterFederatedTrustDomainSpec {
    return {
        trustDomain: peer.trustDomain,
        bundleEndpointURL: peer.bundleEndpointURL,
        bundleEndpointProfile: { type: "https_spiffe", endpointSPIFFEID: peer.endpointSPIFFEID },
        ...(peer.trustDomainBundle ? { trustDomainBundle: peer.trustDomainBundle } : {}),
        className,
    };
}

/**
 * A trust domain's bundle in SPIFFE bundle format (a JWKS whose keys have
 * `use: "x509-svid"` and one DER certificate in `x5c`), as spire-controller-manager
 * reads `trustDomainBundle` (go-spiffe `spiffebundle.Read`). Throws when the PEM
 * holds no certificate.
 *
 * With the disk UpstreamAuthority and `bundle_file_path`, a SPIRE server's X.509
 * authorities are the upstream bundle: the lab root. So the root is the peer's whole
 * initial bundle; the first fetch from the endpoint then brings its JWT keys too.
 */
export function spiffeBundle(pem: string): string {
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new Error("no PEM certificate to build a SPIFFE bundle from");
    const keys = blocks.map((block) => {
        const cert = new X509Certificate(block);
        return { use: "x509-svid", ...cert.publicKey.export({ format: "jwk" }), x5c: [cert.raw.toString("base64")] };
    });
    return JSON.stringify({ keys });
}

/**
 * The bundle for the `federation` output. A root that is not a PEM certificate
 * cannot be turned into one (the offline plan's mock certificates): the output then
 * has no bundle and the peer bootstraps by hand, as the warning says.
 */
function optionalBundle(root: string): { trustDomainBundle?: string } {
    try {
        return { trustDomainBundle: spiffeBundle(root) };
    } catch (err) {
        pulumi.log.warn(
            `this trust domain's root CA could not be read as a PEM certificate (${(err as Error).message}): the federation output carries no trustDomainBundle; ` +
                "bootstrap the peer by hand: `spire-server bundle show -format spiffe` here, then `spire-server bundle set -format spiffe -id spiffe://<this trust domain>` on the peer",
        );
        return {};
    }
}
