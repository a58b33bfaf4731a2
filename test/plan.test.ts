// The offline plan as its users see it: the files it writes, their shape,
// that no secret reaches them, and that bad config stops it.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { evaluateStack } from "../offline/engine/evaluate";
import { writePlan } from "../offline/planner/files";
import { LabPlan, readStackConfig } from "../offline/planner/lab";
import { renderTree } from "../offline/planner/report";
import { main } from "../stacks/main";
import { byoLabDir, findResource, labDirWith, planOf, REPO, stackOf, TSX_LOADER_ARGS } from "./helpers";

let lab: LabPlan;
let out: string;
beforeAll(async () => {
    lab = await planOf();
    out = fs.mkdtempSync(path.join(os.tmpdir(), "zta-plan-"));
    for (const stack of lab.stacks) writePlan(out, stack);
});

function walk(dir: string): string[] {
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe("plan/<stack>/resources.json", () => {
    test.each(["comp2", "comp3"])(
        "%s: one entry per resource with type, name, urn, parent, dependsOn, provider and inputs",
        (stack) => {
            const entries = JSON.parse(fs.readFileSync(path.join(out, stack, "resources.json"), "utf8")) as any[];
            expect(entries.length).toBe(stackOf(lab, stack).resources.length);
            expect(entries.length).toBeGreaterThan(1);
            const urns = new Set(entries.map((e) => e.urn));
            for (const e of entries) {
                expect(typeof e.type).toBe("string");
                expect(typeof e.name).toBe("string");
                expect(e.urn).toMatch(new RegExp(`^urn:pulumi:${stack}::zta-testbed::`));
                // Every reference points at a resource of the same plan.
                if (e.parent !== null) expect(urns).toContain(e.parent);
                expect(Array.isArray(e.dependsOn)).toBe(true);
                for (const d of e.dependsOn) expect(urns).toContain(d);
                expect(e.provider === null || urns.has(e.provider)).toBe(true);
                expect(typeof e.inputs).toBe("object");
            }
            expect(entries.filter((e) => e.parent === null).map((e) => e.type)).toEqual(["pulumi:pulumi:Stack"]);
        },
    );

    test("no secret value appears anywhere under plan/", () => {
        const files = walk(out);
        expect(files.length).toBeGreaterThan(4);
        for (const file of files) {
            const text = fs.readFileSync(file, "utf8");
            expect(text).not.toMatch(/MOCK-PRIVATE-KEY|STAND-IN\(|PRIVATE KEY|MOCK-PASSWORD/);
        }
        // ...and the redaction is what keeps them out: the plan in memory does hold secret values.
        expect(JSON.stringify(stackOf(lab, "comp2").outputs)).toMatch(/MOCK-TOKEN|MOCK-PASSWORD/);
        expect(fs.readFileSync(path.join(out, "comp2", "outputs.json"), "utf8")).toMatch(
            /"remoteSecret": "\[secret\]"/,
        );
    });

    test("writing refuses a plan whose secret leaked into a plain input", () => {
        const leaky = { ...stackOf(lab, "comp2") };
        leaky.resources = [...leaky.resources, { ...leaky.resources[0], inputs: { key: "MOCK-PRIVATE-KEY(x)" } }];
        expect(() => writePlan(fs.mkdtempSync(path.join(os.tmpdir(), "zta-leak-")), leaky)).toThrow(
            /secret material would be written/,
        );
    });

    test("the tree shows the components under the stack", () => {
        const tree = renderTree(stackOf(lab, "comp2"));
        expect(tree).toMatch(/^comp2: \d+ resources/);
        expect(tree).toMatch(/└─ pulumi:pulumi:Stack {2}zta-testbed-comp2/);
        expect(tree).toMatch(/zta:pki:Pki {2}comp2-pki/);
        expect(tree).toMatch(/comp2-pki-root-cert \[protected\]/);
    });
});

describe("docs/deploy.md, Tearing down", () => {
    test("unprotects exactly the plan's protected resources, at the URNs the engine gives them", () => {
        const page = fs.readFileSync(path.join(REPO, "docs", "deploy.md"), "utf8");
        const section = page.slice(page.indexOf("## Tearing down"), page.indexOf("### What stays"));
        const unprotected = [...section.matchAll(/'(urn:pulumi:[^']+)'/g)].map((m) => m[1]);
        const protectedUrns = stackOf(lab, "comp2")
            .resources.filter((r) => r.protect)
            .map((r) => r.urn);
        expect(unprotected.sort()).toEqual(protectedUrns.sort());
        expect(unprotected).toContain(
            "urn:pulumi:comp2::zta-testbed::zta:pki:Pki$tls:index/selfSignedCert:SelfSignedCert::comp2-pki-root-cert",
        );
        expect(stackOf(lab, "comp3").resources.filter((r) => r.protect)).toEqual([]);
    });
});

describe("secrets that are not set", () => {
    test("get labelled stand-ins that are listed, and stay secret", () => {
        const file = readStackConfig(REPO, "comp2");
        expect(file.standIns).toEqual(["zta-testbed:sshPrivateKey"]);
        expect(file.secretKeys).toContain("zta-testbed:sshPrivateKey");
        const summary = JSON.parse(fs.readFileSync(path.join(out, "comp2", "summary.json"), "utf8"));
        expect(summary.standIns).toEqual(["zta-testbed:sshPrivateKey"]);
    });

    test("a secret key in plain text in a stack file is refused", () => {
        const dir = labDirWith((_s, raw) => (raw.sshPrivateKey = "not-a-key"));
        expect(() => readStackConfig(dir, "comp2")).toThrow(/zta-testbed:sshPrivateKey is in plain text/);
    });
});

describe("the peer stack", () => {
    test("missing peer outputs are a warning, not an error", async () => {
        const file = readStackConfig(REPO, "comp3");
        const alone = await evaluateStack({
            project: "zta-testbed",
            stack: "comp3",
            config: file.config,
            secretKeys: file.secretKeys,
            program: main,
        });
        expect(alone.warnings.join("\n")).toMatch(
            /peer stack "comp2" has not exported identity, labServicesCaCert, remoteSecret, rootCaCert, signedIntermediates yet/,
        );
        expect(alone.warnings.join("\n")).toMatch(
            /pki\.role is "peer" and root stack "comp2" has not signed this cluster's intermediates \(cluster2\) yet/,
        );
        expect(alone.outputs.identity.value).toMatchObject({ clusterName: "cluster2" });
    });

    test("a peer that disagrees fails the plan with both values", async () => {
        const dir = labDirWith((stack, raw) => {
            if (stack === "comp3") raw.cluster.network = "network1";
        });
        await expect(planOf(dir)).rejects.toThrow(
            /Pulumi\.comp2\.yaml: zta-testbed:cluster\.network is "network1" here and "network1" in peer stack "comp3"/,
        );
    });

    test("a lab-wide key set in one stack file is refused, naming the file, the key and Pulumi.yaml", async () => {
        const dir = labDirWith((stack, raw) => {
            if (stack === "comp3") raw.mesh.id = "mesh2";
        });
        await expect(planOf(dir)).rejects.toThrow(
            /Pulumi\.comp3\.yaml: zta-testbed:mesh is lab-wide, equal in every stack: set it once in Pulumi\.yaml's config block .* and remove it from Pulumi\.comp3\.yaml/,
        );
    });
});

describe("npm run plan", () => {
    const run = (...args: string[]) =>
        spawnSync(process.execPath, [...TSX_LOADER_ARGS, path.join(REPO, "offline", "planner", "plan.ts"), ...args], {
            cwd: REPO,
            encoding: "utf8",
        });

    test("writes both stacks' files, prints the first deployment's runs, and exits 0", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-cli-"));
        const result = run("--out", dir, "--quiet");
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(result.stdout).toMatch(
            /first deployment: 3 runs of `pulumi up`, in this order: comp3, comp2, comp3\nconverged: 1 more run \(comp2\) changed nothing\n/,
        );
        for (const stack of lab.stacks.map((s) => s.stack)) {
            expect(fs.existsSync(path.join(dir, stack, "resources.json"))).toBe(true);
            expect(YAML.parse(fs.readFileSync(path.join(dir, stack, "summary.json"), "utf8")).stack).toBe(stack);
            // The policy pack's config for `pulumi preview --policy-pack-config` (test/policy-plan.test.ts checks its content).
            expect(
                JSON.parse(fs.readFileSync(path.join(dir, stack, "policy-config.json"), "utf8"))["allowed-registries"],
            ).toEqual({ labRegistry: "10.5.0.2:8443" });
        }
        expect(result.stdout).toMatch(/stand-in: zta-testbed:sshPrivateKey is not set/);
    });

    test("a broken config dir exits non-zero naming the key", () => {
        const dir = labDirWith((stack, raw) => {
            if (stack === "comp3") raw.cluster.id = 300;
        });
        const result = run("--config-dir", dir, "--out", path.join(dir, "plan"));
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/zta-testbed:cluster\.id = 300: expected an integer from 1 to 255/);
    });
});

describe("bring-your-own cluster", () => {
    test("a stack with a kubeconfig instead of a host gets a provider from it, and the kubeconfig stays secret", async () => {
        const byo = await planOf(byoLabDir());
        for (const stack of ["comp2", "comp3"]) {
            const plan = stackOf(byo, stack);
            expect(plan.standIns).toEqual(["zta-testbed:kubeconfig"]);
            const provider = findResource(plan, "pulumi:providers:kubernetes", `${stack}-k8s`);
            expect(provider.inputs.kubeconfig).toBe("[secret]");
        }
    });
});
