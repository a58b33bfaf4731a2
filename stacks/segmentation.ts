// Micro-segmentation of one cluster: which namespaces are under default deny
// and exactly which flows each workload there has. The flows follow what the
// layers run (docs/design.md, "Layers"); components/segmentation.ts declares them.
import { KubeConfig } from "@kubernetes/client-node";
import * as pulumi from "@pulumi/pulumi";
import { DASHBOARD_HOST } from "../components/addons";
import { gatewaySelectorLabels } from "../components/gateway-labels";
import { EgressRule, EndpointSelector, IngressRule, NAMESPACE_LABEL, PortRule, SegmentedNamespace, Segmentation, WorkloadFlows } from "../components/segmentation";
import {
    ClusterAccess,
    ClusterNetwork,
    CROSS_NETWORK_PORT,
    EAST_WEST_GATEWAY,
    FEDERATION_PORT,
    INGRESS_GATEWAY,
    ISTIO_NAMESPACE,
    MeshIdentity,
    METALLB_NAMESPACE,
    RemoteSecretValue,
    SAMPLE_APPS,
    SAMPLE_NAMESPACE,
    ServiceMesh,
    SpireFederation,
    SPIRE_SERVER_NAMESPACE,
    SPIRE_SYSTEM_NAMESPACE,
} from "../model/lab";
import { LabConfig } from "./config/lab-config";
import { isIpv4 } from "./config/net";
import { PeerView } from "./peer";

// Ports, from the upstream charts and images at their pinned versions.
/** istiod: xDS and CA over TLS (the proxies), the injection/validation webhook, monitoring. */
const ISTIOD = { xds: 15012, webhook: 15017, monitoring: 15014 } as const;
/** Every Istio proxy: merged Prometheus metrics (pilot-agent) and Envoy's own. */
const PROXY_METRICS = [15020, 15090];
const PROMETHEUS = 9090;
const GRAFANA = 3000;
/** SPIRE server: the agents' gRPC API; the controller manager's webhook (spire chart 0.30.0, as in 0.24.5). */
const SPIRE_SERVER = { grpc: 8081, webhook: 9443 } as const;
/** The SPIFFE OIDC discovery provider: http and https (spire chart 0.30.0, as in 0.24.5). */
const OIDC_DISCOVERY_PORTS = [8080, 8443];
/** MetalLB controller's validating webhook (metallb chart 0.16.1, as in 0.14.9). */
const METALLB_WEBHOOK = 9443;

// Pod labels, from the charts' selector labels.
const LABELS = {
    istiod: { app: "istiod" },
    ingress: gatewaySelectorLabels(INGRESS_GATEWAY),
    eastWest: gatewaySelectorLabels(EAST_WEST_GATEWAY),
    prometheus: { "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/component": "server" },
    grafana: { "app.kubernetes.io/name": "grafana" },
    kiali: { "app.kubernetes.io/name": "kiali" },
    spireServer: { "app.kubernetes.io/name": "server" },
    oidcDiscovery: { "app.kubernetes.io/name": "spiffe-oidc-discovery-provider" },
    metallbController: { "app.kubernetes.io/component": "controller" },
    kubeDns: { [NAMESPACE_LABEL]: "kube-system", "k8s-app": "kube-dns" },
} as const;

const tcp = (...ports: number[]): PortRule[] => [{ ports: ports.map((p) => ({ port: String(p), protocol: "TCP" as const })) }];
const inNamespace = (namespace: string, labels: Record<string, string> = {}): EndpointSelector => ({ matchLabels: { [NAMESPACE_LABEL]: namespace, ...labels } });

function dns(names: string[] = []): EgressRule {
    const ports: PortRule = {
        ports: [
            { port: "53", protocol: "UDP" },
            { port: "53", protocol: "TCP" },
        ],
    };
    // A DNS rule makes Cilium proxy the lookups, which `toFQDNs` needs to learn the addresses of
    // the names. It lets every lookup through ("*": the pod still resolves in-cluster names);
    // what it may connect to outside stays limited to the toFQDNs names.
    return { toEndpoints: [{ matchLabels: LABELS.kubeDns }], toPorts: [names.length > 0 ? { ...ports, rules: { dns: [{ matchPattern: "*" }] } } : ports] };
}
const API_SERVER: EgressRule = { toEntities: ["kube-apiserver"] };

/** An address outside the cluster: a /32 for an IP, a DNS name rule otherwise. */
function outside(host: string, port: number): { rule: EgressRule; names: string[] } {
    return isIpv4(host) ? { rule: { toCIDR: [`${host}/32`], toPorts: tcp(port) }, names: [] } : { rule: { toFQDNs: [{ matchName: host }], toPorts: tcp(port) }, names: [host] };
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

export interface SegmentationLayers {
    readonly network: ClusterNetwork;
    readonly identity?: MeshIdentity;
    readonly mesh?: ServiceMesh;
    /** What created the sample namespace, when the samples are on. */
    readonly samples?: pulumi.Resource;
}

/**
 * The namespaces with workloads this program puts there, each under default
 * deny with its workloads' flows. kube-system is left alone: it holds
 * kubeadm's CoreDNS and Cilium itself (host network), which this program does
 * not run as workloads of its own.
 */
export function segmentedNamespaces(cfg: LabConfig, layers: SegmentationLayers, peers: readonly PeerView[]): SegmentedNamespace[] {
    const namespaces: SegmentedNamespace[] = [];
    const { prometheus, grafana, kiali } = cfg.addons;
    const meshOn = layers.mesh !== undefined;
    // From each peer's identity, which it exports on its first run: in the peer-first bootstrap the root
    // stack's last run comes before the peers' gateways exist, and its pods must still be let out to them.
    const peerEastWestAddresses = peers.flatMap((p) => (p.identity?.eastWestAddress ? [`${p.identity.eastWestAddress}/32`] : []));
    const peerEastWest: EgressRule[] = peerEastWestAddresses.length > 0 ? [{ toCIDR: peerEastWestAddresses, toPorts: tcp(CROSS_NETWORK_PORT) }] : [];
    const extraEgress: EgressRule[] = cfg.networkPolicy.egressCidrs.length > 0 ? [{ toCIDR: [...cfg.networkPolicy.egressCidrs] }] : [];
    const scrapes: IngressRule[] = prometheus ? [{ fromEndpoints: [inNamespace(ISTIO_NAMESPACE, LABELS.prometheus)], toPorts: tcp(...PROXY_METRICS) }] : [];
    const toIstiod: EgressRule = { toEndpoints: [inNamespace(ISTIO_NAMESPACE, LABELS.istiod)], toPorts: tcp(ISTIOD.xds) };
    /** A pod with an Istio proxy: DNS, istiod, and Prometheus' scrapes, plus its own flows. */
    const meshed = (name: string, description: string, selector: Record<string, string>, ingress: IngressRule[], egress: EgressRule[]): WorkloadFlows => ({
        name,
        description,
        selector,
        ingress: [...scrapes, ...ingress],
        egress: [dns(), toIstiod, ...egress],
    });
    /** Lab-wide: egress to the CIDRs networkPolicy.egressCidrs lists, for every pod of the namespace. */
    const configured = (): WorkloadFlows[] =>
        extraEgress.length > 0 ? [{ name: "allow-egress-cidrs", description: "egress to zta-testbed:networkPolicy.egressCidrs", selector: {}, ingress: [], egress: extraEgress }] : [];

    if (cfg.samples.enabled && meshOn) {
        const { helloworld, httpbin, sleep, curl } = SAMPLE_APPS;
        const HTTPBIN_PORT = 8080;
        const eastWest = inNamespace(ISTIO_NAMESPACE, LABELS.eastWest);
        namespaces.push({
            name: SAMPLE_NAMESPACE,
            flows: [
                meshed(
                    `allow-${helloworld.name}`,
                    "helloworld: called by sleep, and across networks through the east-west gateway",
                    { app: helloworld.name },
                    [{ fromEndpoints: [{ matchLabels: { app: sleep.name } }, eastWest], toPorts: tcp(helloworld.port) }],
                    [],
                ),
                meshed(
                    `allow-${httpbin.name}`,
                    "httpbin: called by curl, the ingress gateway, and across networks",
                    { app: httpbin.name },
                    [{ fromEndpoints: [{ matchLabels: { app: curl.name } }, inNamespace(ISTIO_NAMESPACE, LABELS.ingress), eastWest], toPorts: tcp(HTTPBIN_PORT) }],
                    [],
                ),
                meshed(
                    `allow-${sleep.name}`,
                    "sleep: calls helloworld here and in the peer clusters (through their east-west gateways)",
                    { app: sleep.name },
                    [],
                    [{ toEndpoints: [{ matchLabels: { app: helloworld.name } }], toPorts: tcp(helloworld.port) }, ...peerEastWest],
                ),
                meshed(
                    `allow-${curl.name}`,
                    "curl: calls httpbin here and in the peer clusters",
                    { app: curl.name },
                    [],
                    [{ toEndpoints: [{ matchLabels: { app: httpbin.name } }], toPorts: tcp(HTTPBIN_PORT) }, ...peerEastWest],
                ),
                ...configured(),
            ],
        });
    }

    if (meshOn) {
        const sampleTargets: EgressRule[] = cfg.samples.enabled ? [{ toEndpoints: [inNamespace(SAMPLE_NAMESPACE)], toPorts: tcp(SAMPLE_APPS.helloworld.port, 8080) }] : [];
        const jwks = hostPort(cfg.jwt.jwksUri);
        const issuer = outside(jwks.host, jwks.port);
        const peerApis = peers.map(peerApiServer).filter((r): r is EgressRule => r !== undefined);
        const fromLab: IngressRule["fromEntities"] = ["world", "remote-node"];
        const flows: WorkloadFlows[] = [
            {
                name: "allow-istiod",
                description: "istiod: xDS/CA for the proxies, webhooks from the API server, monitoring; reads every cluster's API server and the issuer's JWKS",
                selector: LABELS.istiod,
                ingress: [
                    { fromEndpoints: [inNamespace(SAMPLE_NAMESPACE), { matchLabels: LABELS.ingress }, { matchLabels: LABELS.eastWest }], toPorts: tcp(ISTIOD.xds) },
                    { fromEntities: ["kube-apiserver"], toPorts: tcp(ISTIOD.webhook) },
                    ...(prometheus || kiali ? [{ fromEndpoints: [...(prometheus ? [{ matchLabels: LABELS.prometheus }] : []), ...(kiali ? [{ matchLabels: LABELS.kiali }] : [])], toPorts: tcp(ISTIOD.monitoring) }] : []),
                ],
                egress: [dns(issuer.names), API_SERVER, issuer.rule, ...peerApis],
            },
            meshed(
                "allow-ingress-gateway",
                "ingress gateway: HTTPS from the lab network to the samples",
                LABELS.ingress,
                [{ fromEntities: fromLab, toPorts: tcp(...(cfg.ingress.plainHttp === "redirect" ? [80, 443] : [443])) }],
                [...sampleTargets, ...peerEastWest],
            ),
            meshed(
                "allow-eastwest-gateway",
                "east-west gateway: mTLS from the peers' networks, passed through to the samples",
                LABELS.eastWest,
                [{ fromEntities: fromLab, toPorts: tcp(CROSS_NETWORK_PORT) }],
                sampleTargets,
            ),
        ];
        if (prometheus) {
            flows.push({
                name: "allow-prometheus",
                description: "Prometheus: scrapes the proxies and istiod; queried by Grafana and Kiali",
                selector: LABELS.prometheus,
                ingress: grafana || kiali ? [{ fromEndpoints: [...(grafana ? [{ matchLabels: LABELS.grafana }] : []), ...(kiali ? [{ matchLabels: LABELS.kiali }] : [])], toPorts: tcp(PROMETHEUS) }] : [],
                egress: [
                    dns(),
                    API_SERVER,
                    { toEndpoints: [inNamespace(SAMPLE_NAMESPACE), { matchLabels: LABELS.ingress }, { matchLabels: LABELS.eastWest }], toPorts: tcp(...PROXY_METRICS) },
                    { toEndpoints: [{ matchLabels: LABELS.istiod }], toPorts: tcp(ISTIOD.monitoring) },
                ],
            });
        }
        if (grafana) {
            // With Prometheus, Grafana's init container downloads Istio's dashboards from grafana.com (components/addons.ts).
            const dashboards = prometheus ? outside(DASHBOARD_HOST, 443) : undefined;
            flows.push({
                name: "allow-grafana",
                description: prometheus ? "Grafana: reads Prometheus, downloads Istio's dashboards from grafana.com; Kiali links to it" : "Grafana; Kiali links to it",
                selector: LABELS.grafana,
                ingress: kiali ? [{ fromEndpoints: [{ matchLabels: LABELS.kiali }], toPorts: tcp(GRAFANA) }] : [],
                egress: [dns(dashboards?.names ?? []), ...(prometheus ? [{ toEndpoints: [{ matchLabels: LABELS.prometheus }], toPorts: tcp(PROMETHEUS) }] : []), ...(dashboards ? [dashboards.rule] : [])],
            });
        }
        if (kiali) {
            flows.push({
                name: "allow-kiali",
                description: "Kiali (reached with kubectl port-forward): reads the API server, Prometheus, Grafana and istiod",
                selector: LABELS.kiali,
                ingress: [],
                egress: [
                    dns(),
                    API_SERVER,
                    { toEndpoints: [{ matchLabels: LABELS.istiod }], toPorts: tcp(ISTIOD.monitoring) },
                    ...(prometheus ? [{ toEndpoints: [{ matchLabels: LABELS.prometheus }], toPorts: tcp(PROMETHEUS) }] : []),
                    ...(grafana ? [{ toEndpoints: [{ matchLabels: LABELS.grafana }], toPorts: tcp(GRAFANA) }] : []),
                ],
            });
        }
        namespaces.push({ name: ISTIO_NAMESPACE, flows: [...flows, ...configured()] });
    }

    if (layers.identity) {
        const federated = cfg.mesh.trustModel === "federated";
        const peerBundles = federated ? peers.filter((p) => p.available.has("federation")) : [];
        const peerBundle: EgressRule[] =
            peerBundles.length > 0 ? [{ toCIDR: peerBundles.map((p) => p.output<SpireFederation>("federation").apply((f) => `${new URL(f.bundleEndpointURL).hostname}/32`)), toPorts: tcp(FEDERATION_PORT) }] : [];
        // Helm hook Jobs of the spire chart patch webhooks through the API server.
        const controlPlane: WorkloadFlows = { name: "allow-api-server", description: "every pod: DNS and the API server (the chart's hook Jobs, the controllers)", selector: {}, ingress: [], egress: [dns(), API_SERVER] };
        namespaces.push({
            name: SPIRE_SERVER_NAMESPACE,
            flows: [
                controlPlane,
                {
                    name: "allow-spire-server",
                    description: "SPIRE server: the agents (host network) and the controller manager's webhook; federation bundle endpoint",
                    selector: LABELS.spireServer,
                    ingress: [
                        { fromEntities: ["host", "remote-node"], toPorts: tcp(SPIRE_SERVER.grpc) },
                        { fromEntities: ["kube-apiserver"], toPorts: tcp(SPIRE_SERVER.webhook) },
                        ...(federated ? [{ fromEntities: ["world" as const], toPorts: tcp(FEDERATION_PORT) }] : []),
                    ],
                    egress: peerBundle,
                },
                ...(cfg.spire.oidcDiscovery
                    ? [
                          {
                              name: "allow-oidc-discovery",
                              description: "SPIFFE OIDC discovery provider: served to the cluster and the lab network",
                              selector: LABELS.oidcDiscovery,
                              ingress: [{ fromEntities: ["cluster" as const, "world" as const], toPorts: tcp(...OIDC_DISCOVERY_PORTS) }],
                              egress: [],
                          },
                      ]
                    : []),
                ...configured(),
            ],
        });
        namespaces.push({ name: SPIRE_SYSTEM_NAMESPACE, flows: [controlPlane, ...configured()] });
    }

    namespaces.push({
        name: METALLB_NAMESPACE,
        flows: [
            { name: "allow-api-server", description: "every pod: DNS and the API server", selector: {}, ingress: [], egress: [dns(), API_SERVER] },
            {
                name: "allow-controller-webhook",
                description: "MetalLB controller: its validating webhook, called by the API server",
                selector: LABELS.metallbController,
                ingress: [{ fromEntities: ["kube-apiserver"], toPorts: tcp(METALLB_WEBHOOK) }],
                egress: [],
            },
            ...configured(),
        ],
    });
    return namespaces;
}

/** Declares the segmentation of one cluster once its layers are declared. */
export function declareSegmentation(cfg: LabConfig, access: ClusterAccess, layers: SegmentationLayers, peers: readonly PeerView[]): Segmentation {
    return new Segmentation(`${cfg.stack}-segmentation`, {
        provider: access.provider,
        dependsOn: [layers.network.cni, ...layers.network.loadBalancer, ...(layers.mesh?.control ?? []), ...(layers.identity?.ready ?? []), ...(layers.samples ? [layers.samples] : [])],
        namespaces: segmentedNamespaces(cfg, layers, peers),
    });
}
