// Config validation as pure functions, no mocks: does a wrong value fail
// before anything is declared, naming the key, the value and the fix?
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { evaluateStack } from "../offline/engine/evaluate";
import { readStackConfig } from "../offline/planner/lab";
import { shortTable, TARGETS, withTable } from "../offline/docs/config-docs";
import { ConfigError, labWideKeyProblems } from "../stacks/config/messages";
import { parseLabConfig, requiredSecrets } from "../stacks/config/parse";
import { SecretKey } from "../stacks/config/schema";
import { main } from "../stacks/main";
import { mergedConfig, readProjectConfig, readStackFileConfig } from "../stacks/config/files";
import { parseAddressRange, parseCidr } from "../stacks/config/net";
import { identityOf } from "../stacks/peer";
import { peerProblems } from "../stacks/peer-checks";
import { CONFIG_CASES } from "./bad-inputs";
import { labDirWith, rawConfig, REPO } from "./helpers";

const SSH: ReadonlySet<SecretKey> = new Set(["sshPrivateKey"]);

function raw(stack = "comp2"): Record<string, any> {
    return JSON.parse(JSON.stringify(rawConfig(stack)));
}

function problemsOf(stack: string, r: Record<string, unknown>, secrets: ReadonlySet<SecretKey> = SSH): string[] {
    try {
        parseLabConfig(stack, r, secrets);
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
    return [];
}

describe("the committed reference lab", () => {
    test.each(["comp2", "comp3"])("%s validates", (stack) => {
        const cfg = parseLabConfig(stack, raw(stack), SSH);
        expect(cfg.stack).toBe(stack);
    });

    test("carries the reference lab of docs/design.md: hosts, ids, networks, pools", () => {
        const c2 = parseLabConfig("comp2", raw("comp2"), SSH);
        const c3 = parseLabConfig("comp3", raw("comp3"), SSH);
        expect([c2.cluster.name, c2.cluster.id, c2.cluster.network, c2.host?.address]).toEqual([
            "cluster1",
            1,
            "network1",
            "10.5.0.3",
        ]);
        expect([c3.cluster.name, c3.cluster.id, c3.cluster.network, c3.host?.address]).toEqual([
            "cluster2",
            2,
            "network2",
            "10.5.0.4",
        ]);
        expect(c2.metallb.addresses).toEqual(["10.5.0.100-10.5.0.120"]);
        expect(c3.metallb.addresses).toEqual(["10.5.0.121-10.5.0.139"]);
        expect(c2.pki.role).toBe("root");
        expect(c3.pki.role).toBe("peer");
        expect(c2.registry.host).toBe("10.5.0.2");
    });

    test("the samples run helloworld v1 in cluster1 and v2 in cluster2, from upstream images", () => {
        const versions = ["comp2", "comp3"].map((s) => parseLabConfig(s, raw(s), SSH).samples);
        expect(versions).toEqual([
            { enabled: true, helloworldVersion: "v1", imagesFromRegistry: false },
            { enabled: true, helloworldVersion: "v2", imagesFromRegistry: false },
        ]);
    });

    test("samples switched off need no sample settings", () => {
        const r = raw();
        r.samples = { enabled: false };
        expect(parseLabConfig("comp2", r, SSH).samples).toEqual({ enabled: false });
        delete r.samples;
        expect(parseLabConfig("comp2", r, SSH).samples).toEqual({ enabled: false });
    });

    test("the two stacks pass each other's consistency checks", () => {
        const c2 = parseLabConfig("comp2", raw("comp2"), SSH);
        const c3 = parseLabConfig("comp3", raw("comp3"), SSH);
        expect(peerProblems(identityOf(c2), identityOf(c3), c2.peers[0].clusterName, "comp3")).toEqual([]);
        expect(peerProblems(identityOf(c3), identityOf(c2), c3.peers[0].clusterName, "comp2")).toEqual([]);
    });
});

describe("bad input is rejected with the key, the value and what is expected", () => {
    test.each(CONFIG_CASES)("%s", (_label, edit, message) => {
        const r = raw();
        edit(r);
        const problems = problemsOf("comp2", r);
        expect(problems.join("\n")).toMatch(message);
    });

    test("Cilium replaces kube-proxy unless cilium.kubeProxyReplacement says otherwise", () => {
        const r = raw();
        expect(parseLabConfig("comp2", r, SSH).cilium.kubeProxyReplacement).toBe(true);
        delete r.cilium;
        expect(parseLabConfig("comp2", r, SSH).cilium).toMatchObject({
            bgpControlPlane: false,
            kubeProxyReplacement: true,
        });
        expect(
            parseLabConfig("comp2", { ...raw(), cilium: { kubeProxyReplacement: false } }, SSH).cilium
                .kubeProxyReplacement,
        ).toBe(false);
    });

    test("every problem is reported at once, not only the first", () => {
        const r = raw();
        r.cluster.id = 0;
        r.mesh.trustDomain = "Bad Domain";
        r.pki.role = "boss";
        expect(problemsOf("comp2", r)).toHaveLength(3);
    });

    test("a host without an SSH key secret names the key and the command that sets it", () => {
        const problems = problemsOf("comp2", raw(), new Set());
        expect(problems.join("\n")).toMatch(
            /zta-testbed:sshPrivateKey is not set.*pulumi config set --secret zta-testbed:sshPrivateKey/,
        );
    });

    test("a host and a kubeconfig together are refused", () => {
        const problems = problemsOf("comp2", raw(), new Set(["sshPrivateKey", "kubeconfig"]));
        expect(problems.join("\n")).toMatch(/zta-testbed:host and zta-testbed:kubeconfig are both set/);
    });

    test("bring-your-own cluster needs a kubeconfig secret, not an SSH key", () => {
        const r = raw();
        delete r.host;
        expect(requiredSecrets(r)).toEqual(["kubeconfig"]);
        expect(problemsOf("comp2", r, new Set()).join("\n")).toMatch(
            /neither zta-testbed:host nor zta-testbed:kubeconfig is set/,
        );
        expect(problemsOf("comp2", r, new Set(["kubeconfig"]))).toEqual([]);
    });

    test("federation needs an address for the bundle endpoint", () => {
        const r = raw();
        r.mesh.trustModel = "federated";
        delete r.metallb.federationAddress;
        expect(problemsOf("comp2", r).join("\n")).toMatch(/zta-testbed:metallb\.federationAddress is not set/);
    });
});

describe("checks across the StackReference", () => {
    const c2 = () => identityOf(parseLabConfig("comp2", raw("comp2"), SSH));
    const c3 = () => identityOf(parseLabConfig("comp3", raw("comp3"), SSH));

    test("overlapping pools between the stacks fail with both ranges", () => {
        const peer = { ...c3(), metallbAddresses: ["10.5.0.115-10.5.0.125"] };
        expect(peerProblems(c2(), peer, "cluster2", "comp3").join("\n")).toMatch(
            /"10\.5\.0\.100-10\.5\.0\.120" here overlaps "10\.5\.0\.115-10\.5\.0\.125" in peer stack "comp3"/,
        );
    });

    test.each([
        ["equal cluster ids", { clusterId: 1 }, /zta-testbed:cluster\.id is 1 here and 1 in peer stack "comp3"/],
        ["equal networks", { network: "network1" }, /cluster\.network is "network1" here and "network1"/],
        ["another mesh", { meshId: "mesh2" }, /mesh\.id is "mesh1" here and "mesh2"/],
        [
            "another trust domain in the shared model",
            { trustDomain: "other.lab" },
            /mesh\.trustDomain is "zta\.lab" here and "other\.lab".*one trust domain/,
        ],
        [
            "overlapping pod CIDRs",
            { podCidr: "10.244.0.0/16" },
            /cluster\.podCidr = "10\.244\.0\.0\/16" here overlaps cluster\.podCidr = "10\.244\.0\.0\/16" in peer stack "comp3"/,
        ],
        ["an unexpected peer name", { clusterName: "cluster9" }, /peer stack "comp3" reports cluster "cluster9"/],
        [
            "equal cluster names",
            { clusterName: "cluster1" },
            /cluster\.name is "cluster1" here and "cluster1" in peer stack "comp3": cluster names must differ/,
        ],
        [
            "another trust model",
            { trustModel: "federated" as const },
            /mesh\.trustModel is "shared" here and "federated"/,
        ],
    ])("%s fail the preview with both values", (_label, change, message) => {
        expect(peerProblems(c2(), { ...c3(), ...change }, "cluster2", "comp3").join("\n")).toMatch(message);
    });

    test("the federated model needs distinct trust domains", () => {
        const own = { ...c2(), trustModel: "federated" as const };
        const peer = { ...c3(), trustModel: "federated" as const };
        expect(peerProblems(own, peer, "cluster2", "comp3").join("\n")).toMatch(
            /federated trust model needs a trust domain per cluster/,
        );
        expect(peerProblems(own, { ...peer, trustDomain: "cluster2.zta.lab" }, "cluster2", "comp3")).toEqual([]);
    });
});

describe("address parsing", () => {
    test("ranges and CIDRs", () => {
        expect(parseAddressRange("10.5.0.100-10.5.0.120")).toMatchObject({ first: 0x0a050064, last: 0x0a050078 });
        expect(parseAddressRange("10.5.0.96/28")).toMatchObject({ first: 0x0a050060, last: 0x0a05006f });
        expect(parseAddressRange("10.5.0.1")).toBeUndefined();
        expect(parseAddressRange("fd00::1-fd00::9")).toBeUndefined();
        expect(parseCidr("10.0.0.0/33")).toBeUndefined();
    });
});

describe("the lab PKI settings", () => {
    const fixture = (name: string) => fs.readFileSync(path.join(__dirname, "fixtures", "verify", name), "utf8");
    const WITH_ROOT_KEY: ReadonlySet<SecretKey> = new Set(["sshPrivateKey", "rootCaKey"]);

    test("intermediates default to a year, re-issued in their last 30 days", () => {
        const cfg = parseLabConfig("comp2", raw(), SSH);
        expect(cfg.pki).toEqual({
            role: "root",
            rootCaCert: undefined,
            intermediateValidityHours: 8760,
            intermediateEarlyRenewalHours: 720,
        });
    });

    test.each([
        [
            "a validity under a day",
            { intermediateValidityHours: 1 },
            /zta-testbed:pki\.intermediateValidityHours = 1: expected an integer from 24 to 87600/,
        ],
        [
            "a renewal window as long as the validity",
            { intermediateValidityHours: 48, intermediateEarlyRenewalHours: 48 },
            /zta-testbed:pki\.intermediateEarlyRenewalHours = 48: expected an integer from 0 to 47/,
        ],
        [
            "a root that is not PEM",
            { rootCaCert: "my-root" },
            /zta-testbed:pki\.rootCaCert = "my-root": expected a PEM certificate/,
        ],
        [
            "a root that is not a CA",
            { rootCaCert: fixture("curl-leaf.pem") },
            /zta-testbed:pki\.rootCaCert = "-----BEGIN CERTIFICATE-----.*\.\.\.": expected a CA certificate/,
        ],
    ])("%s is refused", (_label, pki, message) => {
        const r = raw();
        Object.assign(r.pki, pki);
        expect(problemsOf("comp2", r, WITH_ROOT_KEY).join("\n")).toMatch(message);
    });

    test("a brought root needs its key as a secret, and the secret is then required (the plan gives it a stand-in)", () => {
        const r = raw();
        r.pki.rootCaCert = fixture("lab-root.pem");
        expect(problemsOf("comp2", r, SSH).join("\n")).toMatch(
            /zta-testbed:pki\.rootCaCert is set but its key is not: `pulumi config set --secret zta-testbed:rootCaKey < root-key\.pem`/,
        );
        expect(parseLabConfig("comp2", r, WITH_ROOT_KEY).pki.rootCaCert).toBe(fixture("lab-root.pem"));
        expect(requiredSecrets(r)).toEqual(["sshPrivateKey", "rootCaKey"]);
        expect(requiredSecrets(raw())).toEqual(["sshPrivateKey"]);
    });

    test("a key without its certificate is refused", () => {
        expect(problemsOf("comp2", raw(), WITH_ROOT_KEY).join("\n")).toMatch(
            /zta-testbed:rootCaKey is set but zta-testbed:pki\.rootCaCert is not/,
        );
    });

    test("the peer stack of the shared model owns no root to bring; in the federated model it does", () => {
        const r = raw("comp3");
        r.pki.rootCaCert = fixture("lab-root.pem");
        expect(problemsOf("comp3", r, WITH_ROOT_KEY).join("\n")).toMatch(
            /zta-testbed:pki\.rootCaCert is set but this stack owns no root .*set it on the root stack "comp2" instead/,
        );
        r.mesh.trustModel = "federated";
        r.mesh.trustDomain = "cluster2.zta.lab";
        expect(problemsOf("comp3", r, WITH_ROOT_KEY)).toEqual([]);
    });
});

describe("a misspelt key is refused naming it and the nearest valid key", () => {
    test.each([
        [
            "jwt.audiance",
            (r: any) => (r.jwt.audiance = ["zta-ingress"]),
            /^Pulumi\.yaml: zta-testbed:jwt\.audiance is not a known setting: did you mean zta-testbed:jwt\.audiences\? \(the keys of zta-testbed:jwt: issuer, jwksUri, audiences, caCert, allowAnyAudience; see docs\/config\.md\)$/m,
        ],
        [
            "jwt.audience",
            (r: any) => (r.jwt.audience = "zta-ingress"),
            /zta-testbed:jwt\.audience is not a known setting: did you mean zta-testbed:jwt\.audiences\?/,
        ],
        [
            "host.allowRest",
            (r: any) => (r.host.allowRest = true),
            /^Pulumi\.comp2\.yaml: zta-testbed:host\.allowRest is not a known setting: did you mean zta-testbed:host\.allowReset\?/m,
        ],
        [
            "host.allowreset (case)",
            (r: any) => (r.host.allowreset = true),
            /zta-testbed:host\.allowreset is not a known setting: did you mean zta-testbed:host\.allowReset\?/,
        ],
        [
            "a top-level version",
            (r: any) => (r.version = r.versions),
            /^Pulumi\.comp2\.yaml: zta-testbed:version is not a known setting: did you mean zta-testbed:versions\? \(the keys: cluster, host/m,
        ],
        [
            "a roster entry's clustername",
            (r: any) => (r.roster[1].clustername = "cluster2"),
            /^Pulumi\.yaml: zta-testbed:roster\[1\]\.clustername is not a known setting: did you mean zta-testbed:roster\[1\]\.clusterName\? \(the keys of zta-testbed:roster: stack, clusterName/m,
        ],
        [
            "a word far from every key",
            (r: any) => (r.cilium.hubbleRelayEnabled = true),
            /zta-testbed:cilium\.hubbleRelayEnabled is not a known setting: the nearest valid key is zta-testbed:cilium\./,
        ],
    ])("%s", (_label, edit, message) => {
        const r = raw();
        edit(r);
        expect(problemsOf("comp2", r).join("\n")).toMatch(message);
    });

    test("a typo is refused under the engine too (loadConfig), before anything is declared", async () => {
        const file = readStackConfig(REPO, "comp2");
        const jwt = { ...(JSON.parse(file.config["zta-testbed:jwt"]) as object), audiance: ["zta-ingress"] };
        await expect(
            evaluateStack({
                project: "zta-testbed",
                stack: "comp2",
                config: { ...file.config, "zta-testbed:jwt": JSON.stringify(jwt) },
                secretKeys: file.secretKeys,
                program: main,
            }),
        ).rejects.toThrow(
            /Pulumi\.yaml: zta-testbed:jwt\.audiance is not a known setting: did you mean zta-testbed:jwt\.audiences\?/,
        );
    });
});

describe("the roster: the lab's stacks, listed once in Pulumi.yaml", () => {
    test("each committed stack's peers are the roster without itself", () => {
        expect(raw("comp2").roster).toEqual([
            { stack: "comp2", clusterName: "cluster1" },
            { stack: "comp3", clusterName: "cluster2" },
        ]);
        expect(parseLabConfig("comp2", raw("comp2"), SSH).peers).toEqual([{ stack: "comp3", clusterName: "cluster2" }]);
        expect(parseLabConfig("comp3", raw("comp3"), SSH).peers).toEqual([{ stack: "comp2", clusterName: "cluster1" }]);
    });

    test("several peers, in the roster's order, each checked; the stack is matched by its name, qualified or not", () => {
        const r = raw();
        r.roster.push({ stack: "comp4", clusterName: "cluster3" });
        expect(parseLabConfig("comp2", r, SSH).peers.map((p) => p.stack)).toEqual(["comp3", "comp4"]);
        r.roster[0].stack = "acme/zta-testbed/comp2";
        expect(parseLabConfig("comp2", r, SSH).peers.map((p) => p.stack)).toEqual(["comp3", "comp4"]);
        r.roster.push({ stack: "acme/zta-testbed/comp4", clusterName: "cluster4" });
        expect(problemsOf("comp2", r).join("\n")).toMatch(
            /^Pulumi\.yaml: zta-testbed:roster\[3\]\.stack = "acme\/zta-testbed\/comp4" is already zta-testbed:roster\[2\]: name each stack once$/m,
        );
    });

    test.each([
        [
            "no roster at all",
            (r: any) => delete r.roster,
            /^Pulumi\.yaml: zta-testbed:roster is not set: add it to Pulumi\.yaml's config block/m,
        ],
        [
            "an empty roster",
            (r: any) => (r.roster = []),
            /^Pulumi\.yaml: zta-testbed:roster = \[\]: expected every stack of the lab, two or more/m,
        ],
        [
            "a roster of this stack alone",
            (r: any) => (r.roster = [r.roster[0]]),
            /^Pulumi\.yaml: zta-testbed:roster lists only this stack, "comp2": a lab has two clusters or more \(the program has no one-cluster mode\)/m,
        ],
        [
            "a roster that is one object",
            (r: any) => (r.roster = { stack: "comp3", clusterName: "cluster2" }),
            /^Pulumi\.yaml: zta-testbed:roster = \{"stack":"comp3","clusterName":"cluster2"\}: expected a list of \{stack, clusterName\} entries, one per stack of the lab/m,
        ],
        [
            "an entry without its cluster name",
            (r: any) => delete r.roster[1].clusterName,
            /^Pulumi\.yaml: zta-testbed:roster\[1\]\.clusterName = undefined: expected a non-empty string/m,
        ],
        [
            "a cluster name twice",
            (r: any) => (r.roster[1].clusterName = "cluster1"),
            /^Pulumi\.yaml: zta-testbed:roster\[1\]\.clusterName = "cluster1" is already zta-testbed:roster\[0\]\.clusterName: every cluster of the lab needs its own name$/m,
        ],
    ])("%s is refused", (_label, edit, message) => {
        const r = raw();
        edit(r);
        expect(problemsOf("comp2", r).join("\n")).toMatch(message);
    });

    test("a stack file that sets the roster is refused: it is lab-wide", () => {
        expect(labWideKeyProblems("comp3", ["zta-testbed:cluster", "zta-testbed:roster"])).toEqual([
            "Pulumi.comp3.yaml: zta-testbed:roster is lab-wide, equal in every stack: set it once in Pulumi.yaml's config block (`zta-testbed:roster:` with its list under `value:`) and remove it from Pulumi.comp3.yaml",
        ]);
    });

    test("a stack not on the roster is refused in Pulumi.yaml, with the line to add or the destroy to run", () => {
        const r = raw();
        r.roster = r.roster.filter((e: { stack: string }) => e.stack !== "comp2");
        r.roster.push({ stack: "comp4", clusterName: "cluster3" });
        expect(problemsOf("comp2", r)).toEqual([
            'Pulumi.yaml: zta-testbed:roster has no entry for this stack, "comp2": add `- {stack: comp2, clusterName: cluster1}` to it; ' +
                'a stack that has left the lab is destroyed, not run (`pulumi destroy --stack comp2`, docs/deploy.md, "Remove a cluster")',
        ]);
    });

    describe("the per-stack rosters of earlier labs are refused, with the roster to write", () => {
        const roster = [
            "  zta-testbed:roster:",
            "    value:",
            "      - {stack: comp2, clusterName: cluster1}",
            "      - {stack: comp3, clusterName: cluster2}",
        ].join("\n");
        const retired = (key: string) =>
            `Pulumi.comp2.yaml: zta-testbed:${key} is retired: the lab's stacks are listed once, in Pulumi.yaml's zta-testbed:roster, and each stack's peers are the others (see docs/config.md). ` +
            `Write the roster under \`config:\` in Pulumi.yaml and remove zta-testbed:${key} from every stack file; the running lab keeps every resource (a peer's StackReference keeps its name):\n${roster}`;

        test("peers, with no roster in Pulumi.yaml: the roster lines, this stack's own among them", () => {
            const r = raw();
            delete r.roster;
            r.peers = [{ stack: "comp3", clusterName: "cluster2" }];
            expect(problemsOf("comp2", r)).toEqual([retired("peers")]);
            // From the other side the lines are the same.
            const r3 = raw("comp3");
            delete r3.roster;
            r3.peers = [{ stack: "comp2", clusterName: "cluster1" }];
            expect(problemsOf("comp3", r3)).toEqual([
                retired("peers").replace("Pulumi.comp2.yaml", "Pulumi.comp3.yaml"),
            ]);
        });

        test("the one-peer peer: of older labs, the same way", () => {
            const r = raw();
            delete r.roster;
            r.peer = { stack: "comp3", clusterName: "cluster2" };
            expect(problemsOf("comp2", r)).toEqual([retired("peer")]);
        });

        test("other problems are still reported with it, and values that need quotes are quoted", () => {
            const r = raw();
            delete r.roster;
            r.peers = [{ stack: "comp3", clusterName: "Cluster 2" }];
            r.cluster.id = 0;
            const problems = problemsOf("comp2", r);
            expect(problems[0]).toContain('      - {stack: comp3, clusterName: "Cluster 2"}');
            expect(problems.slice(1)).toEqual([
                "Pulumi.comp2.yaml: zta-testbed:cluster.id = 0: expected an integer from 1 to 255",
            ]);
        });

        test("with the roster already in Pulumi.yaml: remove the stack file's list", () => {
            const r = raw();
            r.peers = [{ stack: "comp3", clusterName: "cluster2" }];
            expect(problemsOf("comp2", r)).toEqual([
                "Pulumi.comp2.yaml: zta-testbed:peers is retired and Pulumi.yaml sets zta-testbed:roster, which names this stack's peers: remove zta-testbed:peers from Pulumi.comp2.yaml",
            ]);
        });
    });
});

describe("lab-wide config lives once in Pulumi.yaml", () => {
    const LAB_WIDE = ["roster", "versions", "mesh", "registry", "issuer", "jwt", "charts"];

    test("Pulumi.yaml holds the lab-wide keys and no stack file sets one", () => {
        expect(Object.keys(readProjectConfig(path.join(REPO, "Pulumi.yaml")))).toEqual([
            "zta-testbed:roster",
            "zta-testbed:versions",
            "zta-testbed:mesh",
            "zta-testbed:registry",
            "zta-testbed:jwt",
        ]);
        for (const stack of ["comp2", "comp3"]) {
            const keys = Object.keys(readStackFileConfig(path.join(REPO, `Pulumi.${stack}.yaml`))).map((k) =>
                k.replace("zta-testbed:", ""),
            );
            expect(keys.filter((k) => LAB_WIDE.includes(k))).toEqual([]);
        }
    });

    test.each(LAB_WIDE)("%s set in a stack file is refused, naming the file, the key and Pulumi.yaml", (key) => {
        const dir = labDirWith((stack, r) => {
            if (stack === "comp3") r[key] = { ...(r[key] ?? {}), drifted: true };
        });
        expect(() => readStackConfig(dir, "comp3")).toThrow(
            new RegExp(
                `Pulumi\\.comp3\\.yaml: zta-testbed:${key} is lab-wide, equal in every stack: set it once in Pulumi\\.yaml's config block`,
            ),
        );
        expect(() => readStackConfig(dir, "comp2")).not.toThrow();
    });

    test("the stack file's key replaces the project's whole value, as Pulumi merges them", () => {
        const merged = mergedConfig(
            { "zta-testbed:addons": { prometheus: true, kiali: true }, "zta-testbed:mesh": { id: "mesh1" } },
            { "zta-testbed:addons": { grafana: true } },
        );
        expect(merged).toEqual({ "zta-testbed:addons": { grafana: true }, "zta-testbed:mesh": { id: "mesh1" } });
    });

    test("Pulumi.yaml entries: value:, plain scalars and un-namespaced keys as Pulumi reads them; an object without value: is refused", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-project-"));
        const file = path.join(dir, "Pulumi.yaml");
        fs.writeFileSync(
            file,
            "name: zta-testbed\nruntime: nodejs\nconfig:\n  mesh:\n    value: {id: mesh1}\n  aws:region: eu-west-1\n",
        );
        expect(readProjectConfig(file)).toEqual({ "zta-testbed:mesh": { id: "mesh1" }, "aws:region": "eu-west-1" });
        fs.writeFileSync(file, "name: zta-testbed\nruntime: nodejs\nconfig:\n  zta-testbed:mesh:\n    id: mesh1\n");
        expect(() => readProjectConfig(file)).toThrow(
            /Pulumi\.yaml: zta-testbed:mesh holds an object without `value:`/,
        );
    });

    test("a lab directory without Pulumi.yaml is refused, naming it", () => {
        const dir = labDirWith(() => undefined);
        fs.rmSync(path.join(dir, "Pulumi.yaml"));
        expect(() => readStackConfig(dir, "comp2")).toThrow(
            /Pulumi\.yaml does not exist: the project file holds the lab-wide config/,
        );
    });

    test("a federated cluster names its own trust domain in cluster.trustDomain; the shared model refuses one that differs", () => {
        const r = raw("comp3");
        r.cluster.trustDomain = "cluster2.zta.lab";
        expect(problemsOf("comp3", r).join("\n")).toMatch(
            /zta-testbed:cluster\.trustDomain = "cluster2\.zta\.lab" but zta-testbed:mesh\.trustModel is "shared"/,
        );
        r.mesh.trustModel = "federated";
        expect(parseLabConfig("comp3", r, SSH).mesh).toEqual({
            id: "mesh1",
            trustDomain: "cluster2.zta.lab",
            trustModel: "federated",
        });
    });
});

describe("the configuration tables are the schema's (`npm run docs:config` writes them)", () => {
    test.each(TARGETS.map((t) => [t.file, t] as const))("%s", (file, target) => {
        const text = fs.readFileSync(path.join(REPO, file), "utf8");
        expect(text).toBe(withTable(text, target.table(), file));
    });

    test("they list the keys with their scope, type and default", () => {
        const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
        expect(readme).toContain(
            "| `jwt` | project | `issuer`, `jwksUri`, `audiences`, `caCert`, `allowAnyAudience` |",
        );
        expect(readme).toContain("| `roster[]` | project | `stack`, `clusterName` |");
        const doc = fs.readFileSync(path.join(REPO, "docs", "config.md"), "utf8");
        expect(doc).toContain("| `host.allowReset` | boolean | `false` | stack |");
        expect(doc).toContain("| `versions.istio` | pinned chart version | required | project |");
        expect(doc).toContain('| `issuer.realm` | DNS label | `"zta"` | project |');
    });

    test("a table that differs from the schema is caught", () => {
        const text = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
        const edited = text.replace("| `jwt` | project |", "| `jwt` | stack |");
        expect(edited).not.toBe(text);
        expect(withTable(edited, shortTable(), "README.md")).not.toBe(edited);
        expect(() => withTable("no markers", shortTable(), "README.md")).toThrow(
            /README\.md has no config-table markers/,
        );
    });
});
