// The pack applied to the offline plan of the lab, as `npm run policy:plan`
// does, and to a program that weakens mTLS.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { TypedCustomResource } from "../components/crd";
import { evaluateStack, SECRET } from "../offline/evaluate";
import { LabPlan } from "../offline/lab";
import { PREVIEW_POLICIES } from "../policy/catalog";
import { checkLab, checkResources, PLAN_POLICIES } from "../policy/plan";
import { byoLabDir, planOf, REPO, resourcesOfType, stackOf } from "./helpers";

describe("the offline plan of the reference lab", () => {
    let lab: LabPlan;
    beforeAll(async () => {
        lab = await planOf();
    });

    test("violates no policy in either stack", async () => {
        expect(await checkLab(lab, REPO)).toEqual([]);
    });

    test("is really inspected: unprotecting comp2's root CA key in it is reported", async () => {
        const comp2 = stackOf(lab, "comp2");
        const resources = comp2.resources.map((r) => (r.type === "tls:index/privateKey:PrivateKey" && r.protect ? { ...r, protect: false } : r));
        const found = await checkResources(resources);
        expect(found.map((v) => [v.policy, v.urn])).toEqual([["root-ca-protected", "urn:pulumi:comp2::zta-testbed::zta:pki:Pki$tls:index/privateKey:PrivateKey::comp2-pki-root-key"]]);
    });
});

describe("the offline plan of the lab with bring-your-own clusters", () => {
    let lab: LabPlan;
    beforeAll(async () => {
        lab = await planOf(byoLabDir());
    });

    test("violates no policy in either stack", async () => {
        expect(await checkLab(lab, REPO)).toEqual([]);
    });

    test("has the Kubernetes providers whose kubeconfig the secrecy policy checks, and they are secret", () => {
        for (const stack of lab.stacks) {
            const providers = resourcesOfType(stack, "pulumi:providers:kubernetes");
            expect(providers.map((p) => p.inputs.kubeconfig)).toEqual([SECRET]);
        }
    });
});

test("a program that declares a PERMISSIVE PeerAuthentication gets one violation naming it", async () => {
    const plan = await evaluateStack({
        project: "zta-testbed",
        stack: "comp2",
        config: {},
        secretKeys: [],
        program: async () => {
            new TypedCustomResource<{ mtls: { mode: string } }>("legacy-mtls", {
                apiVersion: "security.istio.io/v1",
                kind: "PeerAuthentication",
                metadata: { name: "legacy", namespace: "apps" },
                spec: { mtls: { mode: "PERMISSIVE" } },
            });
            return {};
        },
    });
    const declared = plan.resources.find((r) => r.name === "legacy-mtls");
    expect(declared?.type).toBe("kubernetes:security.istio.io/v1:PeerAuthentication");
    expect(await checkResources(plan.resources)).toEqual([
        {
            policy: "peer-authentication-strict",
            enforcementLevel: "mandatory",
            urn: declared?.urn,
            message: "PeerAuthentication apps/legacy sets mtls.mode PERMISSIVE: plain-text traffic would be accepted; use STRICT (or leave it UNSET to inherit the mesh-wide STRICT)",
        },
    ]);
});

describe("the pack", () => {
    test("serves every policy except the secrecy check, which only the plan can make", () => {
        const served = PREVIEW_POLICIES.map((p) => p.name);
        expect(PLAN_POLICIES.map((p) => p.name).filter((n) => !served.includes(n))).toEqual(["secret-inputs"]);
        expect(new Set(served).size).toBe(served.length);
        expect(PREVIEW_POLICIES.every((p) => p.enforcementLevel === "mandatory")).toBe(true);
    });

    test("has what `pulumi preview --policy-pack policy` loads: a nodejs PulumiPolicy.yaml and a versioned package.json", () => {
        const dir = path.join(REPO, "policy");
        expect(YAML.parse(fs.readFileSync(path.join(dir, "PulumiPolicy.yaml"), "utf8")).runtime).toBe("nodejs");
        const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
        expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
        expect(fs.existsSync(path.join(dir, pkg.main))).toBe(true);
    });
});
