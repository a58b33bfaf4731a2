// The values of the umbrella `spire` chart (server with its controller manager,
// agents, the SPIFFE CSI driver), and the names the release and our custom
// resources agree on.
import * as pulumi from "@pulumi/pulumi";
import { FEDERATION_PORT, SPIFFE_CSI_DRIVER, SPIRE_SERVER_NAMESPACE } from "../model/lab";
import { SPIRE_DATA_SIZE } from "./spire-storage";

/** The `spire` release's name: the server's pod labels (`app.kubernetes.io/instance`) carry it. */
export const SPIRE_RELEASE = "spire";
/**
 * The controller manager's class. The chart's default is `<release namespace>-<release name>`
 * (`spire-server.controller-manager-class-name` in charts/spire-server/templates/_helpers.tpl);
 * naming it here lets our ClusterSPIFFEIDs carry the same string without depending on how
 * the release is named.
 */
export const SPIRE_CLASS_NAME = "zta-testbed";

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
            persistence: {
                type: "pvc",
                size: SPIRE_DATA_SIZE,
                ...(v.dataStorageClass ? { storageClass: v.dataStorageClass } : {}),
            },
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
