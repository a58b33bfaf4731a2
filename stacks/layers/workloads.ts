// The lab's own workloads (`workloads`; docs/zero-trust.md, "Adding your workload"):
// in each cluster, the namespaces and pods of the workloads that run there, the
// Services their callers here need, their AuthorizationPolicies (zerotrust.ts
// declares them) and their flows (segmentation.ts puts them under default deny).
import { gatewaySelectorLabels } from "../../components/gateway-labels";
import { Caller, DefaultDenyNamespace, MeshService, WorkloadAllow } from "../../components/meshpolicies";
import { EgressRule, IngressRule, WorkloadFlows } from "../../components/segmentation";
import { WorkloadGateway, WorkloadNamespace } from "../../components/workloads";
import {
    ClusterAccess,
    ClusterNetwork,
    EAST_WEST_GATEWAY,
    INGRESS_GATEWAY,
    ISTIO_NAMESPACE,
    LabWorkload,
    MeshIdentity,
    runsIn,
    ServiceMesh,
    SPIRE_MANAGED_LABEL,
    workloadRef,
} from "../../model/lab";
import { PROMETHEUS, PROXY_METRICS_PORTS } from "../../model/workloads";
import { LabConfig } from "../config/lab-config";
import { parseEgress } from "../config/workload-fields";
import { PeerView } from "../peer";
import { inNamespace, LayerFlows, meshed, peerEastWest, tcp } from "./flows";
import { SampleWorkloads } from "./samples";
import { StackInput } from "./stack";

export interface WorkloadsInput extends StackInput {
    readonly access: ClusterAccess;
    readonly network?: ClusterNetwork;
    readonly identity?: MeshIdentity;
    readonly mesh: ServiceMesh;
    /** The samples, when they run: the workloads' routes use their ingress Gateway. */
    readonly samples?: SampleWorkloads;
}

export interface LabWorkloads extends LayerFlows {
    /** One per namespace this cluster has: what the segmentation waits for. */
    readonly namespaces: WorkloadNamespace[];
    /** Each namespace under default deny with the calls its callers may make (zerotrust.ts). */
    readonly traffic: DefaultDenyNamespace[];
}

/** A workload that serves, with its port known. */
type Served = LabWorkload & { readonly port: number };
const serves = (w: LabWorkload): w is Served => w.port !== undefined;

/**
 * The workloads of `workloads` in this cluster: the namespaces of those that run
 * here and of those called from here, each under default deny in Istio and in
 * Cilium with exactly the calls the config states. Undefined when none concerns
 * this cluster.
 */
export function labWorkloads({
    cfg,
    peers,
    access,
    network,
    identity,
    mesh,
    samples,
}: WorkloadsInput): LabWorkloads | undefined {
    const here = cfg.cluster.name;
    const all = cfg.workloads;
    const running = all.filter((w) => runsIn(w, here));
    // Namespace sameness: a Service that runs elsewhere is named here when one of its callers runs here.
    const remote = all.filter(serves).filter((w) => !runsIn(w, here) && callersOf(all, w).some((c) => runsIn(c, here)));
    const namespaces = [...new Set([...running, ...remote].map((w) => w.namespace))];
    if (namespaces.length === 0) return undefined;

    const gateway =
        samples?.samples.gateway ??
        (running.some((w) => w.ingress)
            ? new WorkloadGateway(
                  `${cfg.stack}-workloads`,
                  {
                      control: mesh.control,
                      namespace: ISTIO_NAMESPACE,
                      ingressSelector: mesh.ingressSelector,
                      ingressTls: mesh.ingressTls,
                  },
                  { provider: access.provider },
              ).gateway
            : "");
    const components = namespaces.map(
        (ns) =>
            new WorkloadNamespace(
                `${cfg.stack}-workloads-${ns}`,
                {
                    namespace: ns,
                    // As the samples': the injection webhook, the CNI, and SPIRE with its ClusterSPIFFEIDs.
                    dependsOn: [...mesh.control, ...(network ? [network.cni] : []), ...(identity?.ready ?? [])],
                    running: running
                        .filter((w) => w.namespace === ns)
                        .map((w) => ({ ...w, pathPrefix: w.ingress?.pathPrefix })),
                    remote: remote.filter((w) => w.namespace === ns).map((w) => ({ name: w.name, port: w.port })),
                    spireLabel: SPIRE_MANAGED_LABEL,
                    gateway,
                },
                { provider: access.provider },
            ),
    );
    const traffic = components.map((component, i): DefaultDenyNamespace => {
        const ns = namespaces[i];
        const allows = running
            .filter((w) => w.namespace === ns)
            .filter(serves)
            .map((w): WorkloadAllow => ({
                name: `${w.name}-callers`,
                workload: { app: w.name },
                callers: [
                    ...callersOf(all, w).map((c) => callerOf(cfg, peers, c)),
                    // Only this cluster's ingress gateway: it routes only to the workloads here.
                    ...(w.ingress ? [{ namespace: ISTIO_NAMESPACE, serviceAccount: INGRESS_GATEWAY }] : []),
                ],
            }));
        const meshServices: MeshService[] = [...running, ...remote]
            .filter((w) => w.namespace === ns)
            .filter(serves)
            .map((w) => ({ service: w.name, serviceAccount: w.name }));
        return { name: ns, namespace: component.namespace, allows, meshServices };
    });
    return { namespaces: components, traffic, flows: workloadFlows(cfg, peers, namespaces) };
}

/** The workloads `callers` of `w` names. */
function callersOf(all: readonly LabWorkload[], w: LabWorkload): LabWorkload[] {
    return all.filter((c) => w.callers.includes(workloadRef(c)));
}

/** The clusters a workload runs in, of this stack's lab. */
function clustersOf(cfg: LabConfig, peers: readonly PeerView[], w: LabWorkload): string[] {
    return [cfg.cluster.name, ...peers.map((p) => p.clusterName)].filter((c) => runsIn(w, c));
}

/**
 * A caller by its SPIFFE identity: `<trust domain>/ns/<namespace>/sa/<name>` in the trust
 * domain of each cluster it runs in. One in the shared model; in the federated model
 * each cluster's own, as the peer's identity gives it (a peer not deployed yet adds none).
 */
function callerOf(cfg: LabConfig, peers: readonly PeerView[], c: LabWorkload): Caller {
    const trustDomains = clustersOf(cfg, peers, c).flatMap((cluster) => {
        if (cluster === cfg.cluster.name || cfg.mesh.trustModel === "shared") return [cfg.mesh.trustDomain];
        const domain = peers.find((p) => p.clusterName === cluster)?.identity?.trustDomain;
        return domain ? [domain] : [];
    });
    return { namespace: c.namespace, serviceAccount: c.name, trustDomains: [...new Set(trustDomains)] };
}

/**
 * The flows of the workloads that run here: from their callers here, from the east-west
 * gateway when a caller runs in another cluster, from the ingress gateway when routed
 * there; to what they call, here and through the peers' east-west gateways where it runs;
 * to their outside endpoints. In istio-system: the gateways to the workloads they pass
 * calls to, and Prometheus to their proxies. Every namespace named goes under default deny.
 */
function workloadFlows(cfg: LabConfig, peers: readonly PeerView[], namespaces: string[]): LayerFlows["flows"] {
    const here = cfg.cluster.name;
    const all = cfg.workloads;
    const running = all.filter((w) => runsIn(w, here));
    const eastWest = inNamespace(ISTIO_NAMESPACE, gatewaySelectorLabels(EAST_WEST_GATEWAY));
    const ingress = inNamespace(ISTIO_NAMESPACE, gatewaySelectorLabels(INGRESS_GATEWAY));
    const pod = (w: LabWorkload) => inNamespace(w.namespace, { app: w.name });
    const fromElsewhere = (w: LabWorkload) =>
        callersOf(all, w).some((c) => clustersOf(cfg, peers, c).some((cluster) => cluster !== here));

    const flowsOf = (w: LabWorkload): WorkloadFlows => {
        const sources = serves(w)
            ? [
                  ...callersOf(all, w)
                      .filter((c) => runsIn(c, here))
                      .map(pod),
                  ...(fromElsewhere(w) ? [eastWest] : []),
                  ...(w.ingress ? [ingress] : []),
              ]
            : [];
        const ingressRules: IngressRule[] =
            sources.length > 0 ? [{ fromEndpoints: sources, toPorts: tcp(w.port as number) }] : [];
        const targets = all.filter(serves).filter((s) => s.callers.includes(workloadRef(w)));
        const local: EgressRule[] = targets
            .filter((s) => runsIn(s, here))
            .map((s) => ({ toEndpoints: [pod(s)], toPorts: tcp(s.port) }));
        const remotePeers = peers.filter((p) => targets.some((s) => runsIn(s, p.clusterName)));
        const outside: EgressRule[] = w.egress.map((e) => {
            const { cidr, port } = parseEgress(e) as { cidr: string; port: number };
            return { toCIDR: [cidr], toPorts: tcp(port) };
        });
        return meshed(cfg, {
            name: `allow-${w.name}`,
            description: `${workloadRef(w)} (zta-testbed:workloads): ${describe(w, targets)}`,
            selector: { app: w.name },
            ingress: ingressRules,
            egress: [...local, ...peerEastWest(remotePeers), ...outside],
        });
    };

    const gatewayTargets = (gateway: Record<string, string>, name: string, to: Served[], what: string) =>
        to.length > 0
            ? [
                  {
                      name,
                      description: what,
                      selector: gateway,
                      ingress: [],
                      egress: to.map((w) => ({ toEndpoints: [pod(w)], toPorts: tcp(w.port) })),
                  },
              ]
            : [];
    const served = running.filter(serves);
    const istio: WorkloadFlows[] = [
        ...gatewayTargets(
            gatewaySelectorLabels(INGRESS_GATEWAY),
            "allow-ingress-gateway-workloads",
            served.filter((w) => w.ingress),
            "ingress gateway: to the workloads routed there (zta-testbed:workloads)",
        ),
        ...gatewayTargets(
            gatewaySelectorLabels(EAST_WEST_GATEWAY),
            "allow-eastwest-gateway-workloads",
            served.filter(fromElsewhere),
            "east-west gateway: to the workloads called from the peers (zta-testbed:workloads)",
        ),
        ...(cfg.addons.prometheus && running.length > 0
            ? [
                  {
                      name: "allow-prometheus-workloads",
                      description: "Prometheus: scrapes the proxies of the workloads (zta-testbed:workloads)",
                      selector: PROMETHEUS.labels,
                      ingress: [],
                      egress: [
                          {
                              toEndpoints: [...new Set(running.map((w) => w.namespace))].map((ns) => inNamespace(ns)),
                              toPorts: tcp(...PROXY_METRICS_PORTS),
                          },
                      ],
                  },
              ]
            : []),
    ];
    return [
        ...namespaces.map((ns) => ({ name: ns, flows: running.filter((w) => w.namespace === ns).map(flowsOf) })),
        ...(istio.length > 0 ? [{ name: ISTIO_NAMESPACE, flows: istio }] : []),
    ];
}

/** What a workload's policy lets through, for its description. */
function describe(w: LabWorkload, targets: readonly LabWorkload[]): string {
    const parts = [
        w.callers.length > 0 ? `called by ${w.callers.join(", ")}` : "",
        w.ingress ? `routed at the ingress on ${w.ingress.pathPrefix}` : "",
        targets.length > 0 ? `calls ${targets.map(workloadRef).join(", ")}` : "",
        w.egress.length > 0 ? `reaches ${w.egress.join(", ")}` : "",
    ].filter((p) => p !== "");
    return parts.length > 0 ? parts.join("; ") : "no flows but DNS and istiod";
}
