// SPIRE as an operator would check it: what is installed in which order, that
// its trust domain and cluster name are the mesh's, which pods get an identity
// and with which ID, that the upstream CA stays secret and is really used as an
// intermediate, and what the federated trust model adds.
import { X509Certificate } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { evaluateStack } from "../offline/engine/evaluate";
import { LabPlan, readStackConfig, StackPlan } from "../offline/planner/lab";
import { spiffeIdTemplateProblems, validateSpiffeIdTemplate } from "../components/spiffe-id";
import { SpireServer } from "../components/spire";
import { spiffeBundle } from "../components/spire-federation";
import { main } from "../stacks/main";
import { byoLabDir, findResource, labDirWith, planOf, rawConfig, resourcesOfType, stackOf } from "./helpers";

const SPIFFE_ID = "kubernetes:spire.spiffe.io/v1alpha1:ClusterSPIFFEID";
const FEDERATED_DOMAIN = "kubernetes:spire.spiffe.io/v1alpha1:ClusterFederatedTrustDomain";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const SECRET = "kubernetes:core/v1:Secret";
const SERVICE = "kubernetes:core/v1:Service";
const NAMESPACE = "kubernetes:core/v1:Namespace";
const STACKS = [
    ["comp2", "cluster1"],
    ["comp3", "cluster2"],
] as const;

// A lab-shaped CA certificate (no key anywhere): the offline plan's certificates are labelled mocks, not PEM.
const FIXTURE_ROOT_PEM = `-----BEGIN CERTIFICATE-----
MIIDWzCCAkOgAwIBAgIUYCLvvdpINnTb8APp1PGMlN2gGrMwDQYJKoZIhvcNAQEL
BQAwNTEYMBYGA1UEAwwPZml4dHVyZSByb290IENBMRkwFwYDVQQKDBB6dGEtdGVz
dGJlZCB0ZXN0MB4XDTI2MTEyMzE2NDQxNFoXDTM2MTEyMDE2NDQxNFowNTEYMBYG
A1UEAwwPZml4dHVyZSByb290IENBMRkwFwYDVQQKDBB6dGEtdGVzdGJlZCB0ZXN0
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsyLRkLkEnocIiSEE9Lkk
vigteqb/QlBzYI/KOkJtBsLAwCpKPMBBVM02SNNWgJXMSym6cRchRRh6k5xajgty
EQDmjGaN2c4tJ8251aR4VGiXWgoFiQUAw7ifulCU0qqH7EHn/qECP6SoKcAqK/f9
V9N4zwPokl/2y6K5NNiy5F0uHLBwlJJRQ6JhdXl2hbqMseuJj3TRHflPOUKTsCz7
4DXVm15ut9syd9yCb/A5MmMIzAnbBskuNR3YZVgqWHX9txJYnm+A5S0qziX/tBlA
M66FBWiTuDjK0ZP6zA0ydMfZS2qxm/00P8Xv6YNEf6DUJWoTgLyurWfpuutcCsHe
5QIDAQABo2MwYTAdBgNVHQ4EFgQUpZSlZxxF07f4N0FXIjqlHt36YB0wHwYDVR0j
BBgwFoAUpZSlZxxF07f4N0FXIjqlHt36YB0wDwYDVR0TAQH/BAUwAwEB/zAOBgNV
HQ8BAf8EBAMCAQYwDQYJKoZIhvcNAQELBQADggEBAJgRvFbH4CQXm/+aWggUPJOM
1BtIOBFnIUaG8wIuLaQ6UP2pvgLk1UY4fmcyXaft8bRAt29Vh2ph06mm59C+iJoP
Ewe2RN1q2dy8YijS6ocJ5KP8W+fPO7oMoCmYT6iDA4wrG32TAlqhUlWqtbk3duq3
uduuNCnU3ysgJwzuSvOevIadKDg0jC+SE9K6/7yhniXTb1UkAzIdUUCYnTX1QmOS
q+M/hUG4nOt+WU8WhPduZVA9pa5ZTvouYh3kjcwdR9h2l7hE5lq+HT7h79PK7TXt
swriHsW69+UIB58XGwsk0YeB93esgAMl5hM5Ws2hN1gBIWex1FhCqESZ2e64mR4=
-----END CERTIFICATE-----
`;

/** Both stacks in the federated trust model, one trust domain per cluster. */
function federatedLabDir(sameTrustDomain = false): string {
    return labDirWith((stack, raw) => {
        raw.mesh.trustModel = "federated";
        raw.cluster.trustDomain = sameTrustDomain
            ? "zta.lab"
            : `${stack === "comp2" ? "cluster1" : "cluster2"}.zta.lab`;
    });
}

let lab: LabPlan;
let federated: LabPlan;
beforeAll(async () => {
    lab = await planOf();
    federated = await planOf(federatedLabDir());
});

const chart = (plan: StackPlan, stack: string) => findResource(plan, RELEASE, `${stack}-spire-chart`);
const crds = (plan: StackPlan, stack: string) => findResource(plan, RELEASE, `${stack}-spire-crds`);
const values = (plan: StackPlan, stack: string) => chart(plan, stack).inputs.values as any;
const ids = (plan: StackPlan) =>
    new Map(
        resourcesOfType(plan, SPIFFE_ID).map((r) => [(r.inputs.metadata as any).name as string, r.inputs.spec as any]),
    );

describe.each(STACKS)("%s (%s)", (stack, cluster) => {
    const plan = () => stackOf(lab, stack);

    test("the CNI and the CRD chart come before the spire chart, and the chart before every ClusterSPIFFEID", () => {
        const p = plan();
        expect(crds(p, stack).inputs).toMatchObject({
            chart: "spire-crds",
            version: "0.6.0",
            repositoryOpts: { repo: "https://spiffe.github.io/helm-charts-hardened" },
        });
        expect(chart(p, stack).inputs).toMatchObject({
            chart: "spire",
            version: "0.30.0",
            name: "spire",
            namespace: "spire-server",
        });
        expect(chart(p, stack).dependsOn).toContain(crds(p, stack).urn);
        // SPIRE's pods wait for the CNI.
        expect(chart(p, stack).dependsOn).toContain(findResource(p, RELEASE, `${stack}-cilium-release`).urn);
        const registrations = resourcesOfType(p, SPIFFE_ID);
        expect(registrations).toHaveLength(3);
        for (const id of registrations)
            expect(id.dependsOn).toEqual(expect.arrayContaining([crds(p, stack).urn, chart(p, stack).urn]));
    });

    test("both gateways are created after the SPIRE chart and every ClusterSPIFFEID (they cannot become ready without their SVID)", () => {
        const p = plan();
        const before = [chart(p, stack).urn, ...resourcesOfType(p, SPIFFE_ID).map((r) => r.urn)];
        for (const gateway of [`${stack}-istio-ingress`, `${stack}-eastwest-release`]) {
            expect(findResource(p, RELEASE, gateway).dependsOn).toEqual(expect.arrayContaining(before));
        }
    });

    test("the upstream CA Secret exists before the server, which reads it by the name the chart is given", () => {
        const p = plan();
        const secret = findResource(p, SECRET, `${stack}-spire-upstream-ca`);
        expect(chart(p, stack).dependsOn).toContain(secret.urn);
        expect(values(p, stack)["spire-server"].upstreamAuthority.disk.secret.name).toBe(
            (secret.inputs.metadata as any).name,
        );
        expect((secret.inputs.metadata as any).namespace).toBe("spire-server");
    });

    test("SPIRE's trust domain is istiod's meshConfig.trustDomain (both mesh.trustDomain) and clusterName is this cluster's", () => {
        const spire = values(plan(), stack).global.spire;
        const istiod = findResource(plan(), RELEASE, `${stack}-istio-istiod`).inputs.values as any;
        expect(spire.trustDomain).toBe(istiod.meshConfig.trustDomain);
        expect(spire.trustDomain).toBe((rawConfig(stack).mesh as any).trustDomain);
        expect(spire.trustDomain).not.toBe("example.org");
        expect(spire.clusterName).toBe(cluster);
        // strictMode (part of the recommendations) makes the chart refuse its example values.
        expect(spire.recommendations).toEqual({ enabled: true });
        expect(spire.caSubject.country).not.toBe("ARPA");
    });

    test("the server's config gets bundle_file_path: disk authority on, our Secret (create false), and a non-empty bundle placeholder", () => {
        // charts/spire-server/templates/configmap.yaml: `{{- if ne .secret.data.bundle "" }} bundle_file_path: ...`
        const disk = values(plan(), stack)["spire-server"].upstreamAuthority.disk;
        expect(disk.enabled).toBe(true);
        expect(disk.secret.create).toBe(false);
        expect(typeof disk.secret.data.bundle).toBe("string");
        expect(disk.secret.data.bundle.length).toBeGreaterThan(0);
        // ...and nothing else in data: with create false the chart would ignore certificate/key anyway.
        expect(Object.keys(disk.secret.data)).toEqual(["bundle"]);
    });

    test("the gateways' registrations select the istio-system pods labelled by the gateway chart, with their service accounts", () => {
        const byName = ids(plan());
        for (const [release, label] of [
            ["istio-ingressgateway", "ingressgateway"],
            ["istio-eastwestgateway", "eastwestgateway"],
        ]) {
            const spec = byName.get(release);
            expect(spec.namespaceSelector).toEqual({ matchLabels: { "kubernetes.io/metadata.name": "istio-system" } });
            expect(spec.podSelector).toEqual({ matchLabels: { istio: label } });
            expect(spec.workloadSelectorTemplates).toEqual(["k8s:ns:istio-system", `k8s:sa:${release}`]);
        }
    });

    test('any pod labelled spiffe.io/spire-managed-identity: "true" gets an identity, selected by its namespace and service account', () => {
        const spec = ids(plan()).get("spire-managed-identity");
        expect(spec.podSelector).toEqual({ matchLabels: { "spiffe.io/spire-managed-identity": "true" } });
        expect(spec.namespaceSelector).toBeUndefined();
        expect(spec.workloadSelectorTemplates).toEqual([
            "k8s:ns:{{ .PodMeta.Namespace }}",
            "k8s:sa:{{ .PodSpec.ServiceAccountName }}",
        ]);
    });

    test("every registration has Istio's ns/sa ID and the controller manager's class, so it is not ignored", () => {
        const cm = values(plan(), stack)["spire-server"].controllerManager;
        expect(cm.enabled).toBe(true);
        expect(cm.watchClassless).toBe(false);
        expect(cm.className).toMatch(/\S/);
        for (const spec of ids(plan()).values()) {
            expect(spec.spiffeIDTemplate).toBe(
                "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}",
            );
            expect(spec.className).toBe(cm.className);
            expect(spec.federatesWith).toBeUndefined();
        }
    });

    test("the chart's own identities are off: no fallback ID for every pod, no test keys, no OIDC provider", () => {
        const v = values(plan(), stack);
        expect(v["spire-server"].controllerManager.identities.clusterSPIFFEIDs).toEqual({
            default: { enabled: false },
            "test-keys": { enabled: false },
            "oidc-discovery-provider": { enabled: false },
        });
        expect(v["spiffe-oidc-discovery-provider"]).toEqual({ enabled: false });
    });

    test("spire.oidcDiscovery turns on the OIDC discovery provider together with its registration", async () => {
        const withOidc = await planOf(labDirWith((_s, raw) => (raw.spire = { oidcDiscovery: true })));
        const v = values(stackOf(withOidc, stack), stack);
        expect(v["spiffe-oidc-discovery-provider"]).toEqual({ enabled: true });
        expect(v["spire-server"].controllerManager.identities.clusterSPIFFEIDs["oidc-discovery-provider"]).toEqual({
            enabled: true,
        });
        expect(v["spire-server"].controllerManager.identities.clusterSPIFFEIDs.default).toEqual({ enabled: false });
    });

    test("the CSI driver is on as csi.spiffe.io, agents serve Istio's SDS names", () => {
        const v = values(plan(), stack);
        expect(v["spiffe-csi-driver"]).toEqual({ enabled: true, pluginName: "csi.spiffe.io" });
        expect(v["spire-agent"].sds).toEqual({
            enabled: true,
            defaultSVIDName: "default",
            defaultBundleName: "ROOTCA",
            defaultAllBundlesName: "ALL",
        });
    });

    test("the server's datastore and keys are on a local volume of the control-plane node, not an emptyDir", () => {
        const p = plan();
        const persistence = values(p, stack)["spire-server"].persistence;
        // The chart's types (charts/spire-server/values.yaml): pvc, hostPath, emptyDir.
        expect(persistence.type).toBe("pvc");
        expect(persistence.type).not.toBe("emptyDir");
        const volume = findResource(p, "kubernetes:core/v1:PersistentVolume", `${stack}-spire-data`).inputs.spec as any;
        expect(volume.storageClassName).toBe(persistence.storageClass);
        expect(volume.persistentVolumeReclaimPolicy).toBe("Retain");
        // The claim the StatefulSet "spire-server" makes from its volumeClaimTemplate "spire-data".
        expect(volume.claimRef).toEqual({ namespace: "spire-server", name: "spire-data-spire-server-0" });
        expect(volume.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions).toEqual([
            { key: "node-role.kubernetes.io/control-plane", operator: "Exists" },
        ]);
        // The directory exists: HostPrep's prepare step makes it, before the cluster does.
        const prepare = findResource(p, "command:remote:Command", `${stack}-hostprep-prepare`).inputs.create as string;
        expect(prepare.endsWith(` '${volume.local.path}'`)).toBe(true);
        expect(volume.local.path).toBe("/var/lib/zta-testbed/spire-server");
        // The chart installs the server only once the volume is there.
        expect(chart(p, stack).dependsOn).toContain(
            findResource(p, "kubernetes:core/v1:PersistentVolume", `${stack}-spire-data`).urn,
        );
    });

    test("a change of the server's persistence replaces the spire release, deleted first; nothing else of the release does (issue 25)", () => {
        const release = chart(plan(), stack);
        // A StatefulSet's volumeClaimTemplates cannot change in place and Helm patches it: the API
        // server refuses, so a lab whose server ran on an emptyDir could not move to the claim.
        // Replaced instead: `helm uninstall` (the StatefulSet goes), then `helm install`. Deleted
        // first: the new release has the same Helm name and the same objects.
        expect(release.replaceOnChanges).toEqual(['values["spire-server"].persistence']);
        expect(release.deleteBeforeReplace).toBe(true);
        // A plain version upgrade stays an in-place `helm upgrade`, and the CRD chart is never replaced.
        expect(release.replaceOnChanges).not.toContain("version");
        expect(crds(plan(), stack).replaceOnChanges).toEqual([]);
        expect(crds(plan(), stack).deleteBeforeReplace).toBe(false);
    });

    test("the server namespace is Pod Security restricted, the agent/CSI namespace privileged, as the chart's layout puts them", () => {
        const p = plan();
        const labels = (n: string) =>
            (findResource(p, NAMESPACE, `${stack}-spire-${n}-ns`).inputs.metadata as any).labels;
        expect(labels("server")["pod-security.kubernetes.io/enforce"]).toBe("restricted");
        expect(labels("system")["pod-security.kubernetes.io/enforce"]).toBe("privileged");
        expect(values(p, stack).global.spire.namespaces).toEqual({
            server: { name: "spire-server" },
            system: { name: "spire-system" },
        });
    });

    test("the shared trust model declares no federation", () => {
        const p = plan();
        expect(resourcesOfType(p, FEDERATED_DOMAIN)).toEqual([]);
        expect(resourcesOfType(p, SERVICE).filter((s) => s.name.includes("federation"))).toEqual([]);
        expect(values(p, stack)["spire-server"].federation.enabled).toBe(false);
        expect(p.outputs.federation).toBeUndefined();
    });
});

describe("the upstream CA Secret", () => {
    test("is secret in the plan", () => {
        for (const [stack] of STACKS) {
            expect(findResource(stackOf(lab, stack), SECRET, `${stack}-spire-upstream-ca`).inputs.stringData).toBe(
                "[secret]",
            );
        }
    });

    test("holds tls.crt, tls.key and bundle.crt (the files the chart points the disk plugin at), each secret", async () => {
        const evaluation = await evaluateStack({
            project: "zta-testbed",
            stack: "unit",
            config: {},
            secretKeys: [],
            program: async () => {
                const provider = new k8s.Provider("unit-k8s", { kubeconfig: "unused" });
                const files = pulumi.secret({ "tls.crt": "intermediate", "tls.key": "key", "bundle.crt": "root" });
                const server = new SpireServer(
                    "unit-spire",
                    {
                        trustDomain: "zta.lab",
                        clusterName: "unit",
                        versions: { crds: "0.6.0", spire: "0.30.0" },
                        upstreamCa: files,
                    },
                    { provider },
                );
                return { stringData: server.upstreamCa.stringData };
            },
        });
        expect(evaluation.outputs.stringData).toEqual({
            secret: true,
            value: { "tls.crt": "intermediate", "tls.key": "key", "bundle.crt": "root" },
        });
    });
});

describe("the federated trust model", () => {
    const PEERS = [
        ["comp2", "cluster2", "cluster2.zta.lab", "10.5.0.123"],
        ["comp3", "cluster1", "cluster1.zta.lab", "10.5.0.102"],
    ] as const;

    test.each(PEERS)(
        "%s federates with its peer %s: a ClusterFederatedTrustDomain from the peer's exported bundle endpoint",
        (stack, peer, peerDomain, peerAddress) => {
            const p = stackOf(federated, stack);
            const domains = resourcesOfType(p, FEDERATED_DOMAIN);
            expect(domains).toHaveLength(1);
            expect(domains[0].inputs.metadata).toEqual({ name: peer });
            expect(domains[0].inputs.spec).toMatchObject({
                trustDomain: peerDomain,
                bundleEndpointURL: `https://${peerAddress}:8443`,
                bundleEndpointProfile: {
                    type: "https_spiffe",
                    endpointSPIFFEID: `spiffe://${peerDomain}/spire/server`,
                },
                className: values(p, stack)["spire-server"].controllerManager.className,
            });
            // It is what the peer exported, not a guess from this stack's config.
            const other = stackOf(federated, stack === "comp2" ? "comp3" : "comp2");
            expect(other.outputs.federation.value).toMatchObject({
                trustDomain: peerDomain,
                bundleEndpointURL: `https://${peerAddress}:8443`,
            });
            // The controller manager reconciles it, and SVIDs federate only once it exists.
            expect(domains[0].dependsOn).toEqual(expect.arrayContaining([crds(p, stack).urn, chart(p, stack).urn]));
            expect(resourcesOfType(p, SPIFFE_ID).length).toBeGreaterThan(0);
            for (const id of resourcesOfType(p, SPIFFE_ID)) {
                expect(id.dependsOn).toContain(domains[0].urn);
                expect((id.inputs.spec as any).federatesWith).toEqual([peerDomain]);
            }
        },
    );

    test.each(PEERS)("%s exposes its bundle endpoint on its fixed MetalLB address and exports it", (stack) => {
        const p = stackOf(federated, stack);
        const own = rawConfig(stack) as any;
        const address = own.metallb.federationAddress;
        const service = findResource(p, SERVICE, `${stack}-spire-federation`);
        expect(service.inputs.metadata).toMatchObject({
            namespace: "spire-server",
            annotations: { "metallb.io/loadBalancerIPs": address, "metallb.io/address-pool": "lab-pool" },
        });
        // MetalLB hands out the address only once its pool exists.
        const pool = resourcesOfType(p, "kubernetes:metallb.io/v1beta1:IPAddressPool");
        expect(pool).toHaveLength(1);
        expect(service.dependsOn).toContain(pool[0].urn);
        expect(service.inputs.spec).toMatchObject({
            type: "LoadBalancer",
            selector: {
                "app.kubernetes.io/name": "server",
                "app.kubernetes.io/instance": "spire",
                "app.kubernetes.io/component": "server",
            },
            ports: [{ name: "federation", port: 8443, targetPort: "federation", protocol: "TCP" }],
        });
        const td = stack === "comp2" ? "cluster1.zta.lab" : "cluster2.zta.lab";
        expect(p.outputs.federation).toEqual({
            secret: false,
            value: {
                trustDomain: td,
                bundleEndpointURL: `https://${address}:8443`,
                endpointSPIFFEID: `spiffe://${td}/spire/server`,
                trustDomainBundle: expect.any(String),
            },
        });
        // The initial bundle the peer bootstraps from: this trust domain's root, the only X.509 authority.
        const root = new X509Certificate(String(p.outputs.rootCaCert.value));
        expect(
            JSON.parse((p.outputs.federation.value as { trustDomainBundle: string }).trustDomainBundle).keys,
        ).toMatchObject([{ use: "x509-svid", x5c: [root.raw.toString("base64")] }]);
        const v = values(p, stack);
        expect(v["spire-server"].federation).toEqual({ enabled: true, bundleEndpoint: { port: 8443 } });
        // Istio's federation setup: ROOTCA carries every bundle, the federated ones included.
        expect(v["spire-agent"].sds).toMatchObject({ defaultBundleName: "null", defaultAllBundlesName: "ROOTCA" });
    });

    test("a stack whose peer has not exported its endpoint yet declares no ClusterFederatedTrustDomain, and says so", async () => {
        const dir = federatedLabDir();
        const file = readStackConfig(dir, "comp2");
        const alone = await evaluateStack({
            project: "zta-testbed",
            stack: "comp2",
            config: file.config,
            secretKeys: file.secretKeys,
            program: main,
        });
        expect(resourcesOfType(alone as StackPlan, FEDERATED_DOMAIN)).toEqual([]);
        expect(alone.warnings.join("\n")).toMatch(/has not exported .*federation/);
        expect(alone.outputs.federation.value).toMatchObject({ trustDomain: "cluster1.zta.lab" });
    });

    test("one trust domain for both clusters is refused", async () => {
        await expect(planOf(federatedLabDir(true))).rejects.toThrow(
            /federated trust model needs a trust domain per cluster/,
        );
    });
});

describe("the SPIFFE ID template check", () => {
    test("accepts Istio's pattern", () => {
        const istio = "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}";
        expect(spiffeIdTemplateProblems(istio)).toEqual([]);
        expect(() => validateSpiffeIdTemplate(istio)).not.toThrow();
    });

    test.each([
        ["a hard-coded namespace", "spiffe://{{ .TrustDomain }}/ns/istio-system/sa/{{ .PodSpec.ServiceAccountName }}"],
        [
            "the pod name instead of the service account",
            "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodMeta.Name }}",
        ],
        ["no service account segment", "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}"],
        [
            "a path before ns",
            "spiffe://{{ .TrustDomain }}/k8s/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}",
        ],
        ["a fixed trust domain", "spiffe://zta.lab/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}"],
    ])("rejects %s", (_what, template) => {
        expect(spiffeIdTemplateProblems(template).join("\n")).toMatch(
            /Istio requires "spiffe:\/\/\{\{ \.TrustDomain \}\}\/ns\/\{\{ \.PodMeta\.Namespace \}\}\/sa\//,
        );
        expect(() => validateSpiffeIdTemplate(template)).toThrow(/renders as/);
    });
});

describe("the SPIFFE bundle a peer bootstraps from", () => {
    test("is a JWKS with the root as an x509-svid authority, its key parameters and its DER", () => {
        const bundle = JSON.parse(spiffeBundle(FIXTURE_ROOT_PEM));
        expect(bundle.keys).toHaveLength(1);
        const [key] = bundle.keys;
        expect(key).toMatchObject({ use: "x509-svid", kty: "RSA", e: "AQAB" });
        expect(typeof key.n).toBe("string");
        const der = FIXTURE_ROOT_PEM.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
        expect(key.x5c).toEqual([der]);
    });

    test("refuses text that is not a PEM certificate", () => {
        expect(() => spiffeBundle("MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)")).toThrow(/no PEM certificate/);
    });
});

describe("a cluster the lab brings (kubeconfig, no host)", () => {
    test("the server's data goes on a claim of the cluster's default StorageClass, still not an emptyDir", async () => {
        const byo = await planOf(byoLabDir());
        for (const [stack] of STACKS) {
            const p = stackOf(byo, stack);
            expect(values(p, stack)["spire-server"].persistence).toEqual({ type: "pvc", size: "1Gi" });
            expect(resourcesOfType(p, "kubernetes:core/v1:PersistentVolume")).toEqual([]);
        }
    });
});
