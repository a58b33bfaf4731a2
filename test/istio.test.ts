// Istio multi-primary on different networks, as an operator would check it by
// hand: labels that make selectors match, the network and mesh each istiod is
// told, the CA before istiod, the SPIFFE socket on the gateways, and the remote
// secrets that converge over the three runs of a first deployment.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { EastWestGateway } from "../components/eastwest";
import { gatewayRenderedLabels, gatewaySelectorLabels, GatewayLabelValues } from "../components/gateway-labels";
import { IstioPrimary } from "../components/istio";
import { ClusterCa, Pki } from "../components/pki";
import { readerKubeconfig, RemoteSecret, unreachableApiServerProblem } from "../components/remotesecret";
import { evaluateStack, Evaluation } from "../offline/engine/evaluate";
import { PlannedResource, StackOutputs } from "../offline/engine/record";
import { writePlan } from "../offline/planner/files";
import { LabPlan, readStackConfig } from "../offline/planner/lab";
import { main } from "../stacks/main";
import { MeshIdentity } from "../model/lab";
import { describeProbe, MUST_ALLOW, MUST_DENY } from "../verify/reader-scope";
import { findResource, planOf, rawConfig, REPO, resourcesOfType, stackOf } from "./helpers";
import { mockCertName } from "./mock-certs";
import { ISTIOD_REMOTE_READS, MESH_CONFIG_READ, rbacAllows, RbacGrant } from "./rbac";

// The reference lab as committed.
const labDir = REPO;

const RELEASE = "kubernetes:helm.sh/v3:Release";
const SECRET = "kubernetes:core/v1:Secret";
const CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole";
const CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding";
const ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role";
const ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding";
const ISTIO_NAMESPACE = "istio-system";
const NETWORK_LABEL = "topology.istio.io/network";
const SPIRE_MANAGED_LABEL = "spiffe.io/spire-managed-identity";
const INGRESS_GATEWAY = "istio-ingressgateway";
const EAST_WEST_GATEWAY = "istio-eastwestgateway";
const METALLB_POOL = "lab-pool";
const STACKS = [
    { stack: "comp2", cluster: "cluster1", network: "network1", peer: "cluster2" },
    { stack: "comp3", cluster: "cluster2", network: "network2", peer: "cluster1" },
];

let lab: LabPlan;
beforeAll(async () => {
    lab = await planOf(labDir);
});

const values = (r: PlannedResource) => r.inputs.values as Record<string, any>;
const release = (stack: string, name: string) => findResource(stackOf(lab, stack), RELEASE, `${stack}-${name}`);
const gatewayReleases = (stack: string) => [release(stack, "istio-ingress"), release(stack, "eastwest-release")];

describe("IstioPrimary: each istiod knows its cluster, network, mesh and trust domain", () => {
    test.each(STACKS)(
        "$stack: istio-system's network label is the network istiod is given ($network)",
        ({ stack, network }) => {
            const ns = findResource(stackOf(lab, stack), "kubernetes:core/v1:Namespace", `${stack}-istio-namespace`);
            const meta = ns.inputs.metadata as { name: string; labels: Record<string, string> };
            expect(meta.name).toBe(ISTIO_NAMESPACE);
            expect(meta.labels[NETWORK_LABEL]).toBe(network);
            expect(values(release(stack, "istio-istiod")).global.network).toBe(network);
        },
    );

    test.each(STACKS)("$stack: istiod's clusterName is $cluster", ({ stack, cluster }) => {
        expect(values(release(stack, "istio-istiod")).global.multiCluster.clusterName).toBe(cluster);
    });

    test("both istiods share the configured meshID and trust domain", () => {
        const [a, b] = STACKS.map(({ stack }) => values(release(stack, "istio-istiod")));
        const mesh = rawConfig("comp2").mesh as { id: string; trustDomain: string };
        expect(a.global.meshID).toBe(mesh.id);
        expect(b.global.meshID).toBe(mesh.id);
        expect(a.meshConfig.trustDomain).toBe(mesh.trustDomain);
        expect(b.meshConfig.trustDomain).toBe(mesh.trustDomain);
        // Shared model: one trust domain, nothing about others, and istiod's own certificates for plain sidecars.
        expect(a.meshConfig).toEqual({ trustDomain: mesh.trustDomain });
        expect(a.sidecarInjectorWebhook.defaultTemplates).toBeUndefined();
    });

    test.each(STACKS)("$stack: the charts are the pinned upstream base, istiod and gateway", ({ stack }) => {
        const istioCharts = ["base", "istiod", "gateway"];
        const releases = resourcesOfType(stackOf(lab, stack), RELEASE)
            .filter((r) => istioCharts.includes(r.inputs.chart as string))
            .map((r) => [r.inputs.chart, r.inputs.version, (r.inputs.repositoryOpts as { repo: string }).repo]);
        const pinned = (rawConfig(stack).versions as { istio: string }).istio;
        expect(releases.map(([chart]) => chart).sort()).toEqual(["base", "gateway", "gateway", "istiod"]);
        for (const [, version, repo] of releases) {
            expect(version).toBe(pinned);
            expect(repo).toBe("https://istio-release.storage.googleapis.com/charts");
        }
    });

    test.each(STACKS)("$stack: cacerts exists before istiod starts", ({ stack }) => {
        const plan = stackOf(lab, stack);
        const cacerts = findResource(plan, SECRET, `${stack}-istio-cacerts`);
        expect(cacerts.inputs.metadata).toMatchObject({ name: "cacerts", namespace: ISTIO_NAMESPACE });
        expect(release(stack, "istio-istiod").dependsOn).toContain(cacerts.urn);
        expect(release(stack, "istio-istiod").dependsOn).toContain(release(stack, "istio-base").urn);
        expect(cacerts.additionalSecretOutputs).toEqual(expect.arrayContaining(["data", "stringData"]));
    });

    test("istiod trusts the lab-services CA, not the mesh root, when it fetches the issuer's JWKS (top-level Helm value, not pilot.*)", () => {
        const servicesCa = stackOf(lab, "comp2").outputs.labServicesCaCert.value;
        expect(mockCertName(servicesCa)).toBe("MOCK-CERT(SelfSignedCert/comp2-lab-services-ca-cert)");
        for (const { stack } of STACKS) {
            const v = values(release(stack, "istio-istiod"));
            expect(v.jwksResolverExtraRootCA).toBe(servicesCa);
            expect(v.jwksResolverExtraRootCA).not.toBe(stackOf(lab, "comp2").outputs.rootCaCert.value);
            expect(v.pilot).toBeUndefined();
        }
    });
});

/** The `spire` injection template the stack gives istiod. */
const spireTemplate = (stack: string) =>
    values(release(stack, "istio-istiod")).sidecarInjectorWebhook.templates.spire as string;

/** The spire template as istiod renders it, for classic (containers) or native (initContainers) sidecars. */
function renderSpireTemplate(template: string, native: boolean): any {
    const lines = template.split("\n").slice(1); // the first line only sets $native
    let keep = true;
    const out: string[] = [];
    for (const line of lines) {
        const directive = /^\s*\{\{-? *(if \$native|else|end) *\}\}\s*$/.exec(line);
        if (directive?.[1] === "if $native") keep = native;
        else if (directive?.[1] === "else") keep = !native;
        else if (directive?.[1] === "end") keep = true;
        else if (keep) out.push(line);
    }
    return YAML.parse(out.join("\n"));
}

describe("the `spire` injection template", () => {
    test("is installed in istiod under sidecarInjectorWebhook.templates, the same in both clusters", () => {
        expect(spireTemplate("comp2")).toMatch(/^\{\{- \$native := /);
        expect(spireTemplate("comp3")).toBe(spireTemplate("comp2"));
    });

    test.each([
        ["classic sidecars (Kubernetes < 1.33)", false, "containers"],
        ["native sidecars (Kubernetes >= 1.33)", true, "initContainers"],
    ])("for %s: labels the pod for SPIRE and mounts the CSI socket on istio-proxy in %s", (_label, native, list) => {
        const pod = renderSpireTemplate(spireTemplate("comp2"), native as boolean);
        expect(pod.metadata.labels[SPIRE_MANAGED_LABEL]).toBe("true");
        const other = list === "containers" ? "initContainers" : "containers";
        expect(pod.spec[other]).toBeUndefined();
        expect(pod.spec[list as string]).toEqual([
            {
                name: "istio-proxy",
                volumeMounts: [
                    { name: "workload-socket", mountPath: "/run/secrets/workload-spiffe-uds", readOnly: true },
                ],
            },
        ]);
        expect(pod.spec.volumes).toEqual([
            { name: "workload-socket", csi: { driver: "csi.spiffe.io", readOnly: true } },
        ]);
    });

    test("decides native mode as istiod's own sidecar template does", () => {
        expect(spireTemplate("comp2").split("\n")[0]).toContain(
            'index .ObjectMeta.Annotations `sidecar.istio.io/nativeSidecar` | default (printf "%t" .NativeSidecars)',
        );
    });
});

describe("gateways: fixed addresses and the SPIFFE socket", () => {
    test.each(STACKS)("$stack: both gateways mount csi.spiffe.io on the proxy and wait for the socket", ({ stack }) => {
        for (const r of gatewayReleases(stack)) {
            const v = values(r);
            expect(v.volumes).toEqual([{ name: "workload-socket", csi: { driver: "csi.spiffe.io", readOnly: true } }]);
            expect(v.volumeMounts).toEqual([
                { name: "workload-socket", mountPath: "/run/secrets/workload-spiffe-uds", readOnly: true },
            ]);
            const [wait] = v.initContainers;
            expect(wait.volumeMounts).toEqual(v.volumeMounts);
            expect(wait.command.join(" ")).toContain("-S /run/secrets/workload-spiffe-uds/socket");
            // The proxy image from the hub istiod runs and injects from (its global.hub), at the chart version.
            const hub = values(release(stack, "istio-istiod")).global.hub;
            expect(hub).toBe("registry.istio.io/release");
            expect(wait.image).toBe(`${hub}/proxyv2:${r.inputs.version}`);
        }
    });

    test.each(STACKS)(
        "$stack: both gateways are LoadBalancers at their MetalLB address, externalTrafficPolicy Cluster",
        ({ stack }) => {
            const lb = rawConfig(stack).metallb as { ingressAddress: string; eastWestAddress: string };
            const [ingress, eastWest] = gatewayReleases(stack).map(values);
            for (const [v, address] of [
                [ingress, lb.ingressAddress],
                [eastWest, lb.eastWestAddress],
            ] as const) {
                expect(v.service).toMatchObject({
                    type: "LoadBalancer",
                    annotations: { "metallb.io/loadBalancerIPs": address, "metallb.io/address-pool": METALLB_POOL },
                    externalTrafficPolicy: "Cluster",
                });
            }
            // The ingress's ports are its own (test/ingress-tls.test.ts); the east-west gateway keeps the chart's.
            expect(Object.keys(eastWest.service).sort()).toEqual(["annotations", "externalTrafficPolicy", "type"]);
            expect(stackOf(lab, stack).outputs.eastWestAddress).toEqual({ value: lb.eastWestAddress, secret: false });
        },
    );

    test.each(STACKS)("$stack: the releases are named as the layers agree, and istiod comes first", ({ stack }) => {
        const [ingress, eastWest] = gatewayReleases(stack);
        expect([ingress.inputs.name, values(ingress).name]).toEqual([INGRESS_GATEWAY, INGRESS_GATEWAY]);
        expect([eastWest.inputs.name, values(eastWest).name]).toEqual([EAST_WEST_GATEWAY, EAST_WEST_GATEWAY]);
        for (const r of [ingress, eastWest]) expect(r.dependsOn).toContain(release(stack, "istio-istiod").urn);
    });
});

describe("EastWestGateway: labels and selectors that must match", () => {
    const crossNetwork = (stack: string) =>
        findResource(
            stackOf(lab, stack),
            "kubernetes:networking.istio.io/v1:Gateway",
            `${stack}-eastwest-cross-network`,
        );

    test.each(STACKS)(
        "$stack: the east-west gateway's pod labels match the cross-network Gateway's selector",
        ({ stack }) => {
            const selector = (crossNetwork(stack).inputs.spec as { selector: Record<string, string> }).selector;
            expect(selector).toEqual({ app: "istio-eastwestgateway", istio: "eastwestgateway" });
            const pod = gatewayRenderedLabels(values(release(stack, "eastwest-release")) as GatewayLabelValues).pod;
            expect(pod).toMatchObject(selector);
        },
    );

    test("a release under another name would no longer match the selector (the check can fail)", () => {
        const renamed = gatewayRenderedLabels({ name: "eastwest", networkGateway: "network1" }).pod;
        expect(renamed).not.toMatchObject(gatewaySelectorLabels(EAST_WEST_GATEWAY));
        const relabelled = gatewayRenderedLabels({ name: EAST_WEST_GATEWAY, labels: { istio: "ew" } }).pod;
        expect(relabelled).not.toMatchObject(gatewaySelectorLabels(EAST_WEST_GATEWAY));
    });

    test.each(STACKS)("$stack: pods and Service carry the network istiod is on ($network)", ({ stack, network }) => {
        const v = values(release(stack, "eastwest-release"));
        expect(v.networkGateway).toBe(network);
        const rendered = gatewayRenderedLabels(v as GatewayLabelValues);
        expect(rendered.pod[NETWORK_LABEL]).toBe(values(release(stack, "istio-istiod")).global.network);
        expect(rendered.service[NETWORK_LABEL]).toBe(network);
        // The chart's networkGatewayPorts (15021, 15443, 15012, 15017) apply only when service.ports is not set.
        expect(v.service.ports).toBeUndefined();
    });

    test.each(STACKS)("$stack: the ingress gateway's pods carry the selector policies use", ({ stack }) => {
        const pod = gatewayRenderedLabels(values(release(stack, "istio-ingress")) as GatewayLabelValues).pod;
        expect(pod).toMatchObject({ app: "istio-ingressgateway", istio: "ingressgateway" });
        expect(pod[NETWORK_LABEL]).toBeUndefined();
    });

    test.each(STACKS)("$stack: cross-network-gateway passes through mTLS on 15443 for *.local", ({ stack }) => {
        const gw = crossNetwork(stack);
        expect(gw.inputs).toMatchObject({
            apiVersion: "networking.istio.io/v1",
            kind: "Gateway",
            metadata: { name: "cross-network-gateway", namespace: ISTIO_NAMESPACE },
        });
        expect((gw.inputs.spec as { servers: unknown[] }).servers).toEqual([
            {
                port: { number: 15443, name: "tls", protocol: "TLS" },
                tls: { mode: "AUTO_PASSTHROUGH" },
                hosts: ["*.local"],
            },
        ]);
        expect(gw.dependsOn).toContain(release(stack, "istio-istiod").urn);
    });
});

describe("remote secrets across stacks", () => {
    test.each(STACKS)(
        "$stack exports a reader kubeconfig of $cluster, as a secret, for the host's API server",
        ({ stack, cluster }) => {
            const out = stackOf(lab, stack).outputs.remoteSecret;
            expect(out.secret).toBe(true);
            const { clusterName, kubeconfig } = out.value as { clusterName: string; kubeconfig: string };
            expect(clusterName).toBe(cluster);
            const kc = YAML.parse(kubeconfig);
            expect(kc["current-context"]).toBe(cluster);
            expect(kc.contexts).toMatchObject([{ name: cluster, context: { cluster, user: cluster } }]);
            // The host's management address, which the peer's istiod can reach: never 127.0.0.1 or kubernetes.default.svc.
            expect(kc.clusters[0].cluster.server).toBe(
                `https://${(rawConfig(stack).host as { address: string }).address}:6443`,
            );
            expect(kc.clusters[0].cluster.server).toMatch(/^https:\/\/10\.5\.0\.[34]:6443$/);
            expect(
                mockCertName(Buffer.from(kc.clusters[0].cluster["certificate-authority-data"], "base64").toString()),
            ).toMatch(/^MOCK-CERT\(/);
            expect(kc.users).toEqual([
                { name: cluster, user: { token: `MOCK-TOKEN(Secret/${stack}-istio-reader-token)` } },
            ]);
        },
    );

    test.each(STACKS)(
        "$stack: the reader token is a long-lived token Secret of our own reader account, made after its bindings",
        ({ stack }) => {
            const plan = stackOf(lab, stack);
            const token = findResource(plan, SECRET, `${stack}-istio-reader-token`);
            expect(token.inputs).toMatchObject({
                type: "kubernetes.io/service-account-token",
                metadata: {
                    name: "zta-istio-remote-reader-token",
                    namespace: ISTIO_NAMESPACE,
                    annotations: { "kubernetes.io/service-account.name": "zta-istio-remote-reader" },
                },
            });
            expect(token.dependsOn).toEqual(
                expect.arrayContaining([
                    findResource(plan, CLUSTER_ROLE_BINDING, `${stack}-istio-reader-binding`).urn,
                    findResource(plan, ROLE_BINDING, `${stack}-istio-reader-mesh-config-binding`).urn,
                ]),
            );
            expect(token.additionalSecretOutputs).toContain("data");
            expect(
                findResource(plan, "kubernetes:core/v1:ServiceAccount", `${stack}-istio-reader-account`).inputs
                    .metadata,
            ).toEqual({ name: "zta-istio-remote-reader", namespace: ISTIO_NAMESPACE });
        },
    );

    test.each(STACKS)(
        "$stack installs $peer's remote secret, labelled and annotated as istioctl's",
        ({ stack, peer }) => {
            const secrets = resourcesOfType(stackOf(lab, stack), SECRET).filter(
                (r) => (r.inputs.metadata as { labels?: object }).labels,
            );
            expect(secrets).toHaveLength(1);
            expect(secrets[0].inputs.metadata).toEqual({
                name: `istio-remote-secret-${peer}`,
                namespace: ISTIO_NAMESPACE,
                labels: { "istio/multiCluster": "true" },
                annotations: { "networking.istio.io/cluster": peer },
            });
            expect(secrets[0].inputs.stringData).toBe("[secret]");
        },
    );

    test("no token reaches plan/, in plain text or base64, and a leaked one is refused", () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "zta-istio-plan-"));
        for (const plan of lab.stacks) writePlan(out, plan);
        const written = lab.stacks
            .map((p) => fs.readFileSync(path.join(out, p.stack, "resources.json"), "utf8"))
            .join("");
        expect(written).toContain("zta-istio-remote-reader-token");
        expect(written).not.toMatch(/MOCK-TOKEN|TU9DSy1UT0tF/);
        const leaky = { ...stackOf(lab, "comp2") };
        leaky.resources = [
            ...leaky.resources,
            { ...leaky.resources[0], inputs: { data: { token: Buffer.from("MOCK-TOKEN(x)").toString("base64") } } },
        ];
        expect(() => writePlan(fs.mkdtempSync(path.join(os.tmpdir(), "zta-leak-")), leaky)).toThrow(
            /secret material would be written/,
        );
    });

    test("the API server must be one the peer can reach", () => {
        expect(unreachableApiServerProblem("https://10.5.0.3:6443")).toBeUndefined();
        expect(unreachableApiServerProblem("https://127.0.0.1:6443")).toMatch(/loopback.*management address/);
        expect(unreachableApiServerProblem("https://localhost:6443")).toMatch(/loopback/);
        expect(unreachableApiServerProblem("https://kubernetes.default.svc")).toMatch(/in-cluster name/);
        expect(unreachableApiServerProblem("http://10.5.0.3:6443")).toMatch(/not an https/);
        expect(() => readerKubeconfig("cluster1", "https://127.0.0.1:6443", "Q0E=", "t")).toThrow(/cluster1.*loopback/);
    });
});

describe("a remote secret opens only what a peer's istiod reads (istiod 1.30.3, multi-primary)", () => {
    const READER = { kind: "ServiceAccount", name: "zta-istio-remote-reader", namespace: ISTIO_NAMESPACE };
    type Rule = { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] };
    type Binding = {
        metadata: { name: string; namespace?: string };
        roleRef: { kind: string; name: string };
        subjects: (typeof READER)[];
    };

    /** Every binding in the plan that names the reader, with the rules of the role it grants. */
    function readerGrants(stack: string): { binding: Binding; rules: Rule[] }[] {
        const plan = stackOf(lab, stack);
        const bindings = [...resourcesOfType(plan, CLUSTER_ROLE_BINDING), ...resourcesOfType(plan, ROLE_BINDING)].map(
            (r) => r.inputs as unknown as Binding,
        );
        return bindings
            .filter((b) =>
                b.subjects.some(
                    (s) => s.kind === READER.kind && s.name === READER.name && s.namespace === READER.namespace,
                ),
            )
            .map((binding) => {
                const roles = resourcesOfType(plan, binding.roleRef.kind === "ClusterRole" ? CLUSTER_ROLE : ROLE)
                    .map((r) => r.inputs as { metadata: { name: string; namespace?: string }; rules: Rule[] })
                    .filter(
                        (r) =>
                            r.metadata.name === binding.roleRef.name &&
                            r.metadata.namespace === binding.metadata.namespace,
                    );
                expect(roles).toHaveLength(1);
                return { binding, rules: roles[0].rules };
            });
    }

    test.each(STACKS)(
        "$stack: the exported token's account is bound to our ClusterRole and the istio-system Role, nothing else",
        ({ stack }) => {
            const grants = readerGrants(stack);
            expect(
                grants.map((g) => [g.binding.roleRef.kind, g.binding.roleRef.name, g.binding.metadata.namespace]),
            ).toEqual([
                ["ClusterRole", "zta-istio-remote-reader", undefined],
                ["Role", "zta-istio-remote-reader", ISTIO_NAMESPACE],
            ]);
            expect(grants[0].rules).toEqual(ISTIOD_REMOTE_READS);
            expect(grants[1].rules).toEqual(MESH_CONFIG_READ);
        },
    );

    test.each(STACKS)(
        "$stack: no rule the reader holds names secrets, a wildcard, or a verb but list and watch",
        ({ stack }) => {
            const rules = readerGrants(stack).flatMap((g) => g.rules);
            expect(rules.length).toBeGreaterThan(0);
            for (const rule of rules) {
                expect(rule.resources).not.toContain("secrets");
                expect([
                    ...rule.resources,
                    ...rule.apiGroups,
                    ...rule.verbs,
                    ...(rule.resourceNames ?? []),
                ]).not.toContain("*");
                expect(rule.verbs.filter((v) => !["list", "watch"].includes(v))).toEqual([]);
            }
        },
    );

    test.each(STACKS)(
        "$stack: asked what verify's remote-secret-scope asks, the planned grants allow every read istiod needs and nothing it must not have",
        ({ stack }) => {
            const grants: RbacGrant[] = readerGrants(stack).map((g) => ({
                rules: g.rules,
                namespace: g.binding.metadata.namespace,
            }));
            expect(MUST_ALLOW.filter((p) => !rbacAllows(grants, p)).map(describeProbe)).toEqual([]);
            expect(MUST_DENY.filter((p) => rbacAllows(grants, p)).map(describeProbe)).toEqual([]);
            // The questions include the CA keys by name, as components/istio.ts and components/spire.ts name them.
            expect(MUST_DENY.map(describeProbe)).toEqual(
                expect.arrayContaining([
                    "get secrets istio-system/cacerts",
                    "get secrets spire-server/spire-upstream-ca",
                    "list secrets",
                ]),
            );
        },
    );

    test.each(STACKS)(
        "$stack: the charts' reader RBAC is off in base and istiod, and nothing names istio-reader-service-account",
        ({ stack }) => {
            expect(values(release(stack, "istio-base")).global.enableReaderRBAC).toBe(false);
            expect(values(release(stack, "istio-istiod")).global.enableReaderRBAC).toBe(false);
            expect(JSON.stringify(stackOf(lab, stack).resources.map((r) => r.inputs))).not.toContain(
                "istio-reader-service-account",
            );
        },
    );
});

describe("the first deployment converges in three runs", () => {
    // The runs of the first deployment (docs/design.md, "The run order"): comp3 alone, comp2 with comp3, comp3 with comp2; then each again.
    const run = (stack: string, deployed?: Record<string, StackOutputs>): Promise<Evaluation> => {
        const file = readStackConfig(labDir, stack);
        return evaluateStack({
            project: "zta-testbed",
            stack,
            config: file.config,
            secretKeys: file.secretKeys,
            deployed,
            program: main,
        });
    };
    const remoteSecrets = (e: Evaluation) =>
        resourcesOfType(e, SECRET)
            .map((r) => (r.inputs.metadata as { name: string }).name)
            .filter((n) => n.startsWith("istio-remote-secret-"));
    const shape = (e: Evaluation) =>
        JSON.stringify(e.resources.map(({ urn, inputs, dependsOn }) => ({ urn, inputs, dependsOn })));
    let runs: Evaluation[];
    beforeAll(async () => {
        // comp3 also reads its own last outputs (the requests comp2 signed): the engine gives a stack its previous run's.
        const first = await run("comp3");
        const second = await run("comp2", { comp3: first.outputs });
        const third = await run("comp3", { comp2: second.outputs, comp3: first.outputs });
        const fourth = await run("comp2", { comp3: third.outputs });
        const fifth = await run("comp3", { comp2: fourth.outputs, comp3: third.outputs });
        runs = [first, second, third, fourth, fifth];
    });

    test("run 1, comp3 alone: exports its remote secret and signing requests without the PKI, istiod left out, and says to run comp2", () => {
        expect(remoteSecrets(runs[0])).toEqual([]);
        expect(runs[0].outputs.remoteSecret.secret).toBe(true);
        expect(runs[0].outputs.signingRequests.secret).toBe(false);
        expect(resourcesOfType(runs[0], RELEASE).map((r) => r.name)).toContain("comp3-istio-base");
        expect(resourcesOfType(runs[0], RELEASE).map((r) => r.name)).not.toContain("comp3-istio-istiod");
        // The ingress certificate is signed with the cluster's Istio intermediate: left out with it.
        expect(runs[0].resources.filter((r) => r.name.startsWith("comp3-istio-ingress-tls-"))).toEqual([]);
        expect(runs[0].warnings.join("\n")).toMatch(
            /peer stack "comp2" has not exported .*run `pulumi up` on "comp2", then here again/,
        );
    });

    test("run 2, comp2: installs cluster2's remote secret, signs cluster2's requests, and says to run comp3 next", () => {
        expect(remoteSecrets(runs[1])).toEqual(["istio-remote-secret-cluster2"]);
        expect(Object.keys(runs[1].outputs.signedIntermediates.value as object).sort()).toEqual([
            "cluster1",
            "cluster2",
        ]);
        expect(runs[1].warnings.join("\n")).toMatch(
            /peer stack "comp3" has not used .*signedIntermediates.*run `pulumi up` on "comp3" next/,
        );
    });

    test("run 3, comp3: installs cluster1's remote secret and istiod, and asks for no further run", () => {
        expect(remoteSecrets(runs[2])).toEqual(["istio-remote-secret-cluster1"]);
        expect(resourcesOfType(runs[2], RELEASE).map((r) => r.name)).toContain("comp3-istio-istiod");
        expect(
            mockCertName(
                findResource(runs[2], "tls:index/locallySignedCert:LocallySignedCert", "comp3-istio-ingress-tls-cert")
                    .inputs.caCertPem,
            ),
        ).toBe("MOCK-CERT(LocallySignedCert/comp2-pki-cluster2-istio-cert)");
        expect(runs[2].warnings.join("\n")).not.toMatch(/run `pulumi up`/);
    });

    test("run 3 keeps everything run 1 declared (the remote secret it exported does not change)", () => {
        const names = (e: Evaluation) => e.resources.map((r) => r.urn);
        expect(names(runs[0]).filter((u) => !names(runs[2]).includes(u))).toEqual([]);
        expect(runs[2].outputs.remoteSecret).toEqual(runs[0].outputs.remoteSecret);
        expect(runs[2].outputs.signingRequests).toEqual(runs[0].outputs.signingRequests);
    });

    test("converged: a further run of each stack declares exactly what its last run did, and asks for no run", () => {
        expect(shape(runs[3])).toBe(shape(runs[1]));
        expect(shape(runs[4])).toBe(shape(runs[2]));
        for (const e of [runs[3], runs[4]]) expect(e.warnings.join("\n")).not.toMatch(/run `pulumi up`/);
    });
});

describe("the components with a SPIRE layer, and the secrets they hold", () => {
    // A program of its own: the PKI for two clusters, Istio for cluster2 with a
    // MeshIdentity whose `ready` is a resource standing for the SPIRE layer.
    let e: Evaluation;
    beforeAll(async () => {
        e = await evaluateStack({
            project: "zta-testbed",
            stack: "unit",
            config: {},
            secretKeys: [],
            program: async () => {
                const ca = new ClusterCa("t-ca", { clusterName: "cluster2" });
                const pki = new Pki("t-pki", {
                    trustDomain: "cluster2.zta.lab",
                    sign: [{ cluster: "cluster2", requests: ca.signingRequests }],
                    intermediates: { validityHours: 8760, earlyRenewalHours: 720 },
                });
                const trust = ca.trust(
                    pki.rootCaCert,
                    pki.signedIntermediates.apply((m) => m.cluster2),
                );
                const provider = new k8s.Provider("t-k8s", { kubeconfig: "unused" });
                const spire = new k8s.core.v1.Namespace(
                    "t-spire-layer",
                    { metadata: { name: "spire-server" } },
                    { provider },
                );
                const identity: MeshIdentity = { ready: [spire] };
                const primary = new IstioPrimary(
                    "t-istio",
                    {
                        version: "1.30.3",
                        clusterName: "cluster2",
                        network: "network2",
                        meshId: "mesh1",
                        trustDomain: "cluster2.zta.lab",
                        federation: { peers: [{ trustDomain: "cluster1.zta.lab", rootCaCert: "ROOT-OF-CLUSTER1" }] },
                        ca: { istioCa: trust.intermediates.apply((i) => i.istio) },
                        jwksCaCert: trust.rootCaCert,
                        ingressAddress: "10.5.0.121",
                        ingressTls: { plainHttp: "off" },
                        identity,
                    },
                    { provider },
                );
                new EastWestGateway(
                    "t-eastwest",
                    {
                        version: "1.30.3",
                        hub: primary.hub,
                        namespace: primary.namespace,
                        network: "network2",
                        address: "10.5.0.122",
                        istiod: primary.istiod as k8s.helm.v3.Release,
                        identity,
                    },
                    { provider },
                );
                const remote = new RemoteSecret(
                    "t-remote",
                    {
                        namespace: primary.namespace,
                        peerClusterName: "cluster1",
                        remoteSecret: pulumi.secret({ clusterName: "cluster1", kubeconfig: "KUBECONFIG-OF-CLUSTER1" }),
                    },
                    { provider },
                );
                return { cacerts: primary.cacerts?.stringData, root: pki.rootCaCert, remote: remote.secret.stringData };
            },
        });
    });
    const find = (type: string, name: string) => findResource(e, type, name);

    test("both gateways are created only after the SPIRE layer is ready", () => {
        const spire = find("kubernetes:core/v1:Namespace", "t-spire-layer").urn;
        expect(find(RELEASE, "t-istio-ingress").dependsOn).toContain(spire);
        expect(find(RELEASE, "t-eastwest-release").dependsOn).toContain(spire);
        // ...and istiod does not wait for SPIRE: SPIRE's trust and Istio's CA are independent.
        expect(find(RELEASE, "t-istio-istiod").dependsOn).not.toContain(spire);
    });

    test("cacerts holds exactly istiod's four plugged-in CA files, chained to the lab root, as a secret", () => {
        expect(e.outputs.cacerts.secret).toBe(true);
        const files = e.outputs.cacerts.value as Record<string, string>;
        expect(Object.keys(files).sort()).toEqual(["ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"]);
        expect(files).not.toHaveProperty("istio-generated");
        const root = e.outputs.root.value as string;
        expect(files["root-cert.pem"]).toBe(root);
        expect(mockCertName(files["ca-cert.pem"])).toBe("MOCK-CERT(LocallySignedCert/t-pki-cluster2-istio-cert)");
        expect(files["ca-key.pem"]).toBe("MOCK-PRIVATE-KEY(PrivateKey/t-ca-istio-key)");
        expect(files["cert-chain.pem"]).toBe(`${files["ca-cert.pem"].trimEnd()}\n${root.trimEnd()}\n`);
    });

    test("federated: the peer's trust domain and root are a caCertificates entry, never a trust domain alias", () => {
        // Aliases would make every principal of a policy stand for the same account in the peer's domain.
        expect(values(find(RELEASE, "t-istio-istiod")).meshConfig).toEqual({
            trustDomain: "cluster2.zta.lab",
            caCertificates: [{ pem: "ROOT-OF-CLUSTER1", trustDomains: ["cluster1.zta.lab"] }],
        });
        // istiod would push `pem` entries to proxies as one flat bundle only with ISTIO_MULTIROOT_MESH (pilot/pkg/xds/pcds.go): it stays off.
        expect(values(find(RELEASE, "t-istio-istiod")).env).toBeUndefined();
    });

    test("federated: every pod injected without an explicit template list gets Istio's sidecar and our spire template (a SPIRE identity)", () => {
        const injector = values(find(RELEASE, "t-istio-istiod")).sidecarInjectorWebhook;
        expect(injector.defaultTemplates).toEqual(["sidecar", "spire"]);
        expect(Object.keys(injector.templates)).toEqual(["spire"]);
    });

    test("the remote secret's only key is the peer's cluster name, and it stays secret", () => {
        expect(e.outputs.remote.secret).toBe(true);
        expect(e.outputs.remote.value).toEqual({ cluster1: "KUBECONFIG-OF-CLUSTER1" });
    });
});
