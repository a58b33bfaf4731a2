// The observability add-ons (docs/addons.md): Prometheus, Grafana and Kiali, each
// optional, and their flows.
import * as pulumi from "@pulumi/pulumi";
import { Addons, DASHBOARD_HOST } from "../../components/addons";
import { WorkloadFlows } from "../../components/segmentation";
import { gatewaySelectorLabels } from "../../components/gateway-labels";
import {
    ClusterAccess,
    ClusterNetwork,
    EAST_WEST_GATEWAY,
    INGRESS_GATEWAY,
    ISTIO_NAMESPACE,
    SAMPLE_NAMESPACE,
    ServiceMesh,
} from "../../model/lab";
import { GRAFANA, ISTIOD, KIALI, PROMETHEUS, PROXY_METRICS_PORTS } from "../../model/workloads";
import { LabConfig } from "../config/lab-config";
import { API_SERVER, dns, inNamespace, LayerFlows, outside, tcp } from "./flows";
import { StackInput } from "./stack";

export interface AddonsInput extends StackInput {
    readonly access: ClusterAccess;
    readonly network?: ClusterNetwork;
    readonly mesh: ServiceMesh;
}

export interface Observability extends LayerFlows {
    /** Grafana's generated admin password (secret), when Grafana runs: the `grafanaAdminPassword` output. */
    readonly grafanaAdminPassword?: pulumi.Output<string>;
}

/** The add-ons `addons.*` turns on, in Istio's namespace. */
export function observability({ cfg, access, network, mesh }: AddonsInput): Observability {
    const { prometheus, kiali, grafana } = cfg.addons;
    const addons =
        prometheus || kiali || grafana
            ? new Addons(
                  `${cfg.stack}-addons`,
                  {
                      namespace: ISTIO_NAMESPACE,
                      dependsOn: [...mesh.control, ...(network ? [network.cni] : [])],
                      prometheus,
                      kiali,
                      grafana,
                      versions: cfg.versions,
                  },
                  { provider: access.provider },
              )
            : undefined;
    return {
        grafanaAdminPassword: addons?.grafanaAdminPassword,
        flows: [{ name: ISTIO_NAMESPACE, flows: addonsFlows(cfg.addons) }],
    };
}

/** Each add-on that runs: who it reads and who reads it. */
function addonsFlows({ prometheus, grafana, kiali }: LabConfig["addons"]): WorkloadFlows[] {
    const flows: WorkloadFlows[] = [];
    const toPrometheus = { toEndpoints: [{ matchLabels: PROMETHEUS.labels }], toPorts: tcp(PROMETHEUS.port) };
    if (prometheus) {
        const proxies = [
            inNamespace(SAMPLE_NAMESPACE),
            { matchLabels: gatewaySelectorLabels(INGRESS_GATEWAY) },
            { matchLabels: gatewaySelectorLabels(EAST_WEST_GATEWAY) },
        ];
        flows.push({
            name: "allow-prometheus",
            description: "Prometheus: scrapes the proxies and istiod; queried by Grafana and Kiali",
            selector: PROMETHEUS.labels,
            ingress:
                grafana || kiali
                    ? [
                          {
                              fromEndpoints: [
                                  ...(grafana ? [{ matchLabels: GRAFANA.labels }] : []),
                                  ...(kiali ? [{ matchLabels: KIALI.labels }] : []),
                              ],
                              toPorts: tcp(PROMETHEUS.port),
                          },
                      ]
                    : [],
            egress: [
                dns(),
                API_SERVER,
                { toEndpoints: proxies, toPorts: tcp(...PROXY_METRICS_PORTS) },
                { toEndpoints: [{ matchLabels: ISTIOD.labels }], toPorts: tcp(ISTIOD.ports.monitoring) },
            ],
        });
    }
    if (grafana) {
        // With Prometheus, Grafana's init container downloads Istio's dashboards from the Istio release's tag on GitHub (components/addons.ts).
        const dashboards = prometheus ? outside(DASHBOARD_HOST, 443) : undefined;
        flows.push({
            name: "allow-grafana",
            description: prometheus
                ? "Grafana: reads Prometheus, downloads Istio's dashboards from its release on GitHub; Kiali links to it"
                : "Grafana; Kiali links to it",
            selector: GRAFANA.labels,
            ingress: kiali ? [{ fromEndpoints: [{ matchLabels: KIALI.labels }], toPorts: tcp(GRAFANA.port) }] : [],
            egress: [
                dns(dashboards?.names ?? []),
                ...(prometheus ? [toPrometheus] : []),
                ...(dashboards ? [dashboards.rule] : []),
            ],
        });
    }
    if (kiali) {
        flows.push({
            name: "allow-kiali",
            description:
                "Kiali (reached with kubectl port-forward): reads the API server, Prometheus, Grafana and istiod",
            selector: KIALI.labels,
            ingress: [],
            egress: [
                dns(),
                API_SERVER,
                { toEndpoints: [{ matchLabels: ISTIOD.labels }], toPorts: tcp(ISTIOD.ports.monitoring) },
                ...(prometheus ? [toPrometheus] : []),
                ...(grafana ? [{ toEndpoints: [{ matchLabels: GRAFANA.labels }], toPorts: tcp(GRAFANA.port) }] : []),
            ],
        });
    }
    return flows;
}
