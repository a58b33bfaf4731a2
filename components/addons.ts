import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { PROMETHEUS } from "../model/workloads";
import { ChartRef, helmRelease } from "./chart";

export interface AddonsArgs {
    /**
     * Where the add-ons run: Istio's namespace, like Istio's own add-on samples,
     * so Kiali finds the control plane and its defaults hold. The namespace is
     * created by the Istio layer.
     */
    readonly namespace: string;
    /** What must exist first (the Istio layer that creates the namespace); no data flows from it. */
    readonly dependsOn: pulumi.Resource[];
    /** Which add-ons to install. */
    readonly prometheus: boolean;
    readonly kiali: boolean;
    readonly grafana: boolean;
    /** Pinned chart versions (cfg.versions). */
    readonly versions: {
        readonly prometheus: string;
        readonly kiali: string;
        readonly grafana: string;
        /** Istio's release: its dashboards come from its tag. */
        readonly istio: string;
    };
}

export const PROMETHEUS_CHART = "https://prometheus-community.github.io/helm-charts";
export const KIALI_CHART = "https://kiali.org/helm-charts";
// The grafana chart moved to grafana-community on 2026-01-30; grafana/helm-charts stops at 10.5.15.
export const GRAFANA_CHART = "https://grafana-community.github.io/helm-charts";

/**
 * Istio's dashboards as the pinned Istio release ships them
 * (manifests/addons/dashboards/ in istio/istio at the release tag; the same files
 * Istio uploads to grafana.com/orgs/istio at each release): mesh, service, workload,
 * control plane, performance. Fetched from the release's tag, they move with
 * `versions.istio` and match the istiod the lab runs.
 */
export const ISTIO_DASHBOARDS = {
    "istio-mesh": "istio-mesh-dashboard.gen.json",
    "istio-service": "istio-service-dashboard.json",
    "istio-workload": "istio-workload-dashboard.json",
    "istio-control-plane": "pilot-dashboard.gen.json",
    "istio-performance": "istio-performance-dashboard.json",
} as const;
/** Where Grafana's init container downloads the dashboards from. */
export const DASHBOARD_HOST = "raw.githubusercontent.com";

/** The URL of one of Istio's dashboards at a release. */
export function istioDashboardUrl(istioVersion: string, file: string): string {
    return `https://${DASHBOARD_HOST}/istio/istio/${istioVersion}/manifests/addons/dashboards/${file}`;
}

/**
 * Grafana chart values that download Istio's dashboards at start (the chart's
 * `dashboards.<provider>.<name>.url`: an init container fetches each with curl) into
 * a file provider's folder "Istio" (the chart writes `dashboards.<provider>` to
 * /var/lib/grafana/dashboards/<provider>), their datasource set to our Prometheus.
 */
export function istioDashboardValues(istioVersion: string): Record<string, unknown> {
    return {
        dashboardProviders: {
            "dashboardproviders.yaml": {
                apiVersion: 1,
                providers: [
                    {
                        name: "istio",
                        orgId: 1,
                        folder: "Istio",
                        type: "file",
                        disableDeletion: true,
                        editable: false,
                        options: { path: "/var/lib/grafana/dashboards/istio" },
                    },
                ],
            },
        },
        dashboards: {
            istio: Object.fromEntries(
                Object.entries(ISTIO_DASHBOARDS).map(([name, file]) => [
                    name,
                    { url: istioDashboardUrl(istioVersion, file), datasource: "Prometheus" },
                ]),
            ),
        },
    };
}
const GRAFANA_ADMIN_USER = "admin";

/**
 * Observability add-ons: Prometheus (Istio metrics), Grafana (dashboards on
 * that Prometheus) and Kiali (mesh graph from Prometheus, links to Grafana),
 * each an upstream chart at a pinned version, each optional. They are
 * `helm.v3.Release`s (components/chart.ts): Helm owns their upgrades and hooks.
 *
 * Nothing here needs storage: a bare kubeadm node has no StorageClass, so
 * Prometheus' PVC would stay Pending (the chart's default); metrics are lost
 * when its pod restarts, which a testbed accepts.
 *
 * Credentials are generated, never in a file, and fixed in Pulumi state so a
 * re-render changes nothing: Grafana's admin password (the chart would
 * otherwise make up a new one per render) and Kiali's login-token signing key
 * (the chart's default is `randAlphaNum 32` per render, a rollout each `up`).
 */
export class Addons extends pulumi.ComponentResource {
    /** Prometheus' in-cluster URL, when installed. */
    public readonly prometheusUrl?: string;
    /** Grafana's in-cluster URL, when installed. */
    public readonly grafanaUrl?: string;
    /** Grafana's admin password (secret), when Grafana is installed. */
    public readonly grafanaAdminPassword?: pulumi.Output<string>;

    constructor(name: string, args: AddonsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:addons:Addons", name, {}, opts);
        const child = { parent: this };
        // The namespace comes from the Istio layer: no data flows from it, so dependsOn.
        const release = { ...child, dependsOn: args.dependsOn };
        const ns = args.namespace;

        if (args.prometheus) {
            const ref: ChartRef = { chart: "prometheus", repo: PROMETHEUS_CHART, version: args.versions.prometheus };
            // Istio's add-on values (manifests/addons/values-prometheus.yaml): Service "prometheus" on 9090,
            // which is where Kiali and Istio's dashboards look by default.
            this.prometheusUrl = `http://prometheus.${ns}:${PROMETHEUS.port}`;
            helmRelease(
                `${name}-prometheus`,
                {
                    ref,
                    namespace: ns,
                    values: {
                        server: {
                            fullnameOverride: "prometheus",
                            service: { servicePort: PROMETHEUS.port },
                            // No StorageClass on a bare node: the chart's default PVC would stay Pending.
                            persistentVolume: { enabled: false },
                            // Istio's add-on values; the pods annotated by Istio's merged metrics are scraped by
                            // the chart's default `kubernetes-pods` job.
                            global: { scrape_interval: "15s" },
                        },
                        // Only Istio's metrics are needed; alertmanager would also want a PVC.
                        alertmanager: { enabled: false },
                        "kube-state-metrics": { enabled: false },
                        "prometheus-node-exporter": { enabled: false },
                        "prometheus-pushgateway": { enabled: false },
                    },
                },
                release,
            );
        }

        let grafanaSecret: k8s.core.v1.Secret | undefined;
        if (args.grafana) {
            // The component's `provider` option reaches its Kubernetes children only: the random package's
            // default provider creates this (the cluster's Kubernetes provider would refuse it).
            const password = new random.RandomPassword(
                `${name}-grafana-admin`,
                { length: 32, special: false },
                { parent: this },
            );
            this.grafanaAdminPassword = pulumi.secret(password.result);
            grafanaSecret = new k8s.core.v1.Secret(
                `${name}-grafana-admin`,
                {
                    metadata: { name: "grafana-admin", namespace: ns },
                    // The chart's admin.userKey / admin.passwordKey defaults.
                    stringData: { "admin-user": GRAFANA_ADMIN_USER, "admin-password": this.grafanaAdminPassword },
                },
                release,
            );
            this.grafanaUrl = `http://grafana.${ns}:80`;
            helmRelease(
                `${name}-grafana`,
                {
                    ref: { chart: "grafana", repo: GRAFANA_CHART, version: args.versions.grafana },
                    namespace: ns,
                    values: {
                        // Without it the chart generates a password per render (or looks one up, which a Pulumi
                        // preview cannot): a Secret Pulumi owns keeps it stable and readable as a stack output.
                        admin: { existingSecret: grafanaSecret.metadata.name },
                        ...(this.prometheusUrl && istioDashboardValues(args.versions.istio)),
                        ...(this.prometheusUrl && {
                            datasources: {
                                "datasources.yaml": {
                                    apiVersion: 1,
                                    datasources: [
                                        {
                                            name: "Prometheus",
                                            type: "prometheus",
                                            url: this.prometheusUrl,
                                            access: "proxy",
                                            isDefault: true,
                                            // Istio's add-on values: match Prometheus' scrape interval.
                                            jsonData: { timeInterval: "15s" },
                                        },
                                    ],
                                },
                            },
                        }),
                    },
                },
                child,
            );
        }

        if (args.kiali) {
            const signingKey = new random.RandomPassword(
                `${name}-kiali-signing-key`,
                { length: 32, special: false },
                { parent: this },
            );
            const keySecret = new k8s.core.v1.Secret(
                `${name}-kiali-signing-key`,
                {
                    metadata: { name: "kiali-signing-key", namespace: ns },
                    stringData: { key: pulumi.secret(signingKey.result) },
                },
                release,
            );
            helmRelease(
                `${name}-kiali`,
                {
                    ref: { chart: "kiali-server", repo: KIALI_CHART, version: args.versions.kiali },
                    releaseName: "kiali",
                    namespace: ns,
                    values: {
                        // "secret:<name>:<key>": the chart mounts the Secret and Kiali reads the key from it
                        // (kiali-server _helpers.tpl, kiali-server.credential-secrets).
                        login_token: { signing_key: pulumi.interpolate`secret:${keySecret.metadata.name}:key` },
                        external_services: {
                            prometheus: this.prometheusUrl ? { url: this.prometheusUrl } : { enabled: false },
                            grafana: grafanaSecret
                                ? {
                                      enabled: true,
                                      internal_url: this.grafanaUrl,
                                      auth: {
                                          type: "basic",
                                          username: GRAFANA_ADMIN_USER,
                                          password: pulumi.interpolate`secret:${grafanaSecret.metadata.name}:admin-password`,
                                      },
                                  }
                                : { enabled: false },
                            // No tracing backend in the lab (Istio's add-on values do the same).
                            tracing: { enabled: false },
                        },
                    },
                },
                child,
            );
        }

        this.registerOutputs({
            prometheusUrl: this.prometheusUrl,
            grafanaUrl: this.grafanaUrl,
            grafanaAdminPassword: this.grafanaAdminPassword,
        });
    }
}
