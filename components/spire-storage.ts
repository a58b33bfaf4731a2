// Where the SPIRE server keeps its state on a host HostPrep builds: a local
// PersistentVolume for its datastore and keys (a bare kubeadm node has no StorageClass).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { SPIRE_SERVER_NAMESPACE } from "../model/lab";

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

/**
 * A local PersistentVolume at `path` on the control-plane node, kept on release
 * (`Retain`), pre-bound to the server's claim, with a no-provisioner StorageClass
 * (Kubernetes' "local" volume docs: bind when the pod is scheduled). The directory
 * must exist: HostPrep makes it. `opts` are the SPIRE server's child options.
 */
export function localDataVolume(name: string, path: string, opts: pulumi.CustomResourceOptions): pulumi.Resource[] {
    const storageClass = new k8s.storage.v1.StorageClass(
        `${name}-data-class`,
        {
            metadata: { name: SPIRE_DATA_CLASS },
            provisioner: "kubernetes.io/no-provisioner",
            volumeBindingMode: "WaitForFirstConsumer",
            reclaimPolicy: "Retain",
        },
        opts,
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
                nodeAffinity: {
                    required: {
                        nodeSelectorTerms: [
                            {
                                matchExpressions: [
                                    { key: "node-role.kubernetes.io/control-plane", operator: "Exists" },
                                ],
                            },
                        ],
                    },
                },
            },
        },
        opts,
    );
    return [storageClass, volume];
}
