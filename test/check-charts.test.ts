// The chart render check (`npm run check:charts`): every Helm release of the
// plan, with its values, rendered by `helm template` against the chart at its
// pinned version. The rendering tests need ../shared/charts and a Helm binary
// ($HELM, or `helm` on PATH) and say so when they are skipped.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { plannedReleases } from "../offline/check/charts";
import { immutableFields, plannedKubernetes, renderRelease, semver, templateArgs } from "../offline/check/check-charts";
import { writePlan } from "../offline/planner/files";
import { LabPlan } from "../offline/planner/lab";
import { planOf, REPO } from "./helpers";

const CHARTS = path.resolve(REPO, "..", "shared", "charts");
const HELM = process.env.HELM ?? "helm";
const helmRuns = spawnSync(HELM, ["version", "--short"], { encoding: "utf8" }).status === 0;
const canRender = fs.existsSync(CHARTS) && helmRuns;

let lab: LabPlan;
let planDir: string;
beforeAll(async () => {
    lab = await planOf();
    planDir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-plan-"));
    for (const stack of lab.stacks) writePlan(planDir, stack);
});

test("the plan's releases are read with chart, pinned version, namespace and values", () => {
    const releases = plannedReleases(planDir);
    expect(releases.length).toBe(22);
    expect(releases.find((r) => r.file === path.join("comp2", "helm", "comp2-cilium-release.yaml"))).toMatchObject({
        stack: "comp2",
        name: "cilium",
        chart: "cilium",
        version: "1.20.0",
        namespace: "kube-system",
        values: { ipam: { mode: "kubernetes" } },
    });
});

test("Helm gets the release name, archive, namespace, values and the stack's Kubernetes version", () => {
    const [release] = plannedReleases(planDir).filter((r) => r.chart === "spire");
    expect(plannedKubernetes(planDir, "comp2")).toBe("1.36");
    expect(semver("1.36")).toBe("1.36.0");
    expect(semver("1.36.3")).toBe("1.36.3");
    expect(templateArgs(release, "/c/spire-0.30.0.tgz", "/t/values.json", "1.36")).toEqual([
        "template",
        "spire",
        "/c/spire-0.30.0.tgz",
        "--namespace",
        "spire-server",
        "--values",
        "/t/values.json",
        "--kube-version",
        "1.36.0",
    ]);
});

test("a pinned version missing from the charts folder fails without running Helm", () => {
    const [release] = plannedReleases(planDir);
    const result = renderRelease(
        "/nonexistent/helm",
        fs.mkdtempSync(path.join(os.tmpdir(), "zta-charts-")),
        release,
        "1.36",
    );
    expect(result.error).toMatch(/does not exist: the plan pins/);
});

const rendering = canRender ? describe : describe.skip;
rendering(
    `rendering against ${CHARTS} with ${HELM}${canRender ? "" : " (skipped: no charts folder or no Helm binary)"}`,
    () => {
        test("every release of both stacks renders at its pinned version", () => {
            const failures = plannedReleases(planDir)
                .map((r) => renderRelease(HELM, CHARTS, r, plannedKubernetes(planDir, r.stack) as string))
                .filter((r) => r.error)
                .map((r) => `${r.release.file}: ${r.error}`);
            expect(failures).toEqual([]);
        });

        test("values a chart refuses fail the render with the chart's message", () => {
            const [cilium] = plannedReleases(planDir).filter((r) => r.chart === "cilium");
            const result = renderRelease(
                HELM,
                CHARTS,
                { ...cilium, values: { ...cilium.values, kubeProxyReplacement: "strict" } },
                "1.36",
            );
            expect(result.error).toMatch(
                /kubeProxyReplacement must be explicitly set to a valid value \(true or false\)/,
            );
        });

        test("a Kubernetes version a chart's kubeVersion excludes fails the render", () => {
            const [spire] = plannedReleases(planDir).filter((r) => r.chart === "spire");
            expect(renderRelease(HELM, CHARTS, spire, "1.20").error).toMatch(/kube-?Version|incompatible/i);
        });

        test("MetalLB 0.16 renders no frr-k8s DaemonSet with the planned values (its default would add one)", () => {
            const [metallb] = plannedReleases(planDir).filter((r) => r.chart === "metallb");
            expect(renderRelease(HELM, CHARTS, metallb, "1.36").kinds.get("DaemonSet")).toBe(1);
            expect(
                renderRelease(HELM, CHARTS, { ...metallb, values: { crds: { enabled: true } } }, "1.36").kinds.get(
                    "DaemonSet",
                ),
            ).toBe(2);
        });

        // The pins before issue 18; the values are the program's, which did not change for these charts.
        test.each([
            ["cilium", "1.17.18", "1.32"],
            ["metallb", "0.14.9", "1.32"],
            ["spire", "0.24.5", "1.32"],
        ])(
            "%s %s -> the pinned version keeps every selector, serviceName and claim template: helm upgrade updates in place",
            (chart, oldVersion, oldKubernetes) => {
                const [release] = plannedReleases(planDir).filter((r) => r.chart === chart && r.stack === "comp2");
                const before = renderRelease(HELM, CHARTS, { ...release, version: oldVersion }, oldKubernetes);
                const after = renderRelease(HELM, CHARTS, release, "1.36");
                expect([before.error, after.error]).toEqual([undefined, undefined]);
                expect(Object.keys(immutableFields(after.objects)).length).toBeGreaterThan(1);
                expect(immutableFields(after.objects)).toEqual(immutableFields(before.objects));
            },
        );
    },
);
