// Config validation as pure functions, no mocks: does a wrong value fail
// before anything is declared, naming the key, the value and the fix?
import * as fs from "fs";
import * as path from "path";
import { ConfigError, parseLabConfig, requiredSecrets, SecretKey } from "../stacks/config";
import { parseAddressRange, parseCidr } from "../stacks/net";
import { identityOf, peerProblems } from "../stacks/peer";
import { rawConfig } from "./helpers";

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

    test("carries the DESIGN.md defaults: hosts, ids, networks, pools", () => {
        const c2 = parseLabConfig("comp2", raw("comp2"), SSH);
        const c3 = parseLabConfig("comp3", raw("comp3"), SSH);
        expect([c2.cluster.name, c2.cluster.id, c2.cluster.network, c2.host?.address]).toEqual(["cluster1", 1, "network1", "10.5.0.3"]);
        expect([c3.cluster.name, c3.cluster.id, c3.cluster.network, c3.host?.address]).toEqual(["cluster2", 2, "network2", "10.5.0.4"]);
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
        expect(peerProblems(identityOf(c2), identityOf(c3), c2.peer.clusterName, "comp3")).toEqual([]);
        expect(peerProblems(identityOf(c3), identityOf(c2), c3.peer.clusterName, "comp2")).toEqual([]);
    });
});

describe("bad input is rejected with the key, the value and what is expected", () => {
    test.each([
        ["cluster id 0", (r: any) => (r.cluster.id = 0), /zta-testbed:cluster\.id = 0: expected an integer from 1 to 255/],
        ["cluster id 256", (r: any) => (r.cluster.id = 256), /zta-testbed:cluster\.id = 256: expected an integer from 1 to 255/],
        ["a pool that is not a range", (r: any) => (r.metallb.addresses = ["10.5.0.100..10.5.0.120"]), /zta-testbed:metallb\.addresses\[0\] = "10\.5\.0\.100\.\.10\.5\.0\.120": expected an IPv4 range/],
        ["a backwards range", (r: any) => (r.metallb.addresses = ["10.5.0.120-10.5.0.100"]), /metallb\.addresses\[0\].*first <= last/],
        ["a CIDR with host bits", (r: any) => (r.cluster.podCidr = "10.244.1.0/16"), /zta-testbed:cluster\.podCidr = "10\.244\.1\.0\/16": expected an IPv4 CIDR/],
        ["a trust domain with a scheme", (r: any) => (r.mesh.trustDomain = "spiffe://zta.lab"), /zta-testbed:mesh\.trustDomain = "spiffe:\/\/zta\.lab": expected a SPIFFE trust domain/],
        ["a trust domain with capitals", (r: any) => (r.mesh.trustDomain = "ZTA.lab"), /mesh\.trustDomain = "ZTA\.lab"/],
        ["an unknown PKI role", (r: any) => (r.pki.role = "primary"), /zta-testbed:pki\.role = "primary": expected "root".*or "peer"/],
        ["an unknown trust model", (r: any) => (r.mesh.trustModel = "mixed"), /mesh\.trustModel = "mixed"/],
        ["a chart version range", (r: any) => (r.versions.istio = "^1.30"), /zta-testbed:versions\.istio = "\^1\.30": expected a pinned chart version/],
        ["a Kubernetes version that is no version", (r: any) => (r.versions.kubernetes = "v1.36"), /zta-testbed:versions\.kubernetes = "v1\.36": expected a Kubernetes minor or patch version/],
        ["a cluster name Cilium refuses", (r: any) => (r.cluster.name = "default"), /cluster\.name = "default": may not be "default"/],
        ["a cluster name over 32 characters", (r: any) => (r.cluster.name = "c".repeat(33)), /at most 32 characters/],
        ["a missing section", (r: any) => delete r.mesh, /zta-testbed:mesh is not set/],
        ["a gateway address outside the pool", (r: any) => (r.metallb.eastWestAddress = "10.5.0.130"), /zta-testbed:metallb\.eastWestAddress = "10\.5\.0\.130" is outside zta-testbed:metallb\.addresses/],
        ["two gateways on one address", (r: any) => (r.metallb.eastWestAddress = r.metallb.ingressAddress), /eastWestAddress = "10\.5\.0\.100" is already used by zta-testbed:metallb\.ingressAddress/],
        ["overlapping pools", (r: any) => (r.metallb.addresses = ["10.5.0.100-10.5.0.120", "10.5.0.110/31"]), /"10\.5\.0\.100-10\.5\.0\.120" overlaps "10\.5\.0\.110\/31"/],
        ["a pool outside the host's networks", (r: any) => (r.metallb.addresses = ["10.5.0.100-10.5.0.120", "10.6.0.1-10.6.0.9"]), /"10\.6\.0\.1-10\.6\.0\.9" is not inside any of zta-testbed:host\.networks/],
        ["pod and service CIDRs overlapping", (r: any) => (r.cluster.serviceCidr = "10.244.128.0/17"), /cluster\.podCidr = "10\.244\.0\.0\/16" overlaps zta-testbed:cluster\.serviceCidr/],
        ["a pod CIDR too small for a node's /24 (Cilium's kubernetes IPAM)", (r: any) => (r.cluster.podCidr = "10.244.0.0/25"), /zta-testbed:cluster\.podCidr = "10\.244\.0\.0\/25": expected a prefix of \/24 or shorter/],
        ["kube-proxy replacement as a string", (r: any) => (r.cilium.kubeProxyReplacement = "strict"), /zta-testbed:cilium\.kubeProxyReplacement = "strict": expected true or false/],
        ["a pod CIDR over the hosts' network", (r: any) => (r.cluster.podCidr = "10.5.0.0/16"), /cluster\.podCidr = "10\.5\.0\.0\/16" overlaps zta-testbed:host\.networks entry "10\.5\.0\.0\/24"/],
        ["a service CIDR over the registry host", (r: any) => ((r.host.networks = []), (r.cluster.serviceCidr = "10.5.0.0/24")), /cluster\.serviceCidr = "10\.5\.0\.0\/24" contains zta-testbed:registry\.host = "10\.5\.0\.2"/],
        ["JWT audiences that are not a list", (r: any) => (r.jwt.audiences = "zta-ingress"), /zta-testbed:jwt\.audiences = "zta-ingress": expected a non-empty list of strings/],
        ["a SPIRE switch that is not a boolean", (r: any) => (r.spire = { oidcDiscovery: "yes" }), /zta-testbed:spire\.oidcDiscovery = "yes": expected true or false/],
        ["peer with our own name", (r: any) => (r.peer.clusterName = "cluster1"), /peer\.clusterName = "cluster1" equals zta-testbed:cluster\.name/],
        ["a helloworld version that does not exist", (r: any) => (r.samples.helloworldVersion = "v3"), /zta-testbed:samples\.helloworldVersion = "v3": expected "v1" or "v2"/],
        ["samples on without a helloworld version", (r: any) => delete r.samples.helloworldVersion, /zta-testbed:samples\.helloworldVersion = undefined: expected a non-empty string/],
        ["a misspelt version while samples are off", (r: any) => (r.samples = { enabled: false, helloworldVersion: "1" }), /samples\.helloworldVersion = "1": expected "v1" or "v2"/],
        ["a registry switch that is not a boolean", (r: any) => (r.samples.imagesFromRegistry = "yes"), /zta-testbed:samples\.imagesFromRegistry = "yes": expected true or false/],
    ])("%s", (_label, edit, message) => {
        const r = raw();
        edit(r);
        const problems = problemsOf("comp2", r);
        expect(problems.join("\n")).toMatch(message);
    });

    test("Cilium replaces kube-proxy unless cilium.kubeProxyReplacement says otherwise", () => {
        const r = raw();
        expect(parseLabConfig("comp2", r, SSH).cilium.kubeProxyReplacement).toBe(true);
        delete r.cilium;
        expect(parseLabConfig("comp2", r, SSH).cilium).toMatchObject({ bgpControlPlane: false, kubeProxyReplacement: true });
        expect(parseLabConfig("comp2", { ...raw(), cilium: { kubeProxyReplacement: false } }, SSH).cilium.kubeProxyReplacement).toBe(false);
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
        expect(problems.join("\n")).toMatch(/zta-testbed:sshPrivateKey is not set.*pulumi config set --secret zta-testbed:sshPrivateKey/);
    });

    test("a host and a kubeconfig together are refused", () => {
        const problems = problemsOf("comp2", raw(), new Set(["sshPrivateKey", "kubeconfig"]));
        expect(problems.join("\n")).toMatch(/zta-testbed:host and zta-testbed:kubeconfig are both set/);
    });

    test("bring-your-own cluster needs a kubeconfig secret, not an SSH key", () => {
        const r = raw();
        delete r.host;
        expect(requiredSecrets(r)).toEqual(["kubeconfig"]);
        expect(problemsOf("comp2", r, new Set()).join("\n")).toMatch(/neither zta-testbed:host nor zta-testbed:kubeconfig is set/);
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
        ["another trust domain in the shared model", { trustDomain: "other.lab" }, /mesh\.trustDomain is "zta\.lab" here and "other\.lab".*one trust domain/],
        ["overlapping pod CIDRs", { podCidr: "10.244.0.0/16" }, /cluster\.podCidr = "10\.244\.0\.0\/16" overlaps the peer's cluster\.podCidr/],
        ["an unexpected peer name", { clusterName: "cluster9" }, /peer stack "comp3" reports cluster "cluster9"/],
        ["equal cluster names", { clusterName: "cluster1" }, /cluster\.name is "cluster1" here and "cluster1" in peer stack "comp3": cluster names must differ/],
        ["another trust model", { trustModel: "federated" as const }, /mesh\.trustModel is "shared" here and "federated"/],
    ])("%s fail the preview with both values", (_label, change, message) => {
        expect(peerProblems(c2(), { ...c3(), ...change }, "cluster2", "comp3").join("\n")).toMatch(message);
    });

    test("the federated model needs distinct trust domains", () => {
        const own = { ...c2(), trustModel: "federated" as const };
        const peer = { ...c3(), trustModel: "federated" as const };
        expect(peerProblems(own, peer, "cluster2", "comp3").join("\n")).toMatch(/federated trust model needs a trust domain per cluster/);
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
        expect(cfg.pki).toEqual({ role: "root", rootCaCert: undefined, intermediateValidityHours: 8760, intermediateEarlyRenewalHours: 720 });
    });

    test.each([
        ["a validity under a day", { intermediateValidityHours: 1 }, /zta-testbed:pki\.intermediateValidityHours = 1: expected an integer from 24 to 87600/],
        ["a renewal window as long as the validity", { intermediateValidityHours: 48, intermediateEarlyRenewalHours: 48 }, /zta-testbed:pki\.intermediateEarlyRenewalHours = 48: expected an integer from 0 to 47/],
        ["a root that is not PEM", { rootCaCert: "my-root" }, /zta-testbed:pki\.rootCaCert = "my-root": expected a PEM certificate/],
        ["a root that is not a CA", { rootCaCert: fixture("curl-leaf.pem") }, /zta-testbed:pki\.rootCaCert = "-----BEGIN CERTIFICATE-----.*\.\.\.": expected a CA certificate/],
    ])("%s is refused", (_label, pki, message) => {
        const r = raw();
        Object.assign(r.pki, pki);
        expect(problemsOf("comp2", r, WITH_ROOT_KEY).join("\n")).toMatch(message);
    });

    test("a brought root needs its key as a secret, and the secret is then required (the plan gives it a stand-in)", () => {
        const r = raw();
        r.pki.rootCaCert = fixture("lab-root.pem");
        expect(problemsOf("comp2", r, SSH).join("\n")).toMatch(/zta-testbed:pki\.rootCaCert is set but its key is not: `pulumi config set --secret zta-testbed:rootCaKey < root-key\.pem`/);
        expect(parseLabConfig("comp2", r, WITH_ROOT_KEY).pki.rootCaCert).toBe(fixture("lab-root.pem"));
        expect(requiredSecrets(r)).toEqual(["sshPrivateKey", "rootCaKey"]);
        expect(requiredSecrets(raw())).toEqual(["sshPrivateKey"]);
    });

    test("a key without its certificate is refused", () => {
        expect(problemsOf("comp2", raw(), WITH_ROOT_KEY).join("\n")).toMatch(/zta-testbed:rootCaKey is set but zta-testbed:pki\.rootCaCert is not/);
    });

    test("the peer stack of the shared model owns no root to bring; in the federated model it does", () => {
        const r = raw("comp3");
        r.pki.rootCaCert = fixture("lab-root.pem");
        expect(problemsOf("comp3", r, WITH_ROOT_KEY).join("\n")).toMatch(/zta-testbed:pki\.rootCaCert is set but this stack owns no root .*set it on the root stack "comp2" instead/);
        r.mesh.trustModel = "federated";
        r.mesh.trustDomain = "cluster2.zta.lab";
        expect(problemsOf("comp3", r, WITH_ROOT_KEY)).toEqual([]);
    });
});
