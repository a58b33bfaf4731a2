// The service mesh (docs/istio.md): Istio multi-primary on different networks, the
// east-west gateway, the remote secrets, and the flows of istiod and the gateways.
import { KubeConfig } from "@kubernetes/client-node";
import * as pulumi from "@pulumi/pulumi";
import { EastWestGateway } from "../../components/eastwest";
import { gatewaySelectorLabels } from "../../components/gateway-labels";
import { INGRESS_CREDENTIAL, IstioFederation, IstioPrimary } from "../../components/istio";
import { ClusterTrust } from "../../components/pki";
import { RemoteSecret, RemoteSecretSource } from "../../components/remotesecret";
import { HTTPBIN_TARGET_PORT } from "../../components/samples";
import { EgressRule, IngressRule, WorkloadFlows } from "../../components/segmentation";
import {
    ClusterAccess,
    ClusterNetwork,
    CROSS_NETWORK_PORT,
    EAST_WEST_GATEWAY,
    INGRESS_GATEWAY,
    ISTIO_NAMESPACE,
    MeshIdentity,
    RemoteSecretValue,
    SAMPLE_APPS,
    SAMPLE_NAMESPACE,
    ServiceMesh,
} from "../../model/lab";
import { ISTIOD, KIALI, PROMETHEUS } from "../../model/workloads";
import { LabConfig } from "../config/lab-config";
import { isIpv4 } from "../config/net";
import { PeerView, rootStackLabel } from "../peer";
import { API_SERVER, dns, inNamespace, LayerFlows, meshed, outside, peerEastWest, tcp } from "./flows";
import { LabServices } from "./services";
import { StackInput } from "./stack";

export interface MeshInput extends StackInput {
    readonly access: ClusterAccess;
    readonly network?: ClusterNetwork;
    /** Absent while this cluster's intermediates are not signed: istiod and the gateways are left out. */
    readonly trust?: ClusterTrust;
    readonly identity?: MeshIdentity;
    /** The lab-services CA and the lab issuer: what istiod trusts for the issuer's JWKS, and waits for. */
    readonly services: LabServices;
}

/** What the Istio layer declared: the mesh the layers above need, and its outputs for the peers. */
export interface IstioMesh extends LayerFlows {
    /** Absent while this cluster's intermediates are not signed (istiod left out). */
    readonly serviceMesh?: ServiceMesh;
    /** The `remoteSecret` output: this cluster's reader kubeconfig, for every peer. */
    readonly remoteSecret: pulumi.Output<RemoteSecretValue>;
    /** The `eastWestAddress` output, once the east-west gateway is declared. */
    readonly eastWestAddress?: string;
}

/**
 * Istio multi-primary on different networks (docs/istio.md: IstioPrimary,
 * EastWestGateway, RemoteSecret). Returns the `remoteSecret` and
 * `eastWestAddress` outputs for the peers and installs each peer's
 * `remoteSecret` once that peer exports it.
 * The remote-secret exchange needs only istio-system and the `base` chart (its
 * reader account), not the PKI: without this cluster's intermediates (peer role,
 * root stack not signed yet) those are declared and istiod and the gateways are
 * left out, since istiod must not start on a self-signed root.
 */
export function istioMesh({ cfg, peers, used, access, network, trust, identity, services }: MeshInput): IstioMesh {
    const jwksCaCert = jwksTrust(cfg, peers, services.caCert);
    if (!trust) {
        pulumi.log.warn(
            "istiod and the gateways are left out: they need this cluster's intermediate CA, which is not signed yet (the remote secrets are exchanged already)",
        );
    } else if (!identity) {
        pulumi.log.warn(
            "no SPIRE layer in this stack: the gateways mount the SPIFFE CSI socket and wait for it, so they will not become ready until SPIRE runs",
        );
    }
    // Federated model: every peer's trust domain with its root, once the peer exported both (docs/pki.md, "What the federated model isolates").
    const federation: IstioFederation | undefined =
        cfg.mesh.trustModel === "federated"
            ? {
                  peers: peers.flatMap((p) => {
                      if (!p.identity || !p.available.has("rootCaCert")) return [];
                      used.mark(p, "rootCaCert");
                      return [{ trustDomain: p.identity.trustDomain, rootCaCert: p.output<string>("rootCaCert") }];
                  }),
              }
            : undefined;
    const primary = new IstioPrimary(
        `${cfg.stack}-istio`,
        {
            version: cfg.versions.istio,
            clusterName: cfg.cluster.name,
            network: cfg.cluster.network,
            meshId: cfg.mesh.id,
            trustDomain: cfg.mesh.trustDomain,
            federation,
            ca: trust ? { istioCa: trust.intermediates.apply((i) => i.istio) } : undefined,
            jwksCaCert,
            issuer: services.issuer,
            ingressAddress: cfg.metallb.ingressAddress,
            ingressTls: cfg.ingress,
            clusterNetwork: network,
            identity,
        },
        { provider: access.provider },
    );
    if (primary.istiod) {
        new EastWestGateway(
            `${cfg.stack}-eastwest`,
            {
                version: cfg.versions.istio,
                hub: primary.hub,
                namespace: primary.namespace,
                network: cfg.cluster.network,
                address: cfg.metallb.eastWestAddress,
                istiod: primary.istiod,
                clusterNetwork: network,
                identity,
            },
            { provider: access.provider },
        );
    }

    const source = new RemoteSecretSource(
        `${cfg.stack}-istio-reader`,
        {
            namespace: primary.namespace,
            clusterName: cfg.cluster.name,
            apiServer: access.apiServer,
        },
        { provider: access.provider },
    );

    // One remote secret per peer, each named after its cluster (istiod discovers every one).
    // Before a peer exports its own, readPeers has warned; nothing is installed for it.
    for (const peer of peers.filter((p) => p.available.has("remoteSecret"))) {
        used.mark(peer, "remoteSecret");
        new RemoteSecret(
            `${cfg.stack}-remote-${peer.clusterName}`,
            {
                namespace: primary.namespace,
                peerClusterName: peer.clusterName,
                remoteSecret: peer.output<RemoteSecretValue>("remoteSecret"),
            },
            { provider: access.provider },
        );
    }
    const serviceMesh: ServiceMesh | undefined =
        primary.istiod && primary.ingressCredential
            ? {
                  control: [primary.base, primary.istiod],
                  ingressSelector: primary.ingressSelector,
                  ingressTls: {
                      credentialName: INGRESS_CREDENTIAL,
                      credential: primary.ingressCredential,
                      plainHttp: cfg.ingress.plainHttp,
                  },
              }
            : undefined;
    return {
        serviceMesh,
        remoteSecret: source.remoteSecret,
        eastWestAddress: primary.istiod ? cfg.metallb.eastWestAddress : undefined,
        flows: serviceMesh ? istioFlows(cfg, peers) : [],
    };
}

/**
 * The CA istiod trusts when it fetches the JWKS: an external issuer's own CA
 * (`jwt.caCert`), else the lab-services CA, which signed the lab issuer's
 * certificate (the root stack's, in either trust model; never a mesh root);
 * unknown, with a warning, until the root stack is deployed.
 */
function jwksTrust(
    cfg: LabConfig,
    peers: readonly PeerView[],
    labServicesCa: pulumi.Output<string> | undefined,
): pulumi.Input<string> | undefined {
    if (cfg.jwt.caCert !== undefined) return cfg.jwt.caCert;
    if (!labServicesCa) {
        pulumi.log.warn(
            `the lab issuer's CA, the lab-services CA of ${rootStackLabel(cfg, peers)}, is not known yet: istiod trusts only the system roots for ${cfg.jwt.jwksUri} ` +
                "until the next `pulumi up` here after the root stack",
        );
    }
    return labServicesCa;
}

/** istio-system's mesh workloads: istiod, the ingress gateway and the east-west gateway. */
function istioFlows(cfg: LabConfig, peers: readonly PeerView[]): LayerFlows["flows"] {
    const { prometheus, kiali } = cfg.addons;
    const ingress = gatewaySelectorLabels(INGRESS_GATEWAY);
    const eastWest = gatewaySelectorLabels(EAST_WEST_GATEWAY);
    const sampleTargets: EgressRule[] = cfg.samples.enabled
        ? [
              {
                  toEndpoints: [inNamespace(SAMPLE_NAMESPACE)],
                  toPorts: tcp(SAMPLE_APPS.helloworld.port, HTTPBIN_TARGET_PORT),
              },
          ]
        : [];
    const jwks = hostPort(cfg.jwt.jwksUri);
    const issuer = outside(jwks.host, jwks.port);
    const peerApis = peers.map(peerApiServer).filter((r): r is EgressRule => r !== undefined);
    const fromLab: IngressRule["fromEntities"] = ["world", "remote-node"];
    const monitoring = [
        ...(prometheus ? [{ matchLabels: PROMETHEUS.labels }] : []),
        ...(kiali ? [{ matchLabels: KIALI.labels }] : []),
    ];
    const istiod: WorkloadFlows = {
        name: "allow-istiod",
        description:
            "istiod: xDS/CA for the proxies, webhooks from the API server, monitoring; reads every cluster's API server and the issuer's JWKS",
        selector: ISTIOD.labels,
        ingress: [
            // Every pod of the cluster, whatever its namespace: xDS and the CA are mTLS (a proxy presents its
            // SPIFFE certificate or a projected service-account token) and istiod serves each proxy by that
            // identity; the network policy is not what authorizes it (docs/zero-trust.md, "Micro-segmentation").
            { fromEntities: ["cluster"], toPorts: tcp(ISTIOD.ports.xds) },
            { fromEntities: ["kube-apiserver"], toPorts: tcp(ISTIOD.ports.webhook) },
            ...(monitoring.length > 0 ? [{ fromEndpoints: monitoring, toPorts: tcp(ISTIOD.ports.monitoring) }] : []),
        ],
        egress: [dns(issuer.names), API_SERVER, issuer.rule, ...peerApis],
    };
    const ingressGateway = meshed(cfg, {
        name: "allow-ingress-gateway",
        description: "ingress gateway: HTTPS from the lab network to the samples",
        selector: ingress,
        ingress: [
            { fromEntities: fromLab, toPorts: tcp(...(cfg.ingress.plainHttp === "redirect" ? [80, 443] : [443])) },
        ],
        egress: [...sampleTargets, ...peerEastWest(peers)],
    });
    const eastWestGateway = meshed(cfg, {
        name: "allow-eastwest-gateway",
        description: "east-west gateway: mTLS from the peers' networks, passed through to the samples",
        selector: eastWest,
        ingress: [{ fromEntities: fromLab, toPorts: tcp(CROSS_NETWORK_PORT) }],
        egress: sampleTargets,
    });
    return [{ name: ISTIO_NAMESPACE, flows: [istiod, ingressGateway, eastWestGateway] }];
}

function hostPort(url: string): { host: string; port: number } {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port || (u.protocol === "https:" ? 443 : 80)) };
}

/**
 * istiod's egress to a peer's API server, from the server URL in the peer's
 * remote secret: its IPv4 /32 (any address when it is a DNS name, which
 * toCIDR cannot hold; the port still confines istiod to the API server port).
 */
function peerApiServer(peer: PeerView): EgressRule | undefined {
    if (!peer.available.has("remoteSecret")) return undefined;
    const server = pulumi.unsecret(
        peer.output<RemoteSecretValue>("remoteSecret").apply((v) => {
            const kc = new KubeConfig();
            kc.loadFromString(v.kubeconfig);
            const { host, port } = hostPort(kc.getCurrentCluster()?.server ?? "https://0.0.0.0:6443");
            return { cidr: isIpv4(host) ? `${host}/32` : "0.0.0.0/0", port: String(port) };
        }),
    );
    return { toCIDR: [server.cidr], toPorts: [{ ports: [{ port: server.port, protocol: "TCP" }] }] };
}
