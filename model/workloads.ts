// The pods the layers run, as the upstream charts at their pinned versions make
// them: the labels that select them, the ports they serve, and what `verify` execs
// into. The network policies (stacks/layers/) and verify select and call them with
// these. Like model/lab.ts it imports nothing of this repository.

/** A label selector as the Kubernetes API and kubectl take it: `app=istiod`. */
export function labelSelector(labels: Readonly<Record<string, string>>): string {
    return Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
}

/**
 * istiod (istiod chart): its Service, its pods' label, its container, and its ports:
 * xDS and CA over TLS (the proxies), the injection/validation webhook, and monitoring
 * (metrics; `/version` and the `/debug/*` pages answer there too).
 */
export const ISTIOD = {
    service: "istiod",
    labels: { app: "istiod" },
    container: "discovery",
    ports: { xds: 15012, webhook: 15017, monitoring: 15014 },
} as const;

/**
 * The ports the Istio sidecar takes in every meshed pod (istio.io, "Application
 * Requirements", Ports used by Istio): Envoy's admin, outbound, debug, inbound,
 * HBONE, merged metrics, health, DNS and Prometheus ports. An application may not serve on them.
 */
export const SIDECAR_PORTS = [15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090] as const;

/** Every Istio proxy: merged Prometheus metrics (pilot-agent) and Envoy's own. */
export const PROXY_METRICS_PORTS = [15020, 15090] as const;

/** Prometheus' server (prometheus chart): its pods' labels, and its port as Istio's add-on values set it (manifests/addons/values-prometheus.yaml). */
export const PROMETHEUS = {
    labels: { "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/component": "server" },
    port: 9090,
} as const;

/** Grafana (grafana chart): its pods' label and port. */
export const GRAFANA = { labels: { "app.kubernetes.io/name": "grafana" }, port: 3000 } as const;

/** Kiali (kiali-server chart): its pods' label. */
export const KIALI = { labels: { "app.kubernetes.io/name": "kiali" } } as const;

/**
 * The SPIRE server (spire chart 0.30.0, as in 0.24.5; nameOverride "server"): its pods'
 * selector label, its container, the agents' gRPC API and the controller manager's webhook.
 */
export const SPIRE_SERVER = {
    labels: { "app.kubernetes.io/name": "server" },
    container: "spire-server",
    ports: { grpc: 8081, webhook: 9443 },
} as const;

/** The SPIFFE OIDC discovery provider (spire chart 0.30.0, as in 0.24.5): its pods' label, http and https. */
export const OIDC_DISCOVERY = {
    labels: { "app.kubernetes.io/name": "spiffe-oidc-discovery-provider" },
    ports: [8080, 8443],
} as const;

/** MetalLB's controller (metallb chart 0.16.1, as in 0.14.9): its pods' label and its validating webhook. */
export const METALLB_CONTROLLER = {
    labels: { "app.kubernetes.io/component": "controller" },
    ports: { webhook: 9443 },
} as const;

/** The cluster's DNS (kubeadm's CoreDNS): where its pods run and their label. */
export const KUBE_DNS = { namespace: "kube-system", labels: { "k8s-app": "kube-dns" } } as const;
