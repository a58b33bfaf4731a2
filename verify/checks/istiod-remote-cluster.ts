import { ISTIO_NAMESPACE, remoteSecretName } from "../../model/lab";
import { ISTIOD, labelSelector } from "../../model/workloads";
import { Check, failIf, istiodDebug, PeerTarget, readyPod } from "../check";
import { parseClusterz, RemoteCluster } from "../parse";

/**
 * The sync states of a peer that are right. `timeout` too: the remote secret's
 * reader may not list Secrets (components/remotesecret.ts), so the Secrets informer
 * of istiod's credentials controller (pilot/pkg/credentials/kube/secrets.go) on the
 * peer never syncs and istiod gives the peer up as `timeout` after
 * PILOT_REMOTE_CLUSTER_TIMEOUT (30 s, pkg/kube/multicluster/cluster.go); the peer's
 * service registry runs on its own informers (istiod-network-gateways proves it read them).
 */
export const PEER_SYNC_STATES = ["synced", "timeout"];

export function remoteClusterProblems(clusters: RemoteCluster[], peerCluster: string): string[] {
    const peer = clusters.find((c) => c.id === peerCluster);
    const seen = clusters.map((c) => `${c.id}${c.secretName ? ` (${c.secretName})` : ""}: ${c.syncStatus}`).join(", ");
    if (peer === undefined) return [`istiod reads no cluster "${peerCluster}"; it reads [${seen}]`];
    if (!PEER_SYNC_STATES.includes(peer.syncStatus))
        return [
            `istiod's view of "${peerCluster}" is ${peer.syncStatus}, not ${PEER_SYNC_STATES.join(" or ")} (from ${peer.secretName})`,
        ];
    return [];
}

export const istiodRemoteCluster: Check = {
    id: "istiod-remote-cluster",
    title: "istiod reads every peer cluster",
    proves: `each peer's remote secret (${ISTIO_NAMESPACE}/${remoteSecretName("<peer cluster>")}) is installed and istiod reads each peer's API (/debug/clusterz says "synced", or "timeout" 30 s after istiod starts: the reader may not list the peer's Secrets, which only istiod's credentials controller watches)`,
    async run({ cluster, target }) {
        const missing: string[] = [];
        for (const peer of target.peers) {
            const secret = remoteSecretName(peer.clusterName);
            if (!(await cluster.hasSecret(ISTIO_NAMESPACE, secret))) {
                missing.push(
                    `Secret ${ISTIO_NAMESPACE}/${secret} not found: run \`pulumi up\` on stack "${target.stack}" after "${peer.stack}" is deployed`,
                );
            }
        }
        failIf(missing);
        const istiod = await readyPod(cluster, ISTIO_NAMESPACE, labelSelector(ISTIOD.labels), ISTIOD.container);
        const clusters = parseClusterz(await istiodDebug(cluster, istiod, "/debug/clusterz"));
        failIf(target.peers.flatMap((peer) => remoteClusterProblems(clusters, peer.clusterName)));
        const status = (peer: PeerTarget) => clusters.find((c) => c.id === peer.clusterName)?.syncStatus;
        return target.peers
            .map(
                (peer) =>
                    `${istiod.name} ${status(peer)} "${peer.clusterName}" from ${remoteSecretName(peer.clusterName)}`,
            )
            .join(", ");
    },
};
