// The pack applied to the offline plan of the lab, as `npm run policy:plan`
// does, with the pack config `npm run plan` writes; and the pack as a pack:
// standalone, configured only through its config.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { TypedCustomResource } from "../components/crd";
import { evaluateStack } from "../offline/engine/evaluate";
import { SECRET } from "../offline/engine/record";
import { LabPlan } from "../offline/planner/lab";
import { labPolicyConfigs, stackPolicyConfig, writePolicyConfigs } from "../offline/planner/policy-config";
import { checkLab, checkResources, PLAN_POLICIES } from "../offline/simulate/policy-plan";
import { PREVIEW_POLICIES } from "../policy/catalog";
import { DEFAULT_ALLOWED_REGISTRIES } from "../policy/policies/allowed-registries";
import type { StackPolicyConfig } from "../policy/config";
import { parseLabConfig } from "../stacks/config/parse";
import { byoLabDir, planOf, rawConfig, REPO, resourcesOfType, stackOf, TSX_LOADER_ARGS } from "./helpers";
import { compliantStack, PACK_CONFIG, withEdit } from "./policy-fixtures";

describe("the offline plan of the reference lab", () => {
    let lab: LabPlan;
    beforeAll(async () => {
        lab = await planOf();
    });

    test("violates no policy in either stack, each checked with the pack config the plan writes for it", async () => {
        expect(await checkLab(lab, labPolicyConfigs(REPO))).toEqual([]);
    });

    test("is really inspected: unprotecting comp2's root CA key and lab-services CA key in it is reported", async () => {
        const comp2 = stackOf(lab, "comp2");
        const resources = comp2.resources.map((r) =>
            r.type === "tls:index/privateKey:PrivateKey" && r.protect ? { ...r, protect: false } : r,
        );
        const found = await checkResources(resources, labPolicyConfigs(REPO).get("comp2") as StackPolicyConfig);
        expect(found.map((v) => [v.policy, v.urn])).toEqual([
            [
                "root-ca-protected",
                "urn:pulumi:comp2::zta-testbed::zta:pki:Pki$tls:index/privateKey:PrivateKey::comp2-pki-root-key",
            ],
            [
                "root-ca-protected",
                "urn:pulumi:comp2::zta-testbed::zta:pki:LabServicesCa$tls:index/privateKey:PrivateKey::comp2-lab-services-ca-key",
            ],
        ]);
    });
});

describe("the offline plan of the lab with bring-your-own clusters", () => {
    let lab: LabPlan;
    let dir: string;
    beforeAll(async () => {
        dir = byoLabDir();
        lab = await planOf(dir);
    });

    test("violates no policy in either stack", async () => {
        expect(await checkLab(lab, labPolicyConfigs(dir))).toEqual([]);
    });

    test("has the Kubernetes providers whose kubeconfig the secrecy policy checks, and they are secret", () => {
        for (const stack of lab.stacks) {
            const providers = resourcesOfType(stack, "pulumi:providers:kubernetes");
            expect(providers.map((p) => p.inputs.kubeconfig)).toEqual([SECRET]);
        }
    });
});

describe("the pack config the offline plan writes (plan/<stack>/policy-config.json)", () => {
    test("holds each stack's lab registry, the trust model and every other stack with its pki.role", () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "zta-policy-config-"));
        expect(writePolicyConfigs(out, REPO, ["comp2", "comp3"]).map((f) => path.relative(out, f))).toEqual([
            "comp2/policy-config.json",
            "comp3/policy-config.json",
        ]);
        expect(JSON.parse(fs.readFileSync(path.join(out, "comp2", "policy-config.json"), "utf8"))).toEqual({
            "allowed-registries": { labRegistry: "10.5.0.2:8443" },
            "single-root-ca": { trustModel: "shared", peers: [{ stack: "comp3", pkiRole: "peer" }] },
        });
        expect(JSON.parse(fs.readFileSync(path.join(out, "comp3", "policy-config.json"), "utf8"))).toEqual({
            "allowed-registries": { labRegistry: "10.5.0.2:8443" },
            "single-root-ca": { trustModel: "shared", peers: [{ stack: "comp2", pkiRole: "root" }] },
        });
        // Only for the stacks the plan wrote: a plan of some stacks leaves no folder for the others.
        const some = fs.mkdtempSync(path.join(os.tmpdir(), "zta-policy-config-"));
        expect(writePolicyConfigs(some, REPO, ["comp3"]).map((f) => path.relative(some, f))).toEqual([
            "comp3/policy-config.json",
        ]);
        expect(fs.readdirSync(some)).toEqual(["comp3"]);
    });

    test("lists every peer of a lab of three stacks, and the registry as each stack's config sets it", () => {
        const ssh = new Set(["sshPrivateKey"] as const);
        const comp2 = parseLabConfig("comp2", rawConfig("comp2"), ssh);
        const comp3 = parseLabConfig("comp3", rawConfig("comp3"), ssh);
        const comp4 = parseLabConfig(
            "comp4",
            {
                ...rawConfig("comp3"),
                registry: { host: "10.5.0.2", port: 5000 },
                // comp3's stack file under another stack name: on a roster of its own.
                roster: [
                    { stack: "comp2", clusterName: "cluster1" },
                    { stack: "comp4", clusterName: "cluster2" },
                ],
            },
            ssh,
        );
        expect(stackPolicyConfig(comp4, [comp2, comp3, comp4])).toEqual({
            "allowed-registries": { labRegistry: "10.5.0.2:5000" },
            "single-root-ca": {
                trustModel: "shared",
                peers: [
                    { stack: "comp2", pkiRole: "root" },
                    { stack: "comp3", pkiRole: "peer" },
                ],
            },
        });
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
    expect(await checkResources(plan.resources, PACK_CONFIG)).toEqual([
        {
            policy: "peer-authentication-strict",
            enforcementLevel: "mandatory",
            urn: declared?.urn,
            message:
                "PeerAuthentication apps/legacy sets mtls.mode PERMISSIVE: plain-text traffic would be accepted; use STRICT (or leave it UNSET to inherit the mesh-wide STRICT)",
        },
    ]);
});

describe("npm run policy:plan -- --plan DIR", () => {
    /** A plan directory as `npm run plan` writes it, holding the fixture stack as comp2. */
    const planDir = (resources: unknown, config?: unknown) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-policy-plan-"));
        fs.mkdirSync(path.join(dir, "comp2"));
        fs.writeFileSync(path.join(dir, "comp2", "resources.json"), JSON.stringify(resources));
        if (config !== undefined)
            fs.writeFileSync(path.join(dir, "comp2", "policy-config.json"), JSON.stringify(config));
        return dir;
    };
    const run = (dir: string) =>
        spawnSync(
            process.execPath,
            [...TSX_LOADER_ARGS, path.join(REPO, "offline", "simulate", "check-policy.ts"), "--plan", dir],
            {
                cwd: REPO,
                encoding: "utf8",
                timeout: 60_000,
            },
        );

    test("checks each stack with its policy-config.json: 1 on a mandatory violation, 1 without the config", () => {
        const wrongRegistry = run(
            planDir(compliantStack(), { ...PACK_CONFIG, "allowed-registries": { labRegistry: "10.9.9.9:5000" } }),
        );
        expect({ status: wrongRegistry.status, stderr: wrongRegistry.stderr }).toEqual({ status: 1, stderr: "" });
        expect(wrongRegistry.stdout).toBe(
            `comp2: ${compliantStack().length} resources, 1 violation(s)\n` +
                `  [mandatory] allowed-registries: Deployment comp2-httpbin uses images from 10.5.0.2:8443/samples/httpbin, which is neither the lab registry nor in allowedRegistries (10.9.9.9:5000, ${DEFAULT_ALLOWED_REGISTRIES.join(", ")})\n` +
                `      urn:pulumi:comp2::zta-testbed::kubernetes:apps/v1:Deployment::comp2-httpbin\n`,
        );
        const noConfig = planDir(withEdit("istio-system-default", (i) => (i.spec.mtls.mode = "PERMISSIVE")));
        const missing = run(noConfig);
        expect(missing.status).toBe(1);
        expect(missing.stderr).toBe(
            `policy:plan failed: --plan ${noConfig}: ${path.join(noConfig, "comp2", "policy-config.json")} does not exist: write the plan again with \`npm run plan -- --out ${noConfig}\`\n`,
        );
    });
});

describe("the pack", () => {
    const PACK = path.join(REPO, "policy");
    const files = (dir: string): string[] =>
        fs
            .readdirSync(dir, { withFileTypes: true })
            .flatMap((e) =>
                e.isDirectory()
                    ? e.name === "node_modules"
                        ? []
                        : files(path.join(dir, e.name))
                    : [path.join(dir, e.name)],
            );

    test("serves every policy except the secrecy check, which only the plan can make", () => {
        const served = PREVIEW_POLICIES.map((p) => p.name);
        expect(PLAN_POLICIES.map((p) => p.name).filter((n) => !served.includes(n))).toEqual(["secret-inputs"]);
        expect(new Set(served).size).toBe(served.length);
        expect(PREVIEW_POLICIES.every((p) => p.enforcementLevel === "mandatory")).toBe(true);
    });

    test("has what `pulumi preview --policy-pack policy` loads: a nodejs PulumiPolicy.yaml and a versioned package.json", () => {
        expect(YAML.parse(fs.readFileSync(path.join(PACK, "PulumiPolicy.yaml"), "utf8")).runtime).toBe("nodejs");
        const pkg = JSON.parse(fs.readFileSync(path.join(PACK, "package.json"), "utf8"));
        expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
        expect(fs.existsSync(path.join(PACK, pkg.main))).toBe(true);
    });

    test("imports nothing outside policy/ but the packages its package.json declares", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(PACK, "package.json"), "utf8"));
        const declared = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
        const sources = files(PACK).filter((f) => f.endsWith(".ts"));
        expect(sources.length).toBeGreaterThan(10);
        const outside: string[] = [];
        for (const file of sources) {
            const text = fs.readFileSync(file, "utf8");
            for (const [, spec] of text.matchAll(/(?:from|import|require\()\s*["']([^"']+)["']/g)) {
                const inside = spec.startsWith(".")
                    ? !path.relative(PACK, path.resolve(path.dirname(file), spec)).startsWith("..")
                    : declared.includes(
                          spec
                              .split("/")
                              .slice(0, spec.startsWith("@") ? 2 : 1)
                              .join("/"),
                      );
                if (!inside) outside.push(`${path.relative(REPO, file)}: ${spec}`);
            }
        }
        expect(outside).toEqual([]);
        // Nor compiler options: the Pulumi CLI compiles the pack with policy/tsconfig.json alone.
        expect(JSON.parse(fs.readFileSync(path.join(PACK, "tsconfig.json"), "utf8")).extends).toBeUndefined();
    });

    test("is an npm workspace of the repo with the root's exact versions, so the root's `npm ci` installs what it declares", () => {
        const root = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8"));
        const pack = JSON.parse(fs.readFileSync(path.join(PACK, "package.json"), "utf8"));
        expect(root.workspaces).toEqual(["policy"]);
        const rootVersions = { ...root.dependencies, ...root.devDependencies };
        for (const [name, version] of Object.entries({ ...pack.dependencies, ...pack.devDependencies }))
            expect([name, version]).toEqual([name, rootVersions[name]]);
        expect(Object.keys(pack.dependencies).sort()).toEqual(["@pulumi/policy", "@pulumi/pulumi"]);
        // The lock file records the workspace and its dependencies: `npm ci` refuses a lock that does not match.
        const lock = JSON.parse(fs.readFileSync(path.join(REPO, "package-lock.json"), "utf8"));
        expect(lock.packages.policy.dependencies).toEqual(pack.dependencies);
        expect(lock.packages["node_modules/zta-testbed-policy"]).toEqual({ resolved: "policy", link: true });
    });

    test("each policy that needs to know the lab requires its pack config, so the engine refuses to run it without", () => {
        const required = Object.fromEntries(
            PREVIEW_POLICIES.filter((p) => p.configSchema?.required).map((p) => [p.name, p.configSchema?.required]),
        );
        expect(required).toEqual({ "single-root-ca": ["trustModel", "peers"], "allowed-registries": ["labRegistry"] });
    });
});
