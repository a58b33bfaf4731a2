// A lab of any number of clusters: the roster in Pulumi.yaml names every stack, each
// stack's peers are the others; it installs a remote secret and federates with each, the root stack signs for
// every cluster, the checks run pairwise over everything a stack sees, and the
// offline plan runs the deployment order until nothing changes.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { evaluateStack } from "../offline/engine/evaluate";
import { PlannedResource } from "../offline/engine/record";
import { LabPlan, NotConvergedError, planLab, readLabConfig, readStackConfig } from "../offline/planner/lab";
import { labPolicyConfigs } from "../offline/planner/policy-config";
import { ConfigError } from "../stacks/config/messages";
import { parseLabConfig } from "../stacks/config/parse";
import { SecretKey } from "../stacks/config/schema";
import { main } from "../stacks/main";
import { ClusterIdentity } from "../model/lab";
import { PeerView } from "../stacks/peer";
import { labViewProblems, peerVersionCheck } from "../stacks/peer-checks";
import {
    labDirWith,
    planCommandOutput,
    planLabQuietly,
    planOf,
    rawConfig,
    REPO,
    resourcesOfType,
    stackOf,
} from "./helpers";
import { mockCertName } from "./mock-certs";

const THREE = path.join(REPO, "examples", "three-clusters");
const SSH: ReadonlySet<SecretKey> = new Set(["sshPrivateKey"]);
const CLUSTERS = { comp2: "cluster1", comp3: "cluster2", comp4: "cluster3" } as const;
const STACKS = Object.keys(CLUSTERS) as (keyof typeof CLUSTERS)[];

function configProblems(run: () => unknown): string[] {
    try {
        run();
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
    return [];
}

describe("npm run plan -- --config-dir examples/three-clusters", () => {
    let out: string;
    let stdout: string;
    const resources = (stack: string) =>
        JSON.parse(fs.readFileSync(path.join(out, stack, "resources.json"), "utf8")) as PlannedResource[];
    const outputs = (stack: string) =>
        JSON.parse(fs.readFileSync(path.join(out, stack, "outputs.json"), "utf8")) as Record<string, any>;
    // The command offline/planner/plan.ts runs, in this process (test/plan.test.ts runs the command line itself).
    beforeAll(async () => {
        ({ out, stdout } = await planLabQuietly(THREE, "zta-three-"));
    });

    test("plans the three stacks of the directory", () => {
        expect(
            fs
                .readdirSync(out)
                .filter((f) => !f.startsWith("."))
                .sort(),
        ).toEqual(["comp2", "comp3", "comp4"]);
        expect(stdout).toMatch(/\(comp2: \d+ resources, comp3: \d+ resources, comp4: \d+ resources\)/);
    });

    test("prints each cluster with its id, network and the remote secrets it installs", () => {
        expect(stdout).toContain(
            [
                "comp2: cluster1 (cluster id 1, network1); remote secrets for cluster2, cluster3",
                "comp3: cluster2 (cluster id 2, network2); remote secrets for cluster1, cluster3",
                "comp4: cluster3 (cluster id 3, network3); remote secrets for cluster1, cluster2",
            ].join("\n"),
        );
    });

    test("prints the first deployment's runs, their count, and the runs that found nothing to change", () => {
        expect(stdout).toMatch(
            /first deployment: 5 runs of `pulumi up`, in this order: comp3, comp4, comp2, comp3, comp4\n/,
        );
        expect(stdout).toMatch(/converged: 2 more runs \(comp2, comp3\) changed nothing/);
    });

    test("the example's README lists the printed sequence as its `pulumi up` commands, and their count", () => {
        const readme = fs.readFileSync(path.join(THREE, "README.md"), "utf8");
        const printed = /in this order: (.*)\n/.exec(stdout)?.[1].split(", ");
        expect([...readme.matchAll(/^pulumi up --stack (\S+)$/gm)].map((m) => m[1])).toEqual(printed);
        expect(readme).toContain(`converges in these ${printed?.length} runs`);
    });

    test.each(STACKS)("%s has a remote secret for each of the two other clusters, as istioctl labels it", (stack) => {
        const others = STACKS.filter((s) => s !== stack).map((s) => CLUSTERS[s]);
        const secrets = resourcesOfType({ resources: resources(stack) }, "kubernetes:core/v1:Secret")
            .map(
                (r) =>
                    r.inputs.metadata as {
                        name: string;
                        labels?: Record<string, string>;
                        annotations?: Record<string, string>;
                    },
            )
            .filter((m) => m.name.startsWith("istio-remote-secret-"));
        expect(
            secrets.map((m) => [
                m.name,
                m.labels?.["istio/multiCluster"],
                m.annotations?.["networking.istio.io/cluster"],
            ]),
        ).toEqual(others.map((c) => [`istio-remote-secret-${c}`, "true", c]));
    });

    test("the clusters have distinct ids, names and networks", () => {
        const identities = STACKS.map((s) => outputs(s).identity as ClusterIdentity);
        expect(identities.map((i) => [i.clusterName, i.clusterId, i.network])).toEqual([
            ["cluster1", 1, "network1"],
            ["cluster2", 2, "network2"],
            ["cluster3", 3, "network3"],
        ]);
    });

    test("the root stack signed the intermediates of all three clusters, and each peer-role stack used its own", () => {
        expect(Object.keys(outputs("comp2").signedIntermediates).sort()).toEqual(["cluster1", "cluster2", "cluster3"]);
        for (const stack of ["comp3", "comp4"] as const) {
            const cert = resources(stack).find((r) => r.name === `${stack}-istio-ingress-tls-cert`);
            expect(mockCertName(cert?.inputs.caCertPem)).toBe(
                `MOCK-CERT(LocallySignedCert/comp2-pki-${CLUSTERS[stack]}-istio-cert)`,
            );
            expect(outputs(stack).usedFromPeer.cluster1).toEqual([
                "identity",
                "labServicesCaCert",
                "remoteSecret",
                "rootCaCert",
                "signedIntermediates",
            ]);
        }
        expect(outputs("comp2").usedFromPeer).toEqual({
            cluster2: ["identity", "remoteSecret", "signingRequests"],
            cluster3: ["identity", "remoteSecret", "signingRequests"],
        });
    });

    test("network policies let the samples out to both other east-west gateways, and istiod to both other API servers", () => {
        const policy = (name: string) =>
            resources("comp2").find(
                (r) => r.type.endsWith("CiliumNetworkPolicy") && (r.inputs.metadata as { name: string }).name === name,
            );
        const egress = (name: string) =>
            (
                policy(name)?.inputs.spec as {
                    egress: { toCIDR?: string[]; toPorts?: { ports: { port: string }[] }[] }[];
                }
            ).egress;
        expect(
            egress("allow-sleep")
                .filter((e) => e.toPorts?.[0].ports[0].port === "15443")
                .flatMap((e) => e.toCIDR),
        ).toEqual(["10.5.0.122/32", "10.5.0.141/32"]);
        expect(
            egress("allow-istiod")
                .filter((e) => e.toPorts?.[0].ports[0].port === "6443")
                .flatMap((e) => e.toCIDR),
        ).toEqual(["10.5.0.4/32", "10.5.0.5/32"]);
    });

    test("the converged plan asks for no further run", () => {
        for (const stack of STACKS) {
            const warnings = (
                JSON.parse(fs.readFileSync(path.join(out, stack, "summary.json"), "utf8")) as { warnings: string[] }
            ).warnings;
            expect([stack, warnings.filter((w) => /run `pulumi up`/.test(w))]).toEqual([stack, []]);
        }
    });
});

describe("examples/three-clusters is the reference lab with one stack file and one roster line more", () => {
    const labFiles = (dir: string) =>
        fs
            .readdirSync(dir)
            .filter((f) => /^Pulumi(\..+)?\.yaml$/.test(f))
            .sort();
    const text = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), "utf8");

    test("its files are the reference lab's and one stack file, Pulumi.comp4.yaml", () => {
        expect(labFiles(REPO)).toEqual(["Pulumi.comp2.yaml", "Pulumi.comp3.yaml", "Pulumi.yaml"]);
        expect(labFiles(THREE)).toEqual(["Pulumi.comp2.yaml", "Pulumi.comp3.yaml", "Pulumi.comp4.yaml", "Pulumi.yaml"]);
    });

    test.each(["Pulumi.comp2.yaml", "Pulumi.comp3.yaml"])("its %s is the reference lab's, byte for byte", (file) => {
        expect(text(THREE, file)).toBe(text(REPO, file));
    });

    test("its Pulumi.yaml is the reference lab's and one line: comp4's roster entry, naming the cluster its stack file builds", () => {
        const reference = text(REPO, "Pulumi.yaml").split("\n");
        const three = text(THREE, "Pulumi.yaml").split("\n");
        expect(three.length).toBe(reference.length + 1);
        const at = three.findIndex((line, i) => line !== reference[i]);
        expect(three.filter((_, i) => i !== at)).toEqual(reference);
        expect(three[at]).toBe("      - {stack: comp4, clusterName: cluster3}");
        const entry = { stack: "comp4", clusterName: "cluster3" };
        expect(rawConfig("comp2", THREE).roster).toEqual([...(rawConfig("comp2").roster as object[]), entry]);
        expect((rawConfig("comp4", THREE).cluster as { name: string }).name).toBe(entry.clusterName);
    });
});

describe("three clusters in the federated trust model", () => {
    let lab: LabPlan;
    beforeAll(async () => {
        const dir = labDirWith((stack, raw) => {
            raw.mesh.trustModel = "federated";
            raw.cluster.trustDomain = `${CLUSTERS[stack as keyof typeof CLUSTERS]}.zta.lab`;
        }, THREE);
        lab = await planOf(dir);
    });

    test.each(STACKS)(
        "%s: a ClusterFederatedTrustDomain for each other cluster, and its SVIDs federate with both",
        (stack) => {
            const plan = stackOf(lab, stack);
            const others = STACKS.filter((s) => s !== stack).map((s) => CLUSTERS[s]);
            const domains = resourcesOfType(plan, "kubernetes:spire.spiffe.io/v1alpha1:ClusterFederatedTrustDomain");
            expect(
                domains.map((d) => [
                    (d.inputs.metadata as { name: string }).name,
                    (d.inputs.spec as { trustDomain: string }).trustDomain,
                ]),
            ).toEqual(others.map((c) => [c, `${c}.zta.lab`]));
            for (const id of resourcesOfType(plan, "kubernetes:spire.spiffe.io/v1alpha1:ClusterSPIFFEID")) {
                expect((id.inputs.spec as { federatesWith: string[] }).federatesWith).toEqual(
                    others.map((c) => `${c}.zta.lab`),
                );
            }
        },
    );

    test.each(STACKS)(
        "%s: istiod names both other trust domains with their roots (caCertificates), and aliases none",
        (stack) => {
            const istiod = stackOf(lab, stack).resources.find((r) => r.name === `${stack}-istio-istiod`);
            const others = STACKS.filter((s) => s !== stack);
            const meshConfig = (istiod?.inputs.values as { meshConfig: Record<string, unknown> }).meshConfig;
            expect(meshConfig.trustDomainAliases).toBeUndefined();
            const anchors = meshConfig.caCertificates as { pem: string; trustDomains: string[] }[];
            expect(anchors.map((a) => ({ ...a, pem: mockCertName(a.pem) }))).toEqual(
                others.map((s) => ({
                    pem: `MOCK-CERT(SelfSignedCert/${s}-pki-root-cert)`,
                    trustDomains: [`${CLUSTERS[s]}.zta.lab`],
                })),
            );
        },
    );
});

describe("the checks run pairwise over every stack a stack can see", () => {
    test("comp4 reusing comp2's cluster id is refused up front, naming both stacks, and comp3 is not blamed", () => {
        const dir = labDirWith((stack, raw) => {
            if (stack === "comp4") raw.cluster.id = 1;
        }, THREE);
        const problems = configProblems(() => readLabConfig(dir));
        expect(problems).toEqual([
            'Pulumi.comp2.yaml: zta-testbed:cluster.id is 1 here and 1 in peer stack "comp4": cluster ids must differ (Cilium and Istio key state by it)',
            'Pulumi.comp4.yaml: zta-testbed:cluster.id is 1 here and 1 in peer stack "comp2": cluster ids must differ (Cilium and Istio key state by it)',
        ]);
    });

    test("a pool of comp4 overlapping comp3's is refused in both files", () => {
        const dir = labDirWith((stack, raw) => {
            if (stack === "comp4") raw.metallb = { ...raw.metallb, addresses: ["10.5.0.135-10.5.0.159"] };
        }, THREE);
        const problems = configProblems(() => readLabConfig(dir)).join("\n");
        expect(problems).toMatch(
            /Pulumi\.comp3\.yaml: zta-testbed:metallb\.addresses: "10\.5\.0\.121-10\.5\.0\.139" here overlaps "10\.5\.0\.135-10\.5\.0\.159" in peer stack "comp4"/,
        );
        expect(problems).toMatch(
            /Pulumi\.comp4\.yaml: zta-testbed:metallb\.addresses: "10\.5\.0\.135-10\.5\.0\.159" here overlaps "10\.5\.0\.121-10\.5\.0\.139" in peer stack "comp3"/,
        );
    });

    const own = () => parseLabConfig("comp2", rawConfig("comp2", THREE), SSH);
    const identity = (stack: "comp3" | "comp4", change: Partial<ClusterIdentity> = {}): ClusterIdentity => ({
        protocolVersion: 2,
        clusterName: CLUSTERS[stack],
        clusterId: stack === "comp3" ? 2 : 3,
        network: stack === "comp3" ? "network2" : "network3",
        meshId: "mesh1",
        trustDomain: "zta.lab",
        trustModel: "shared",
        metallbAddresses: [stack === "comp3" ? "10.5.0.121-10.5.0.139" : "10.5.0.140-10.5.0.159"],
        podCidr: stack === "comp3" ? "10.245.0.0/16" : "10.246.0.0/16",
        serviceCidr: stack === "comp3" ? "10.97.0.0/16" : "10.98.0.0/16",
        eastWestAddress: stack === "comp3" ? "10.5.0.122" : "10.5.0.141",
        versions: own().versions,
        pkiRole: "peer",
        labAddresses: {},
        ...change,
    });
    const view = (stack: "comp3" | "comp4", id?: ClusterIdentity): PeerView => ({
        stack,
        clusterName: CLUSTERS[stack],
        identity: id,
        available: new Set(id ? ["identity" as const] : []),
        output: () => {
            throw new Error("not read by the checks");
        },
        plain: () => undefined,
    });

    test("under the engine, the root stack refuses two peers that share a network, naming both peer stacks", () => {
        expect(labViewProblems(own(), [view("comp3", identity("comp3")), view("comp4", identity("comp4"))])).toEqual(
            [],
        );
        expect(
            labViewProblems(own(), [
                view("comp3", identity("comp3")),
                view("comp4", identity("comp4", { network: "network2" })),
            ]),
        ).toEqual([
            'zta-testbed:cluster.network is "network2" in peer stack "comp3" and "network2" in peer stack "comp4": the clusters are on different networks; name them differently',
        ]);
    });

    test("a peer-role stack that sees every peer and no root among them is refused; one not deployed yet may still be the root", () => {
        const comp3 = parseLabConfig("comp3", rawConfig("comp3", THREE), SSH);
        const peerComp2 = { ...view("comp4"), stack: "comp2", clusterName: "cluster1" };
        const comp2Identity = {
            ...identity("comp4"),
            clusterName: "cluster1",
            clusterId: 1,
            network: "network1",
            metallbAddresses: ["10.5.0.100-10.5.0.120"],
            podCidr: "10.244.0.0/16",
            serviceCidr: "10.96.0.0/16",
        };
        expect(labViewProblems(comp3, [peerComp2, view("comp4", identity("comp4"))])).toEqual([]);
        expect(
            labViewProblems(comp3, [{ ...peerComp2, identity: comp2Identity }, view("comp4", identity("comp4"))]),
        ).toEqual([
            'zta-testbed:pki.role is "peer" here and in every peer stack ("comp2", "comp4"): then no stack issues the lab PKI and no run can converge; set pki.role to "root" in one of them',
        ]);
    });

    test("the program itself refuses it: comp2 evaluated with comp3's and a clashing comp4's outputs stops naming both", async () => {
        const file = readStackConfig(THREE, "comp2");
        const peerIdentity = (id: ClusterIdentity) => ({ identity: { value: id, secret: false } });
        await expect(
            evaluateStack({
                project: "zta-testbed",
                stack: "comp2",
                config: file.config,
                secretKeys: file.secretKeys,
                deployed: {
                    comp3: peerIdentity(identity("comp3")),
                    comp4: peerIdentity(identity("comp4", { clusterId: 2 })),
                },
                program: main,
            }),
        ).rejects.toThrow(
            /Pulumi\.comp2\.yaml: zta-testbed:cluster\.id is 2 in peer stack "comp3" and 2 in peer stack "comp4"/,
        );
    });
    describe("the cross-stack protocol (identity.protocolVersion)", () => {
        const { protocolVersion: _, ...unversioned } = identity("comp3");
        const behind = unversioned as ClusterIdentity;
        const docs = '(docs/upgrade.md, "The cross-stack protocol")';

        test("a peer one protocol behind (no protocolVersion: protocol 1) is read, with a warning naming its `pulumi up` as the next run", () => {
            expect(peerVersionCheck(identity("comp4"), behind, "comp3")).toEqual({
                problems: [],
                warnings: [
                    `upgrade under way: peer stack "comp3" still exports cross-stack protocol 1, no protocolVersion, this checkout protocol 2; run \`pulumi up\` on "comp3" next, from this checkout ${docs}`,
                ],
            });
            // Read: every rule still holds it.
            expect(
                labViewProblems(own(), [
                    view("comp3", behind),
                    view("comp4", identity("comp4", { network: "network2" })),
                ]),
            ).toEqual([
                'zta-testbed:cluster.network is "network2" in peer stack "comp3" and "network2" in peer stack "comp4": the clusters are on different networks; name them differently',
            ]);
        });

        test("a peer of a newer protocol is refused: this checkout is older than the one it was deployed from", () => {
            expect(
                labViewProblems(own(), [
                    view("comp3", identity("comp3", { protocolVersion: 3 })),
                    view("comp4", identity("comp4")),
                ]),
            ).toEqual([
                `peer stack "comp3" exports cross-stack protocol 3, this checkout protocol 2: it was deployed from a newer checkout; pull that one and run here again ${docs}`,
            ]);
        });

        test("a peer deployed before its identity had every field is refused, and left out of the rules that read them", () => {
            const { eastWestAddress: _e, versions: _v, pkiRole: _p, labAddresses: _l, ...early } = behind;
            expect(
                labViewProblems(own(), [
                    view("comp3", early as ClusterIdentity),
                    view("comp4", identity("comp4", { network: "network2" })),
                ]),
            ).toEqual([
                'peer stack "comp3" was deployed by a program older than this checkout reads: its identity (protocol 1, no protocolVersion) has no eastWestAddress, versions, pkiRole, labAddresses; ' +
                    `run \`pulumi up\` on "comp3" from commit c42e6a9 first (it reads every earlier identity and exports a whole one), then here again ${docs}`,
            ]);
        });

        test("the program: comp2 warns of comp3's identity without protocolVersion, and refuses one without the fields", async () => {
            const file = readStackConfig(THREE, "comp2");
            const evaluate = (comp3: ClusterIdentity) =>
                evaluateStack({
                    project: "zta-testbed",
                    stack: "comp2",
                    config: file.config,
                    secretKeys: file.secretKeys,
                    deployed: {
                        comp3: { identity: { value: comp3, secret: false } },
                        comp4: { identity: { value: identity("comp4"), secret: false } },
                    },
                    program: main,
                });
            const { warnings } = await evaluate(behind);
            expect(warnings.filter((w) => w.includes("cross-stack protocol"))).toEqual([
                `upgrade under way: peer stack "comp3" still exports cross-stack protocol 1, no protocolVersion, this checkout protocol 2; run \`pulumi up\` on "comp3" next, from this checkout ${docs}`,
            ]);
            const { pkiRole: _p, ...early } = behind;
            await expect(evaluate(early as ClusterIdentity)).rejects.toThrow(
                /Pulumi\.comp2\.yaml: peer stack "comp3" was deployed by a program older than this checkout reads: its identity \(protocol 1, no protocolVersion\) has no pkiRole; run `pulumi up` on "comp3" from commit c42e6a9 first/,
            );
        });
    });
});

describe("the roster", () => {
    test("a stack file of the dir that is not on the roster is refused, naming Pulumi.yaml, the line to add and what to do for a stack that left", () => {
        const dir = labDirWith((_stack, raw) => {
            raw.roster = raw.roster.filter((e: { stack: string }) => e.stack !== "comp4");
        }, THREE);
        expect(configProblems(() => readLabConfig(dir))).toEqual([
            `Pulumi.yaml: zta-testbed:roster has no entry for stack "comp4", whose Pulumi.comp4.yaml is in ${dir}: add \`- {stack: comp4, clusterName: cluster3}\` to it; ` +
                "a stack that has left the lab is not planned: plan the others (--stacks comp2,comp3), or remove its file (`pulumi stack rm comp4` does, after its destroy)",
        ]);
        // Under the engine, where the program sees only its own stack: run, it is refused with the destroy to run.
        const raw = rawConfig("comp4", dir);
        expect(configProblems(() => parseLabConfig("comp4", raw, SSH))).toEqual([
            'Pulumi.yaml: zta-testbed:roster has no entry for this stack, "comp4": add `- {stack: comp4, clusterName: cluster3}` to it; ' +
                'a stack that has left the lab is destroyed, not run (`pulumi destroy --stack comp4`, docs/deploy.md, "Remove a cluster")',
        ]);
        // The lab without it: the others plan as the two-cluster lab, comp4's file left aside, and the
        // policy pack's config of each names only the other as its peer.
        expect(readLabConfig(dir, ["comp2", "comp3"]).map((f) => f.stack)).toEqual(["comp2", "comp3"]);
        expect([...labPolicyConfigs(dir)].map(([stack, config]) => [stack, config["single-root-ca"].peers])).toEqual([
            ["comp2", [{ stack: "comp3", pkiRole: "peer" }]],
            ["comp3", [{ stack: "comp2", pkiRole: "root" }]],
        ]);
    });

    test.each([
        [
            "a stack listed twice",
            (r: any) => r.roster.push({ ...r.roster[1] }),
            /zta-testbed:roster\[3\]\.stack = "comp3" is already zta-testbed:roster\[1\]: name each stack once/,
        ],
        [
            "a cluster name listed twice",
            (r: any) => (r.roster[2].clusterName = "cluster2"),
            /zta-testbed:roster\[2\]\.clusterName = "cluster2" is already zta-testbed:roster\[1\]\.clusterName/,
        ],
        [
            "an entry with an unknown key",
            (r: any) => (r.roster[1].cluster = "cluster2"),
            /zta-testbed:roster\[1\]\.cluster is not a known setting: did you mean zta-testbed:roster\[1\]\.clusterName\?/,
        ],
        [
            "an empty roster",
            (r: any) => (r.roster = []),
            /zta-testbed:roster = \[\]: expected every stack of the lab, two or more/,
        ],
        ["no roster at all", (r: any) => delete r.roster, /zta-testbed:roster is not set/],
        [
            "a retired per-stack roster",
            (r: any) => (r.peers = r.roster.slice(1)),
            /zta-testbed:peers is retired and Pulumi\.yaml sets zta-testbed:roster/,
        ],
    ])("%s is refused naming the key", (_label, edit, message) => {
        const raw = JSON.parse(JSON.stringify(rawConfig("comp2", THREE)));
        edit(raw);
        expect(configProblems(() => parseLabConfig("comp2", raw, SSH)).join("\n")).toMatch(message);
    });

    test("the retired per-stack rosters of a three-cluster lab: every stack file prints the same roster to write", () => {
        const dir = labDirWith((stack, raw) => {
            raw.peers = raw.roster.filter((e: { stack: string }) => e.stack !== stack);
            delete raw.roster;
        }, THREE);
        expect(fs.readFileSync(path.join(dir, "Pulumi.comp4.yaml"), "utf8")).toMatch(
            /zta-testbed:peers:\n {4}- stack: comp2\n {6}clusterName: cluster1\n {4}- stack: comp3\n/,
        );
        const roster = (stack: string) =>
            `Pulumi.${stack}.yaml: zta-testbed:peers is retired: the lab's stacks are listed once, in Pulumi.yaml's zta-testbed:roster, and each stack's peers are the others (see docs/config.md). ` +
            "Write the roster under `config:` in Pulumi.yaml and remove zta-testbed:peers from every stack file; the running lab keeps every resource (a peer's StackReference keeps its name):\n" +
            "  zta-testbed:roster:\n    value:\n" +
            "      - {stack: comp2, clusterName: cluster1}\n      - {stack: comp3, clusterName: cluster2}\n      - {stack: comp4, clusterName: cluster3}";
        expect(configProblems(() => readLabConfig(dir))).toEqual(STACKS.map(roster));
    });

    test("the roster's lines, written into Pulumi.yaml, give the plan the per-stack rosters gave: the same StackReferences", async () => {
        // Under the engine: comp3 reads each peer through one StackReference named after its cluster.
        const file = readStackConfig(THREE, "comp3");
        const alone = await evaluateStack({
            project: "zta-testbed",
            stack: "comp3",
            config: file.config,
            secretKeys: file.secretKeys,
            program: main,
        });
        expect(
            alone.resources
                .filter((r) => r.type === "pulumi:pulumi:StackReference")
                .map((r) => [r.name, r.inputs.name]),
        ).toEqual([
            ["comp3-peer-cluster1", "comp2"],
            ["comp3-peer-cluster3", "comp4"],
            // And itself, a peer-role stack of the shared model: the requests it last exported.
            ["comp3-self", "comp3"],
        ]);
    });
});

describe("the fixpoint of the deployment order", () => {
    // Programs much smaller than the lab's, so that the runs themselves are what is tested.
    const counting = (make: (run: number) => object) => {
        let calls = 0;
        return { program: async () => make(++calls), calls: () => calls };
    };

    test("a run that changes nothing is not a run of the deployment, and ends the plan", async () => {
        const p = counting(() => ({ stack: pulumi.getStack() }));
        const lab = await planLab(REPO, p.program);
        expect(lab.runs).toEqual(["comp3", "comp2"]);
        // comp3 ran again because comp2 had been deployed since, and found nothing to change.
        expect(lab.evaluations).toEqual([
            { stack: "comp3", changed: true },
            { stack: "comp2", changed: true },
            { stack: "comp3", changed: false },
        ]);
        expect(p.calls()).toBe(3);
    });

    test("outputs that change on every run are refused after the bound, naming the stacks and outputs that still change", async () => {
        const p = counting((run) => ({ stack: pulumi.getStack(), run }));
        const failure = planLab(REPO, p.program, { maxRounds: 3 });
        await expect(failure).rejects.toThrow(NotConvergedError);
        await expect(failure).rejects.toThrow(
            'the offline plan did not converge in 3 passes of the deployment order comp3, comp2: the outputs of "comp3" (run), "comp2" (run) still changed in the last pass, so "comp3" would have to run again',
        );
        // Bounded: three passes of two stacks, not one more.
        expect(p.calls()).toBe(6);
    });

    test("--stacks plans only the stacks given; a roster entry naming another stack of the directory is a stack not deployed", async () => {
        const p = counting(() => ({ stack: pulumi.getStack() }));
        const lab = await planLab(THREE, p.program, { stacks: ["comp2", "comp4"] });
        expect(lab.stacks.map((s) => s.stack)).toEqual(["comp2", "comp4"]);
        expect(lab.runs).toEqual(["comp4", "comp2"]);
        expect(configProblems(() => readLabConfig(THREE, ["comp2", "comp9"]))).toEqual([
            `${path.join(THREE, "Pulumi.comp9.yaml")} does not exist: give the stacks whose Pulumi.<stack>.yaml is in ${THREE} (--stacks), or write that file`,
        ]);
    });

    test("npm run plan -- --stacks takes a comma-separated list and refuses a stack without a file before evaluating anything", async () => {
        const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "zta-stacks-")), "plan");
        const result = await planCommandOutput(["--config-dir", THREE, "--stacks", "comp2,comp9", "--out", out]);
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/Pulumi\.comp9\.yaml does not exist/);
        expect(fs.existsSync(out)).toBe(false);
    });
});
