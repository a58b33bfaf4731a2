// What a layer declares its pods' network flows in: CiliumNetworkPolicy rules
// (components/segmentation.ts) for the flows every layer shares (DNS, the API server,
// an address outside the cluster, a pod with an Istio proxy). Each layer's module
// lists its own workloads' flows; the segmentation layer puts them under default deny.
import {
    EgressRule,
    EndpointSelector,
    IngressRule,
    NAMESPACE_LABEL,
    PortRule,
    SegmentedNamespace,
    WorkloadFlows,
} from "../../components/segmentation";
import { CROSS_NETWORK_PORT, ISTIO_NAMESPACE } from "../../model/lab";
import { ISTIOD, KUBE_DNS, PROMETHEUS, PROXY_METRICS_PORTS } from "../../model/workloads";
import { LabConfig } from "../config/lab-config";
import { isIpv4 } from "../config/net";
import { PeerView } from "../peer";

/** The flows of a layer's pods, by namespace: every namespace named here goes under default deny. */
export interface LayerFlows {
    readonly flows: SegmentedNamespace[];
}

export const tcp = (...ports: number[]): PortRule[] => [
    { ports: ports.map((p) => ({ port: String(p), protocol: "TCP" as const })) },
];
export const inNamespace = (namespace: string, labels: Record<string, string> = {}): EndpointSelector => ({
    matchLabels: { [NAMESPACE_LABEL]: namespace, ...labels },
});

export function dns(names: string[] = []): EgressRule {
    const ports: PortRule = {
        ports: [
            { port: "53", protocol: "UDP" },
            { port: "53", protocol: "TCP" },
        ],
    };
    // A DNS rule makes Cilium proxy the lookups, which `toFQDNs` needs to learn the addresses of
    // the names. It lets every lookup through ("*": the pod still resolves in-cluster names);
    // what it may connect to outside stays limited to the toFQDNs names.
    return {
        toEndpoints: [inNamespace(KUBE_DNS.namespace, KUBE_DNS.labels)],
        toPorts: [names.length > 0 ? { ...ports, rules: { dns: [{ matchPattern: "*" }] } } : ports],
    };
}
export const API_SERVER: EgressRule = { toEntities: ["kube-apiserver"] };

/** An address outside the cluster: a /32 for an IP, a DNS name rule otherwise. */
export function outside(host: string, port: number): { rule: EgressRule; names: string[] } {
    return isIpv4(host)
        ? { rule: { toCIDR: [`${host}/32`], toPorts: tcp(port) }, names: [] }
        : { rule: { toFQDNs: [{ matchName: host }], toPorts: tcp(port) }, names: [host] };
}

/** A pod with an Istio proxy: DNS, istiod, and Prometheus' scrapes (when it runs), plus its own flows. */
export function meshed(cfg: LabConfig, own: WorkloadFlows): WorkloadFlows {
    const scrapes: IngressRule[] = cfg.addons.prometheus
        ? [{ fromEndpoints: [inNamespace(ISTIO_NAMESPACE, PROMETHEUS.labels)], toPorts: tcp(...PROXY_METRICS_PORTS) }]
        : [];
    const toIstiod: EgressRule = {
        toEndpoints: [inNamespace(ISTIO_NAMESPACE, ISTIOD.labels)],
        toPorts: tcp(ISTIOD.ports.xds),
    };
    return { ...own, ingress: [...scrapes, ...own.ingress], egress: [dns(), toIstiod, ...own.egress] };
}

/**
 * Egress to the peers' east-west gateways. From each peer's identity, which it exports on
 * its first run: in the peer-first bootstrap the root stack's last run comes before the
 * peers' gateways exist, and its pods must still be let out to them.
 */
export function peerEastWest(peers: readonly PeerView[]): EgressRule[] {
    const addresses = peers.flatMap((p) => (p.identity?.eastWestAddress ? [`${p.identity.eastWestAddress}/32`] : []));
    return addresses.length > 0 ? [{ toCIDR: addresses, toPorts: tcp(CROSS_NETWORK_PORT) }] : [];
}
