// The mesh identity (docs/spire.md): SPIRE and the ClusterSPIFFEIDs, and the flows
// of SPIRE's pods.
import * as pulumi from "@pulumi/pulumi";
import { ClusterTrust } from "../../components/pki";
import { EgressRule, WorkloadFlows } from "../../components/segmentation";
import { ClusterSPIFFEIDs } from "../../components/spiffeids";
import { SpireServer } from "../../components/spire";
import {
    ClusterAccess,
    ClusterNetwork,
    FEDERATION_PORT,
    MeshIdentity,
    SpireFederation,
    SPIRE_DATA_DIR,
    SPIRE_SERVER_NAMESPACE,
    SPIRE_SYSTEM_NAMESPACE,
} from "../../model/lab";
import { OIDC_DISCOVERY, SPIRE_SERVER } from "../../model/workloads";
import { LabConfig } from "../config/lab-config";
import { PeerView } from "../peer";
import { API_SERVER, dns, LayerFlows, tcp } from "./flows";
import { StackInput } from "./stack";

export interface IdentityInput extends StackInput {
    readonly access: ClusterAccess;
    readonly network?: ClusterNetwork;
    /** Absent while this cluster's intermediates are not signed: SPIRE is left out. */
    readonly trust?: ClusterTrust;
}

/**
 * SPIRE and the ClusterSPIFFEIDs: every mesh identity, chained to the cluster's
 * SPIRE intermediate. In the federated trust model also the bundle endpoint for
 * the peers, and a ClusterFederatedTrustDomain for each peer once it exported its own.
 */
export function meshIdentity({
    cfg,
    peers,
    used,
    access,
    network,
    trust,
}: IdentityInput): (MeshIdentity & LayerFlows) | undefined {
    if (!trust) {
        pulumi.log.warn(
            "SPIRE is left out: it needs the cluster's SPIRE intermediate from the lab PKI, which is not available yet",
        );
        return undefined;
    }
    const federated = cfg.mesh.trustModel === "federated";
    // Absent until a peer is deployed (readPeers warns): its ClusterFederatedTrustDomain waits for it.
    const federatedPeers = federated ? peers.filter((p) => p.available.has("federation")) : [];
    for (const peer of federatedPeers) used.mark(peer, "federation");
    const server = new SpireServer(
        `${cfg.stack}-spire`,
        {
            trustDomain: cfg.mesh.trustDomain,
            clusterName: cfg.cluster.name,
            versions: { crds: cfg.versions.spireCrds, spire: cfg.versions.spire },
            upstreamCa: trust.intermediates.apply((i) => i.spire),
            cni: network?.cni,
            // A host HostPrep builds has no StorageClass: a local volume in the directory HostPrep made.
            localDataPath: cfg.host ? SPIRE_DATA_DIR : undefined,
            oidcDiscovery: cfg.spire.oidcDiscovery,
            federation: federated
                ? {
                      // Validated: the federated model requires metallb.federationAddress (stacks/config/cross-field.ts).
                      address: cfg.metallb.federationAddress as string,
                      loadBalancer: network?.loadBalancer ?? [],
                      rootCaCert: trust.rootCaCert,
                      peers: federatedPeers.map((p) => ({
                          name: p.clusterName,
                          federation: p.output<SpireFederation>("federation"),
                      })),
                  }
                : undefined,
        },
        { provider: access.provider },
    );
    const ids = new ClusterSPIFFEIDs(`${cfg.stack}-spiffeids`, { server }, { provider: access.provider });
    return {
        ready: [...server.ready, ...ids.ids],
        federation: server.federation,
        flows: spireFlows(cfg, federatedPeers),
    };
}

/**
 * SPIRE's namespaces: the server (the agents on the host network, the controller
 * manager's webhook, in the federated model the bundle endpoint and the peers'),
 * the optional OIDC discovery provider, and every pod's DNS and API server (the
 * chart's hook Jobs, the controllers).
 */
function spireFlows(cfg: LabConfig, federatedPeers: readonly PeerView[]): LayerFlows["flows"] {
    const federated = cfg.mesh.trustModel === "federated";
    const peerBundle: EgressRule[] =
        federatedPeers.length > 0
            ? [
                  {
                      toCIDR: federatedPeers.map((p) =>
                          p
                              .output<SpireFederation>("federation")
                              .apply((f) => `${new URL(f.bundleEndpointURL).hostname}/32`),
                      ),
                      toPorts: tcp(FEDERATION_PORT),
                  },
              ]
            : [];
    // Helm hook Jobs of the spire chart patch webhooks through the API server.
    const controlPlane: WorkloadFlows = {
        name: "allow-api-server",
        description: "every pod: DNS and the API server (the chart's hook Jobs, the controllers)",
        selector: {},
        ingress: [],
        egress: [dns(), API_SERVER],
    };
    const server: WorkloadFlows = {
        name: "allow-spire-server",
        description:
            "SPIRE server: the agents (host network) and the controller manager's webhook; federation bundle endpoint",
        selector: SPIRE_SERVER.labels,
        ingress: [
            { fromEntities: ["host", "remote-node"], toPorts: tcp(SPIRE_SERVER.ports.grpc) },
            { fromEntities: ["kube-apiserver"], toPorts: tcp(SPIRE_SERVER.ports.webhook) },
            ...(federated ? [{ fromEntities: ["world" as const], toPorts: tcp(FEDERATION_PORT) }] : []),
        ],
        egress: peerBundle,
    };
    const oidc: WorkloadFlows = {
        name: "allow-oidc-discovery",
        description: "SPIFFE OIDC discovery provider: served to the cluster and the lab network",
        selector: OIDC_DISCOVERY.labels,
        ingress: [{ fromEntities: ["cluster", "world"], toPorts: tcp(...OIDC_DISCOVERY.ports) }],
        egress: [],
    };
    return [
        { name: SPIRE_SERVER_NAMESPACE, flows: [controlPlane, server, ...(cfg.spire.oidcDiscovery ? [oidc] : [])] },
        { name: SPIRE_SYSTEM_NAMESPACE, flows: [controlPlane] },
    ];
}
