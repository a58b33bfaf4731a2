// The whole reference lab, planned as committed: every layer is there in both
// stacks, in an order that works on a fresh cluster, with zero trust enforced.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { PlannedResource } from "../offline/engine/record";
import { writePlan } from "../offline/planner/files";
import { LabPlan, StackPlan } from "../offline/planner/lab";
import { findResource, labDirWith, planOf, rawConfig, resourcesOfType, stackOf } from "./helpers";

let lab: LabPlan;
let out: string;
beforeAll(async () => {
    lab = await planOf();
    out = fs.mkdtempSync(path.join(os.tmpdir(), "zta-lab-plan-"));
    for (const stack of lab.stacks) writePlan(out, stack);
});

const STACKS = ["comp2", "comp3"];

/** Everything a resource waits for, directly or through what it waits for. */
function waitsFor(plan: StackPlan, r: PlannedResource): Set<string> {
    const byUrn = new Map(plan.resources.map((x) => [x.urn, x]));
    const seen = new Set<string>();
    const visit = (urn: string) => {
        for (const d of byUrn.get(urn)?.dependsOn ?? []) {
            if (!seen.has(d)) {
                seen.add(d);
                visit(d);
            }
        }
    };
    visit(r.urn);
    return seen;
}

describe("every layer of docs/design.md is in both stacks", () => {
    const once = [
        "zta:host:HostPrep",
        "zta:network:CiliumRelease",
        "zta:network:MetalLBPool",
        "zta:identity:SpireServer",
        "zta:identity:ClusterSPIFFEIDs",
        "zta:mesh:IstioPrimary",
        "zta:mesh:EastWestGateway",
        "zta:mesh:RemoteSecretSource",
        "zta:mesh:RemoteSecret",
        "zta:policy:MeshPolicies",
        "zta:addons:Addons",
        "zta:samples:Samples",
    ];
    test.each(STACKS)("%s: one of each component", (stack) => {
        const plan = stackOf(lab, stack);
        for (const type of once) expect([type, resourcesOfType(plan, type).length]).toEqual([type, 1]);
    });

    test("the lab root and the registry belong to the root stack only; each stack has its own cluster CA keys", () => {
        expect(resourcesOfType(stackOf(lab, "comp2"), "zta:pki:ClusterCa")).toHaveLength(1);
        expect(resourcesOfType(stackOf(lab, "comp3"), "zta:pki:ClusterCa")).toHaveLength(1);
        expect(resourcesOfType(stackOf(lab, "comp2"), "zta:pki:Pki")).toHaveLength(1);
        expect(resourcesOfType(stackOf(lab, "comp2"), "zta:host:Registry")).toHaveLength(1);
        expect(resourcesOfType(stackOf(lab, "comp3"), "zta:pki:Pki")).toHaveLength(0);
        expect(resourcesOfType(stackOf(lab, "comp3"), "zta:host:Registry")).toHaveLength(0);
    });

    test.each(STACKS)(
        "%s: every Kubernetes resource goes through the cluster's own provider, built from HostPrep's kubeconfig",
        (stack) => {
            const plan = stackOf(lab, stack);
            const provider = findResource(plan, "pulumi:providers:kubernetes", `${stack}-k8s`);
            const kubeconfig = findResource(plan, "command:remote:Command", `${stack}-hostprep-kubeconfig`);
            expect(provider.dependsOn).toContain(kubeconfig.urn);
            const k8sResources = plan.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
            expect(k8sResources.length).toBeGreaterThan(20);
            for (const r of k8sResources) expect([r.name, r.provider]).toEqual([r.name, provider.urn]);
        },
    );
});

describe("order on a fresh cluster", () => {
    // Charts that schedule no pods: CRDs, webhooks configuration, service accounts.
    const NO_PODS = ["istio-base", "spire-crds"];

    test.each(STACKS)(
        "%s: every Helm release is done only once its resources are ready (skipAwait false), so what waits for it finds it running",
        (stack) => {
            const releases = resourcesOfType(stackOf(lab, stack), "kubernetes:helm.sh/v3:Release");
            expect(releases.length).toBeGreaterThan(5);
            for (const r of releases) expect([r.name, r.inputs.skipAwait]).toEqual([r.name, false]);
        },
    );

    test.each(STACKS)("%s: everything that schedules pods waits for the CNI", (stack) => {
        const plan = stackOf(lab, stack);
        const cni = findResource(plan, "kubernetes:helm.sh/v3:Release", `${stack}-cilium-release`);
        const scheduling = plan.resources.filter(
            (r) =>
                (r.type === "kubernetes:helm.sh/v3:Release" && r !== cni && !NO_PODS.some((n) => r.name.endsWith(n))) ||
                r.type === "kubernetes:apps/v1:Deployment",
        );
        expect(scheduling.length).toBeGreaterThan(10);
        for (const r of scheduling) expect([r.name, waitsFor(plan, r).has(cni.urn)]).toEqual([r.name, true]);
    });

    test.each(STACKS)(
        "%s: SPIRE and the ClusterSPIFFEIDs are in place before any gateway mounts the CSI socket",
        (stack) => {
            const plan = stackOf(lab, stack);
            const ids = resourcesOfType(plan, "kubernetes:spire.spiffe.io/v1alpha1:ClusterSPIFFEID");
            const spire = findResource(plan, "kubernetes:helm.sh/v3:Release", `${stack}-spire-chart`);
            for (const gateway of [`${stack}-istio-ingress`, `${stack}-eastwest-release`]) {
                const waits = waitsFor(plan, findResource(plan, "kubernetes:helm.sh/v3:Release", gateway));
                expect(waits.has(spire.urn)).toBe(true);
                for (const id of ids) expect(waits.has(id.urn)).toBe(true);
            }
        },
    );
});

describe("SPIRE-managed samples", () => {
    test.each(STACKS)("%s: the sample workloads start only once SPIRE and the ClusterSPIFFEIDs exist", (stack) => {
        const plan = stackOf(lab, stack);
        const ids = resourcesOfType(plan, "kubernetes:spire.spiffe.io/v1alpha1:ClusterSPIFFEID");
        expect(ids.length).toBeGreaterThan(0);
        const samples = resourcesOfType(plan, "kubernetes:apps/v1:Deployment").filter((d) =>
            d.name.includes("-samples-"),
        );
        expect(samples.length).toBeGreaterThan(0);
        for (const deployment of samples) {
            const waits = waitsFor(plan, deployment);
            for (const id of ids) expect([deployment.name, waits.has(id.urn)]).toEqual([deployment.name, true]);
        }
    });
});

describe("zero trust in the plan (issue 7's must-show)", () => {
    test.each(STACKS)(
        "%s: mesh-wide STRICT mTLS, and JWT required at the ingress by the configured issuer",
        (stack) => {
            const dir = path.join(out, stack, "manifests");
            const read = (file: string) => YAML.parse(fs.readFileSync(path.join(dir, file), "utf8"));
            const issuer = (rawConfig(stack).jwt as { issuer: string; jwksUri: string }).issuer;
            expect(read("peerauthentication_istio-system_default.yaml").spec).toEqual({ mtls: { mode: "STRICT" } });
            const ra = read("requestauthentication_istio-system_ingress-jwt.yaml").spec;
            expect(ra.jwtRules).toEqual([
                expect.objectContaining({ issuer, jwksUri: (rawConfig(stack).jwt as { jwksUri: string }).jwksUri }),
            ]);
            const ap = read("authorizationpolicy_istio-system_ingress-require-jwt.yaml").spec;
            const principals: string[] = ap.rules.flatMap((r: any) =>
                r.from.flatMap((f: any) => f.source.requestPrincipals),
            );
            expect(principals.length).toBeGreaterThan(0);
            for (const p of principals) expect(p.startsWith(issuer)).toBe(true);
            // Both select the ingress gateway's pods.
            expect(ra.selector).toEqual(ap.selector);
        },
    );

    test.each(STACKS)("%s: the Grafana admin password is generated and only ever shown as [secret]", (stack) => {
        const outputs = JSON.parse(fs.readFileSync(path.join(out, stack, "outputs.json"), "utf8"));
        expect(outputs.grafanaAdminPassword).toBe("[secret]");
        expect(
            YAML.parse(
                fs.readFileSync(path.join(out, stack, "manifests", "secret_istio-system_grafana-admin.yaml"), "utf8"),
            ).stringData,
        ).toBe("[secret]");
        expect(
            resourcesOfType(stackOf(lab, stack), "random:index/randomPassword:RandomPassword").length,
        ).toBeGreaterThan(0);
    });
});

describe("the first deployment's run sequence (README, 'Deploying to the lab')", () => {
    const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Deploying to the lab"), readme.indexOf("## Verify"));

    test("the README's `pulumi up` commands are the runs the offline plan makes, in order", () => {
        const ups = [...section.matchAll(/^pulumi up --stack (\S+)/gm)].map((m) => m[1]);
        expect(ups).toEqual(lab.runs);
        expect(lab.runs).toEqual(["comp3", "comp2", "comp3"]);
    });

    test("the run count the README states is the number of runs the plan makes", () => {
        const stated = /converges in these (\d+) runs/.exec(section);
        expect(stated).not.toBeNull();
        expect(Number(stated?.[1])).toBe(lab.runs.length);
    });
});

describe("the plan the test files share (test/helpers.ts planOf)", () => {
    test("is the plan: what a fresh planning of the committed lab gives, and it survives JSON unchanged", async () => {
        const fresh = await planOf(undefined, { shared: false });
        expect(await planOf()).toStrictEqual(fresh);
        expect(JSON.parse(JSON.stringify(fresh))).toStrictEqual(fresh);
    });

    test("is one per lab: another stack file is another plan", async () => {
        const other = await planOf(labDirWith((s, raw) => s === "comp2" && (raw.cluster.podCidr = "10.248.0.0/16")));
        expect(JSON.stringify(other)).not.toBe(JSON.stringify(lab));
        expect(JSON.stringify(other)).toContain("10.248.0.0/16");
    });
});
