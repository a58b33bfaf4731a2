// The offline plan's monitor refuses what the Pulumi engine refuses where
// Pulumi's mock runtime lets it through (offline/engine/rules.ts, ENGINE RULES),
// records every resource option, and keeps secrets secret as the engine does.
// Each rule runs a small program, once refused and once accepted.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { evaluateStack, Evaluation } from "../offline/engine/evaluate";
import { PlannedResource, StackOutputs } from "../offline/engine/record";
import { EngineRuleError } from "../offline/engine/rules";

const STACK = "urn:pulumi:test::rules::";

function evaluate(program: () => Record<string, unknown> | void, peerOutputs?: StackOutputs): Promise<Evaluation> {
    return evaluateStack({
        project: "rules",
        stack: "test",
        config: {},
        secretKeys: [],
        deployed: peerOutputs && { other: peerOutputs },
        program: async () => program() ?? {},
    });
}

function one(e: Evaluation, name: string): PlannedResource {
    const found = e.resources.filter((r) => r.name === name);
    if (found.length !== 1) throw new Error(`expected one resource named ${name}, found ${found.length}`);
    return found[0];
}

class Bundle extends pulumi.ComponentResource {
    constructor(type: string, name: string, build: (self: Bundle) => void, opts?: pulumi.ComponentResourceOptions) {
        super(type, name, {}, opts);
        build(this);
        this.registerOutputs({});
    }
}

const cluster = () => new k8s.Provider("k8s", { kubeconfig: "apiVersion: v1\nkind: Config\n" });

describe("a resource goes to a provider of its own package", () => {
    test("a RandomPassword bound to a Kubernetes provider is refused as the provider refuses it", async () => {
        const run = evaluate(() => {
            new random.RandomPassword("pw", { length: 16 }, { provider: cluster() });
        });
        await expect(run).rejects.toThrow(EngineRuleError);
        await expect(run).rejects.toThrow(
            `the Pulumi engine refuses ${STACK}random:index/randomPassword:RandomPassword::pw: it is bound to pulumi:providers:kubernetes k8s, ` +
                `which refuses it: unrecognized resource type: "random:index/randomPassword:RandomPassword" for this provider`,
        );
    });

    test("so is one created with a component's child options that carry the Kubernetes provider (issue 19)", async () => {
        const run = evaluate(() => {
            const provider = cluster();
            new Bundle("test:addons:Addons", "addons", (self) => {
                const child = { parent: self, provider };
                new random.RandomPassword("addons-pw", { length: 16 }, child);
            });
        });
        await expect(run).rejects.toThrow(
            /refuses urn:pulumi:test::rules::test:addons:Addons\$random:index\/randomPassword:RandomPassword::addons-pw: it is bound to pulumi:providers:kubernetes k8s/,
        );
    });

    test("with parent only, a component's Kubernetes provider reaches its Kubernetes children and not the others", async () => {
        const e = await evaluate(() => {
            const provider = cluster();
            const own = new random.Provider("own-random");
            new Bundle(
                "test:addons:Addons",
                "addons",
                (self) => {
                    new k8s.core.v1.ConfigMap("addons-cm", { data: { a: "b" } }, { parent: self });
                    new random.RandomPassword("addons-pw", { length: 16 }, { parent: self });
                    new random.RandomPassword("addons-pw-own", { length: 16 }, { parent: self, provider: own });
                },
                // On a component, `provider` is shorthand for `providers`: the engine keeps none for the component itself.
                { provider },
            );
        });
        const provider = one(e, "k8s").urn;
        expect(provider).toBe(`${STACK}pulumi:providers:kubernetes::k8s`);
        expect(one(e, "addons")).toMatchObject({ provider: null, providers: { kubernetes: provider } });
        expect(one(e, "addons-cm").provider).toBe(provider);
        expect(one(e, "addons-pw").provider).toBeNull();
        expect(one(e, "addons-pw-own").provider).toBe(`${STACK}pulumi:providers:random::own-random`);
    });
});

describe("URNs are the engine's, and unique in a stack", () => {
    test("two resources with one URN are refused", async () => {
        const run = evaluate(() => {
            new random.RandomPassword("pw", { length: 16 });
            new random.RandomPassword("pw", { length: 20 });
        });
        await expect(run).rejects.toThrow(
            `the Pulumi engine refuses ${STACK}random:index/randomPassword:RandomPassword::pw: Duplicate resource URN '${STACK}random:index/randomPassword:RandomPassword::pw'`,
        );
    });

    test("one name under parents whose chains of types differ is two URNs, as in the engine", async () => {
        const e = await evaluate(() => {
            for (const outer of ["test:x:Outer1", "test:x:Outer2"]) {
                new Bundle(outer, `${outer.split(":")[2]}`, (o) => {
                    new Bundle(
                        "test:x:Inner",
                        `${outer.split(":")[2]}-inner`,
                        (i) => {
                            new random.RandomPassword("pw", { length: 16 }, { parent: i });
                        },
                        { parent: o },
                    );
                });
            }
        });
        // The parent's whole qualified type, the root stack left out (Deployment.generateURN).
        expect(e.resources.filter((r) => r.name === "pw").map((r) => r.urn)).toEqual([
            `${STACK}test:x:Outer1$test:x:Inner$random:index/randomPassword:RandomPassword::pw`,
            `${STACK}test:x:Outer2$test:x:Inner$random:index/randomPassword:RandomPassword::pw`,
        ]);
        expect(one(e, "Outer1").urn).toBe(`${STACK}test:x:Outer1::Outer1`);
    });
});

describe("references are to resources of this stack", () => {
    const nowhere = `${STACK}random:index/randomPassword:RandomPassword::nowhere`;

    test("a dependency on a resource the stack does not have is refused", async () => {
        const run = evaluate(() => {
            new random.RandomPassword("pw", { length: 16 }, { dependsOn: [new pulumi.DependencyResource(nowhere)] });
        });
        await expect(run).rejects.toThrow(
            `refuses ${STACK}random:index/randomPassword:RandomPassword::pw: dependency ${nowhere} refers to missing resource`,
        );
    });

    test("a parent the stack does not have is refused", async () => {
        const run = evaluate(() => {
            new random.RandomPassword("pw", { length: 16 }, { parent: new pulumi.DependencyResource(nowhere) });
        });
        await expect(run).rejects.toThrow(`could not find parent resource ${nowhere}`);
    });

    test("a dependency on a resource of the stack is kept", async () => {
        const e = await evaluate(() => {
            const first = new random.RandomPassword("first", { length: 16 });
            new random.RandomPassword("second", { length: 16 }, { dependsOn: [first] });
        });
        expect(one(e, "second").dependsOn).toEqual([one(e, "first").urn]);
    });
});

describe("resource options", () => {
    test("every option reaches the plan as the engine receives it", async () => {
        const e = await evaluate(() => {
            const other = new random.RandomPassword("other", { length: 16 });
            new random.RandomPassword(
                "pw",
                { length: 16, special: false },
                {
                    protect: true,
                    deleteBeforeReplace: true,
                    ignoreChanges: ["length"],
                    replaceOnChanges: ["special"],
                    retainOnDelete: true,
                    aliases: [{ name: "old-pw" }],
                    customTimeouts: { create: "10m", delete: "1h30m" },
                    additionalSecretOutputs: ["bcryptHash"],
                    deletedWith: other,
                    replaceWith: [other],
                    hideDiffs: ["length"],
                    replacementTrigger: "rotation-1",
                    import: "pw-id",
                    version: "4.19.0",
                    pluginDownloadURL: "https://plugins.example.invalid/random",
                },
            );
            new random.Provider("random-provider", {}, { envVarMappings: { LAB_RANDOM_SEED: "RANDOM_SEED" } });
        });
        const pw = one(e, "pw");
        expect(pw).toMatchObject({
            protect: true,
            deleteBeforeReplace: true,
            ignoreChanges: ["length"],
            replaceOnChanges: ["special"],
            retainOnDelete: true,
            aliases: [{ name: "old-pw" }],
            customTimeouts: { create: "10m", update: "", delete: "1h30m" },
            deletedWith: one(e, "other").urn,
            replaceWith: [one(e, "other").urn],
            hideDiffs: ["length"],
            replacementTrigger: "rotation-1",
            importId: "pw-id",
            version: "4.19.0",
            pluginDownloadURL: "https://plugins.example.invalid/random",
        });
        expect(one(e, "random-provider").envVarMappings).toEqual({ LAB_RANDOM_SEED: "RANDOM_SEED" });
        // The SDK adds its own secret outputs (the random package marks `result` secret) to the program's.
        expect(pw.additionalSecretOutputs).toEqual(expect.arrayContaining(["bcryptHash", "result"]));
        expect(one(e, "other")).toMatchObject({
            protect: false,
            deleteBeforeReplace: false,
            ignoreChanges: [],
            retainOnDelete: false,
            aliases: [],
            customTimeouts: null,
            deletedWith: null,
            replaceWith: [],
            replacementTrigger: null,
            importId: null,
            pluginDownloadURL: null,
            envVarMappings: {},
        });
        // The package's SDK asks for its own plugin version when the program names none.
        expect(one(e, "other").version).toBe("4.19.1");
    });

    test("a custom timeout that is not a Go duration is refused", async () => {
        const run = evaluate(() => {
            new random.RandomPassword("pw", { length: 16 }, { customTimeouts: { create: "ten minutes" } });
        });
        await expect(run).rejects.toThrow(
            `refuses ${STACK}random:index/randomPassword:RandomPassword::pw: unable to parse customTimeout Value ten minutes`,
        );
    });
});

describe("secrets stay secret", () => {
    test("what the program marks secret stays secret in the stack outputs, also when a resource echoes it", async () => {
        const e = await evaluate(() => {
            const cm = new k8s.core.v1.ConfigMap("cm", {
                metadata: { name: "cm", annotations: { token: pulumi.secret("t") } },
                data: { a: "b" },
            });
            const plain = new k8s.core.v1.ConfigMap("plain", { metadata: { name: "plain" }, data: { a: "b" } });
            return { secretMeta: cm.metadata, plainMeta: plain.metadata, marked: pulumi.secret("s") };
        });
        expect(e.outputs.secretMeta).toEqual({
            value: expect.objectContaining({ annotations: { token: "t" } }),
            secret: true,
        });
        expect(e.outputs.plainMeta.secret).toBe(false);
        expect(e.outputs.marked).toEqual({ value: "s", secret: true });
    });

    test("a StackReference's outputs are secret when the peer exported a secret, and each output keeps its own secrecy", async () => {
        const peer: StackOutputs = { token: { value: "t", secret: true }, name: { value: "n", secret: false } };
        const e = await evaluate(() => {
            const ref = new pulumi.StackReference("peer", { name: "other" });
            return { all: ref.outputs, name: ref.getOutput("name"), token: ref.getOutput("token") };
        }, peer);
        expect(e.outputs.all).toEqual({ value: { token: "t", name: "n" }, secret: true });
        expect(e.outputs.name).toEqual({ value: "n", secret: false });
        expect(e.outputs.token).toEqual({ value: "t", secret: true });
    });
});
