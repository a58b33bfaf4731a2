// Grafana comes with Istio's dashboards: the grafana chart downloads them by
// their grafana.com ids into an "Istio" folder, on our Prometheus; the
// network policies let Grafana reach grafana.com and nothing else outside.
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
    test("Grafana provisions Istio's mesh, service, workload, control-plane and performance dashboards by grafana.com id, on Prometheus", () => {
        const v = grafanaValues(stackOf(lab, stack)) as Record<string, any>;
        // Istio's dashboard ids on grafana.com (grafana.com/orgs/istio).
        const ids = Object.values(v.dashboards.istio as Record<string, { gnetId: number; datasource: string }>)
            .map((d) => d.gnetId)
            .sort((a, b) => a - b);
        expect(ids).toEqual([7630, 7636, 7639, 7645, 11829]);
        for (const d of Object.values(v.dashboards.istio as Record<string, { datasource: string }>))
            expect(d.datasource).toBe("Prometheus");
        // Each at a pinned revision (the chart downloads .../dashboards/<id>/revisions/<revision>/download): never "latest", which moves.
        for (const d of Object.values(v.dashboards.istio as Record<string, { revision: unknown }>)) {
            expect(d.revision).not.toBe("latest");
            expect(Number.isInteger(d.revision) && (d.revision as number) > 0).toBe(true);
        }
        expect(
            Object.fromEntries(
                Object.entries(v.dashboards.istio as Record<string, { gnetId: number; revision: number }>).map(
                    ([, d]) => [d.gnetId, d.revision],
                ),
            ),
        ).toEqual({
            7630: 278,
            7636: 278,
            7639: 278,
            7645: 278,
            11829: 278,
        });
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

    test("Grafana may reach grafana.com on 443 for the download; no other policy names a host outside", () => {
        const plan = stackOf(lab, stack);
        const fqdns = resourcesOfType(plan, CNP).flatMap((r) =>
            (((r.inputs.spec as any).egress ?? []) as any[])
                .filter((e) => e.toFQDNs)
                .map(
                    (e) =>
                        `${(r.inputs.metadata as any).name}: ${e.toFQDNs.map((f: any) => f.matchName).join(",")}:${e.toPorts[0].ports[0].port}`,
                ),
        );
        expect(fqdns).toEqual(["allow-grafana: grafana.com:443"]);
    });

    test("without Prometheus there is no datasource, so no dashboards and no download", () => {
        const plan = stackOf(noPrometheus, stack);
        expect(grafanaValues(plan)?.dashboards).toBeUndefined();
        expect(JSON.stringify(resourcesOfType(plan, CNP).map((r) => r.inputs.spec))).not.toContain("grafana.com");
    });
});
