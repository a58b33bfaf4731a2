// Grafana comes with Istio's dashboards: the grafana chart downloads those of the
// pinned Istio release into an "Istio" folder, on our Prometheus; the network
// policies let Grafana reach raw.githubusercontent.com and nothing else outside.
import { LabPlan, StackPlan } from "../offline/planner/lab";
import { labDirWith, planOf, resourcesOfType, stackOf } from "./helpers";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const CNP = "kubernetes:cilium.io/v2:CiliumNetworkPolicy";
const grafanaValues = (plan: StackPlan) =>
    resourcesOfType(plan, RELEASE).find((r) => r.inputs.name === "grafana")?.inputs.values as
        Record<string, any> | undefined;

let lab: LabPlan;
let noPrometheus: LabPlan;
beforeAll(async () => {
    lab = await planOf();
    noPrometheus = await planOf(
        labDirWith((_s, raw) => (raw.addons = { prometheus: false, kiali: false, grafana: true })),
    );
});

describe.each(["comp2", "comp3"])("%s", (stack) => {
    test("Grafana provisions Istio's mesh, service, workload, control-plane and performance dashboards of the pinned Istio release, on Prometheus", () => {
        const v = grafanaValues(stackOf(lab, stack)) as Record<string, any>;
        // The files of istio/istio's manifests/addons/dashboards/ at the release tag the lab pins (1.30.3):
        // what Istio uploads to grafana.com as ids 7639, 7636, 7630, 7645 and 11829 at that release.
        const base = "https://raw.githubusercontent.com/istio/istio/1.30.3/manifests/addons/dashboards/";
        const urls = Object.values(v.dashboards.istio as Record<string, { url: string }>)
            .map((d) => d.url)
            .sort();
        expect(urls).toEqual(
            [
                "istio-mesh-dashboard.gen.json",
                "istio-performance-dashboard.json",
                "istio-service-dashboard.json",
                "istio-workload-dashboard.json",
                "pilot-dashboard.gen.json",
            ].map((f) => base + f),
        );
        for (const d of Object.values(v.dashboards.istio as Record<string, { datasource: string; gnetId?: unknown }>)) {
            expect(d.datasource).toBe("Prometheus");
            // By a release's file, never by grafana.com id at "latest" (which moves).
            expect(d.gnetId).toBeUndefined();
        }
        // The provider named like the dashboards' key reads the folder the chart writes them to.
        expect(v.dashboardProviders["dashboardproviders.yaml"].providers).toEqual([
            expect.objectContaining({
                name: "istio",
                folder: "Istio",
                type: "file",
                options: { path: "/var/lib/grafana/dashboards/istio" },
            }),
        ]);
    });

    test("Grafana may reach raw.githubusercontent.com on 443 for the download; no other policy names a host outside", () => {
        const plan = stackOf(lab, stack);
        const fqdns = resourcesOfType(plan, CNP).flatMap((r) =>
            (((r.inputs.spec as any).egress ?? []) as any[])
                .filter((e) => e.toFQDNs)
                .map(
                    (e) =>
                        `${(r.inputs.metadata as any).name}: ${e.toFQDNs.map((f: any) => f.matchName).join(",")}:${e.toPorts[0].ports[0].port}`,
                ),
        );
        expect(fqdns).toEqual(["allow-grafana: raw.githubusercontent.com:443"]);
    });

    test("without Prometheus there is no datasource, so no dashboards and no download", () => {
        const plan = stackOf(noPrometheus, stack);
        expect(grafanaValues(plan)?.dashboards).toBeUndefined();
        expect(JSON.stringify(resourcesOfType(plan, CNP).map((r) => r.inputs.spec))).not.toContain(
            "raw.githubusercontent.com",
        );
    });
});
