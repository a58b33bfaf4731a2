// Each policy of policy/ on a compliant stack, then on one violating mutation
// with the message an operator would read. They run through the plan adapter,
// i.e. the same validate functions the CrossGuard pack serves, with the pack
// config reconciled and validated as the engine does it.
import { SECRET } from "../offline/engine/record";
import { checkResources, PolicyConfigError, reconcileConfig } from "../offline/simulate/policy-plan";
import { PREVIEW_POLICIES } from "../policy/catalog";
import { DEFAULT_ALLOWED_REGISTRIES, helmValueImages, normalizeImage } from "../policy/policies/allowed-registries";
import { gatewayPodLabels } from "../policy/policies/ingress-gateway-jwt";
import {
    compliantStack,
    INGRESS_LABELS,
    LAB_REGISTRY,
    PACK_CONFIG,
    resource,
    urnOf,
    violationsOf,
    withEdit,
} from "./policy-fixtures";

const messages = async (policy: string, stack = compliantStack()) =>
    (await violationsOf(policy, stack)).map((v) => v.message);

test("the compliant fixture stack passes every policy, so each violation below comes from its one mutation", async () => {
    expect(await checkResources(compliantStack(), PACK_CONFIG)).toEqual([]);
});

describe("mTLS", () => {
    test("a PERMISSIVE PeerAuthentication is refused, naming the object", async () => {
        const stack = withEdit("istio-system-default", (i) => (i.spec.mtls.mode = "PERMISSIVE"));
        const found = await violationsOf("peer-authentication-strict", stack);
        expect(found.map((v) => v.message)).toEqual([
            "PeerAuthentication istio-system/default sets mtls.mode PERMISSIVE: plain-text traffic would be accepted; use STRICT (or leave it UNSET to inherit the mesh-wide STRICT)",
        ]);
        expect(found[0].urn).toBe(urnOf("kubernetes:security.istio.io/v1:PeerAuthentication", "istio-system-default"));
        expect(await messages("mesh-wide-mtls-strict", stack)).toEqual([
            "mesh-wide PeerAuthentication istio-system/default has mtls.mode PERMISSIVE: it must be STRICT",
        ]);
    });

    test("a workload PeerAuthentication that disables mTLS on one port is refused", async () => {
        const stack = [
            ...compliantStack(),
            resource("kubernetes:security.istio.io/v1:PeerAuthentication", "legacy", {
                metadata: { name: "legacy", namespace: "apps" },
                spec: {
                    selector: { matchLabels: { app: "legacy" } },
                    mtls: { mode: "STRICT" },
                    portLevelMtls: { "8080": { mode: "DISABLE" } },
                },
            }),
        ];
        expect(await messages("peer-authentication-strict", stack)).toEqual([
            "PeerAuthentication apps/legacy sets portLevelMtls[8080].mode DISABLE: plain-text traffic would be accepted on port 8080; use STRICT",
        ]);
    });

    test("a stack with istiod but no mesh-wide PeerAuthentication is refused: Istio's default is PERMISSIVE", async () => {
        const stack = compliantStack().filter((r) => r.name !== "istio-system-default");
        const found = await violationsOf("mesh-wide-mtls-strict", stack);
        expect(found.map((v) => v.message)).toEqual([
            "istiod release istiod has no mesh-wide PeerAuthentication: declare one named default in istio-system (no selector) with mtls.mode STRICT; Istio's default is PERMISSIVE",
        ]);
        expect(found[0].urn).toBe(urnOf("kubernetes:helm.sh/v3:Release", "istiod"));
    });

    test("a PeerAuthentication with a selector does not count as mesh-wide", async () => {
        const stack = withEdit("istio-system-default", (i) => (i.spec.selector = { matchLabels: { app: "x" } }));
        expect(await messages("mesh-wide-mtls-strict", stack)).toHaveLength(1);
    });

    test("the mesh-wide policy follows meshConfig.rootNamespace", async () => {
        const stack = withEdit("istiod", (i) => (i.values.meshConfig.rootNamespace = "mesh-root"));
        expect(await messages("mesh-wide-mtls-strict", stack)).toEqual([
            expect.stringContaining("declare one named default in mesh-root"),
        ]);
    });
});

describe("JWT at the ingress gateway", () => {
    test("the gateway chart's pod labels are app=<name>, istio=<name without istio->", () => {
        expect(gatewayPodLabels({ name: "istio-ingressgateway", values: {} })).toEqual(INGRESS_LABELS);
        expect(
            gatewayPodLabels({ name: "r", values: { name: "istio-eastwestgateway", labels: { topology: "x" } } }),
        ).toEqual({ topology: "x", app: "istio-eastwestgateway", istio: "eastwestgateway" });
    });

    test("an ingress gateway without a RequestAuthentication is refused", async () => {
        const stack = compliantStack().filter((r) => r.name !== "istio-system-ingress-jwt");
        const found = await violationsOf("ingress-gateway-jwt", stack);
        expect(found.map((v) => v.message)).toEqual([
            "ingress gateway istio-ingressgateway (pods app=istio-ingressgateway,istio=ingressgateway in istio-system) has no RequestAuthentication with jwtRules selecting it: tokens would not be validated",
        ]);
        expect(found[0].urn).toBe(urnOf("kubernetes:helm.sh/v3:Release", "istio-ingressgateway"));
    });

    test("a RequestAuthentication whose selector misses the gateway's pods does not count", async () => {
        const stack = withEdit("istio-system-ingress-jwt", (i) => (i.spec.selector.matchLabels.istio = "ingress"));
        expect(await messages("ingress-gateway-jwt", stack)).toEqual([
            expect.stringContaining("has no RequestAuthentication with jwtRules selecting it"),
        ]);
    });

    test("an ingress gateway without an AuthorizationPolicy is refused: requests without a token would pass", async () => {
        const stack = compliantStack().filter((r) => r.name !== "istio-system-ingress-require-jwt");
        expect(await messages("ingress-gateway-jwt", stack)).toEqual([
            "ingress gateway istio-ingressgateway (pods app=istio-ingressgateway,istio=ingressgateway in istio-system) has no AuthorizationPolicy selecting it: requests without a token would pass",
        ]);
    });

    test("an AuthorizationPolicy that never requires a request principal is refused", async () => {
        const stack = withEdit(
            "istio-system-ingress-require-jwt",
            (i) => (i.spec.rules = [{ to: [{ operation: { paths: ["/*"] } }] }]),
        );
        expect(await messages("ingress-gateway-jwt", stack)).toEqual([
            "ingress gateway istio-ingressgateway (pods app=istio-ingressgateway,istio=ingressgateway in istio-system): AuthorizationPolicy istio-system/ingress-require-jwt never requires a request principal (requestPrincipals/notRequestPrincipals or a request.auth condition): requests without a token would pass",
        ]);
    });

    test("the DENY-without-principal form of the Istio docs is accepted", async () => {
        const stack = withEdit("istio-system-ingress-require-jwt", (i) => {
            i.spec.action = "DENY";
            i.spec.rules = [{ from: [{ source: { notRequestPrincipals: ["*"] } }] }];
        });
        expect(await messages("ingress-gateway-jwt", stack)).toEqual([]);
    });

    test("the east-west (network) gateway is not an ingress and needs no JWT", async () => {
        const stack = compliantStack().filter((r) => r.name !== "istio-ingressgateway");
        expect(await messages("ingress-gateway-jwt", stack)).toEqual([]);
    });
});

describe("identity", () => {
    test("SPIRE's trust domain differing from Istio's is refused", async () => {
        const stack = withEdit("spire", (i) => (i.values.global.spire.trustDomain = "example.org"));
        const found = await violationsOf("trust-domain-aligned", stack);
        expect(found.map((v) => v.message)).toEqual([
            "SPIRE release spire has trust domain example.org (values.global.spire.trustDomain) but istiod release istiod has zta.lab (values.meshConfig.trustDomain): they must be equal",
        ]);
        expect(found[0].urn).toBe(urnOf("kubernetes:helm.sh/v3:Release", "spire"));
    });

    test("an unset Istio trust domain is the chart default cluster.local, which does not match", async () => {
        const stack = withEdit("istiod", (i) => delete i.values.meshConfig.trustDomain);
        expect(await messages("trust-domain-aligned", stack)).toEqual([
            expect.stringContaining("istiod release istiod has cluster.local"),
        ]);
    });

    test("a ClusterSPIFFEID whose template does not yield /ns/<ns>/sa/<sa> is refused", async () => {
        const stack = withEdit(
            "comp2-gateways",
            (i) => (i.spec.spiffeIDTemplate = "spiffe://{{ .TrustDomain }}/k8s/{{ .PodMeta.Name }}"),
        );
        expect(await messages("spiffe-id-template", stack)).toEqual([
            'ClusterSPIFFEID istio-gateways has spiffeIDTemplate "spiffe://{{ .TrustDomain }}/k8s/{{ .PodMeta.Name }}": it must be spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }} so identities have Istio\'s /ns/<ns>/sa/<sa> form',
        ]);
    });

    test("the SPIFFE ID template may be written without spaces inside the braces", async () => {
        const stack = withEdit(
            "comp2-gateways",
            (i) =>
                (i.spec.spiffeIDTemplate =
                    "spiffe://{{.TrustDomain}}/ns/{{.PodMeta.Namespace}}/sa/{{.PodSpec.ServiceAccountName}}"),
        );
        expect(await messages("spiffe-id-template", stack)).toEqual([]);
    });
});

describe("secrets and the root CA", () => {
    test("a Kubernetes Secret with a plain data value is refused, naming the key", async () => {
        const stack = withEdit("comp2-remote", (i) => (i.stringData = { cluster2: SECRET, token: "abc" }));
        expect(await messages("secret-inputs", stack)).toEqual([
            "Secret comp2-remote passes stringData token as plain values: wrap them in pulumi.secret()",
        ]);
    });

    test("a remote Command whose SSH key is not a secret is refused", async () => {
        const stack = withEdit(
            "comp2-kubeadm-init",
            (i) => (i.connection.privateKey = "unit-test-ssh-key (not a real key)"),
        );
        expect(await messages("secret-inputs", stack)).toEqual([
            "Command comp2-kubeadm-init passes connection.privateKey as a plain value: it must be a secret (pulumi.secret / requireSecret)",
        ]);
    });

    test("a whole secret connection counts as a secret key", async () => {
        const stack = withEdit("comp2-kubeadm-init", (i) => (i.connection = SECRET));
        expect(await messages("secret-inputs", stack)).toEqual([]);
    });

    test("a Kubernetes provider with a plain kubeconfig is refused", async () => {
        const stack = withEdit("comp2-k8s", (i) => (i.kubeconfig = "apiVersion: v1\nkind: Config"));
        expect(await messages("secret-inputs", stack)).toEqual([
            "kubernetes comp2-k8s passes kubeconfig as a plain value: it must be a secret (pulumi.secret / requireSecret)",
        ]);
    });

    test("an unprotected root CA certificate or key is refused", async () => {
        const certOpen = withEdit("comp2-pki-root-cert", (_i, r) => (r.protect = false));
        expect(await messages("root-ca-protected", certOpen)).toEqual([
            "root CA certificate comp2-pki-root-cert is not protected: set protect: true, replacing it invalidates every certificate under it",
        ]);
        const keyOpen = withEdit("comp2-pki-root-key", (_i, r) => (r.protect = false));
        const found = await violationsOf("root-ca-protected", keyOpen);
        expect(found.map((v) => v.message)).toEqual([
            "root CA private key comp2-pki-root-key (of comp2-pki-root-cert) is not protected: set protect: true, replacing it invalidates every certificate under it",
        ]);
        expect(found[0].urn).toBe(urnOf("tls:index/privateKey:PrivateKey", "comp2-pki-root-key"));
    });
});

describe("one root CA in the lab", () => {
    const secondRoot = () =>
        resource(
            "tls:index/selfSignedCert:SelfSignedCert",
            "comp2-other-root",
            { isCaCertificate: true, privateKeyPem: SECRET },
            { protect: true },
        );
    const withPeers = (trustModel: string, peers: { stack: string; pkiRole: string }[]) => ({
        ...PACK_CONFIG,
        "single-root-ca": { trustModel, peers },
    });

    test("a second self-signed CA certificate in the stack is refused, naming both", async () => {
        const found = await violationsOf("single-root-ca", [...compliantStack(), secondRoot()]);
        expect(found.map((v) => v.message)).toEqual([
            "second root CA comp2-other-root in this stack (the first is comp2-pki-root-cert): the lab has one root CA; issue further CAs as intermediates signed by it",
        ]);
        expect(found[0].urn).toBe(urnOf("tls:index/selfSignedCert:SelfSignedCert", "comp2-other-root"));
    });

    test("the lab-services CA is no second root while it signs leaves only; signing an intermediate makes it one", async () => {
        const component = resource("zta:pki:LabServicesCa", "comp2-lab-services-ca", {}, { custom: false });
        const servicesCa = resource(
            "tls:index/selfSignedCert:SelfSignedCert",
            "comp2-lab-services-ca-cert",
            { isCaCertificate: true, privateKeyPem: SECRET },
            { protect: true, parent: component.urn },
        );
        const signedBy = (name: string, isCaCertificate: boolean) =>
            resource(
                "tls:index/locallySignedCert:LocallySignedCert",
                name,
                { isCaCertificate, caPrivateKeyPem: SECRET },
                { dependsOn: [servicesCa.urn] },
            );
        expect(
            await violationsOf("single-root-ca", [
                ...compliantStack(),
                component,
                servicesCa,
                signedBy("comp2-registry-cert", false),
            ]),
        ).toEqual([]);
        const found = await violationsOf("single-root-ca", [
            ...compliantStack(),
            component,
            servicesCa,
            signedBy("comp2-registry-cert", false),
            signedBy("comp2-rogue-intermediate", true),
        ]);
        expect(found.map((v) => v.message)).toEqual([
            expect.stringMatching(
                /^second root CA comp2-lab-services-ca-cert in this stack \(the first is comp2-pki-root-cert\)/,
            ),
        ]);
    });

    test("a self-signed certificate that is not a CA does not count", async () => {
        const leaf = resource("tls:index/selfSignedCert:SelfSignedCert", "comp2-test-leaf", {
            isCaCertificate: false,
            privateKeyPem: SECRET,
        });
        expect(await violationsOf("single-root-ca", [...compliantStack(), leaf])).toEqual([]);
    });

    test("a root CA while a peer stack is a root stack too is refused, naming that peer's stack file", async () => {
        const found = await violationsOf(
            "single-root-ca",
            compliantStack(),
            withPeers("shared", [{ stack: "comp3", pkiRole: "root" }]),
        );
        expect(found.map((v) => v.message)).toEqual([
            'root CA comp2-pki-root-cert is declared here, but peer stack "comp3" is a root stack too (pki.role: root in Pulumi.comp3.yaml): in the shared trust model the lab has one root CA; set zta-testbed:pki.role to "peer" in every stack file but one',
        ]);
        expect(found[0].urn).toBe(urnOf("tls:index/selfSignedCert:SelfSignedCert", "comp2-pki-root-cert"));
    });

    test("with several peers every one counts: each root peer is named, peer-role ones are not", async () => {
        const three = withPeers("shared", [
            { stack: "comp3", pkiRole: "peer" },
            { stack: "comp4", pkiRole: "root" },
        ]);
        expect((await violationsOf("single-root-ca", compliantStack(), three)).map((v) => v.message)).toEqual([
            expect.stringContaining('peer stack "comp4" is a root stack too (pki.role: root in Pulumi.comp4.yaml)'),
        ]);
        const four = withPeers("shared", [
            { stack: "comp3", pkiRole: "root" },
            { stack: "comp4", pkiRole: "peer" },
            { stack: "comp5", pkiRole: "root" },
        ]);
        expect((await violationsOf("single-root-ca", compliantStack(), four)).map((v) => v.message)).toEqual([
            expect.stringContaining('peer stack "comp3" is a root stack too'),
            expect.stringContaining('peer stack "comp5" is a root stack too'),
        ]);
        expect(
            await violationsOf(
                "single-root-ca",
                compliantStack(),
                withPeers("shared", [
                    { stack: "comp3", pkiRole: "peer" },
                    { stack: "comp4", pkiRole: "peer" },
                ]),
            ),
        ).toEqual([]);
    });

    test("a stack without a root CA is not concerned by its peers' roles", async () => {
        const noRoot = compliantStack().filter((r) => r.type !== "tls:index/selfSignedCert:SelfSignedCert");
        expect(
            await violationsOf("single-root-ca", noRoot, withPeers("shared", [{ stack: "comp3", pkiRole: "root" }])),
        ).toEqual([]);
    });

    test("in the federated trust model each stack owns its trust domain's root, whatever its peers' roles; two in one stack still do not pass", async () => {
        const federated = withPeers("federated", [
            { stack: "comp3", pkiRole: "root" },
            { stack: "comp4", pkiRole: "root" },
        ]);
        expect(await violationsOf("single-root-ca", compliantStack(), federated)).toEqual([]);
        const found = await violationsOf("single-root-ca", [...compliantStack(), secondRoot()], federated);
        expect(found.map((v) => v.urn)).toEqual([urnOf("tls:index/selfSignedCert:SelfSignedCert", "comp2-other-root")]);
    });
});

describe("the pack config, reconciled and checked as the engine does", () => {
    test("without a config the pack does not run: the lab registry, the trust model and the peers are required", async () => {
        await expect(checkResources(compliantStack(), {})).rejects.toThrow(
            new PolicyConfigError(
                "policy config is not what the pack needs: allowed-registries: labRegistry is required; single-root-ca: peers is required; single-root-ca: trustModel is required",
            ),
        );
    });

    test("a trust model or a pki.role outside the schema's values is refused, naming the key and the allowed values", () => {
        const bad = {
            ...PACK_CONFIG,
            "single-root-ca": { trustModel: "sharde", peers: [{ stack: "comp3", pkiRole: "leaf" }] },
        };
        expect(() => reconcileConfig(PREVIEW_POLICIES, bad, "plan/comp2/policy-config.json")).toThrow(
            'plan/comp2/policy-config.json is not what the pack needs: single-root-ca: peers.0.pkiRole must be equal to one of the allowed values ("root", "peer"); single-root-ca: trustModel must be equal to one of the allowed values ("shared", "federated")',
        );
        const typo = {
            ...PACK_CONFIG,
            "single-root-ca": { trustModel: "shared", peers: [{ stack: "comp3", pkiRol: "peer" }] },
        };
        expect(() => reconcileConfig(PREVIEW_POLICIES, typo)).toThrow(
            /: single-root-ca: peers\.0\.pkiRol is not a known key; single-root-ca: peers\.0\.pkiRole is required$/,
        );
    });

    test("the schema's defaults fill what the file leaves out, and what it sets wins", () => {
        const reconciled = reconcileConfig(PREVIEW_POLICIES, PACK_CONFIG);
        expect(reconciled.get("allowed-registries")).toEqual({
            enforcementLevel: "mandatory",
            properties: { labRegistry: LAB_REGISTRY, allowedRegistries: DEFAULT_ALLOWED_REGISTRIES },
        });
        expect(
            reconcileConfig(PREVIEW_POLICIES, {
                ...PACK_CONFIG,
                "allowed-registries": { labRegistry: "10.9.9.9:5000", allowedRegistries: [] },
            }).get("allowed-registries")?.properties,
        ).toEqual({
            labRegistry: "10.9.9.9:5000",
            allowedRegistries: [],
        });
    });

    test("an enforcement level in the file overrides the policy's, per policy or for all", async () => {
        const permissive = withEdit("istio-system-default", (i) => (i.spec.mtls.mode = "PERMISSIVE"));
        const advisory = await checkResources(permissive, { ...PACK_CONFIG, "peer-authentication-strict": "advisory" });
        expect(advisory.map((v) => [v.policy, v.enforcementLevel])).toEqual([
            ["mesh-wide-mtls-strict", "mandatory"],
            ["peer-authentication-strict", "advisory"],
        ]);
        const off = await checkResources(permissive, {
            ...PACK_CONFIG,
            all: "disabled",
            "mesh-wide-mtls-strict": { enforcementLevel: "mandatory" },
        });
        expect(off.map((v) => v.policy)).toEqual(["mesh-wide-mtls-strict"]);
        expect(() => reconcileConfig(PREVIEW_POLICIES, { ...PACK_CONFIG, all: "strict" })).toThrow(
            'policy config: "all": "strict" is not an enforcement level',
        );
    });
});

describe("images and charts", () => {
    test("image references normalise to registry/repository without tag or digest", () => {
        expect(normalizeImage("nginx:1.27")).toBe("docker.io/library/nginx");
        expect(normalizeImage("curlimages/curl:8.8.0")).toBe("docker.io/curlimages/curl");
        expect(normalizeImage("10.5.0.2:8443/samples/httpbin@sha256:abc")).toBe("10.5.0.2:8443/samples/httpbin");
        expect(
            helmValueImages({
                hub: "docker.io/istio",
                a: { image: { registry: "ghcr.io", repository: "spiffe/spire-agent" } },
                b: { image: "quay.io/x/y:1" },
            }),
        ).toEqual(expect.arrayContaining(["docker.io/istio", "ghcr.io/spiffe/spire-agent", "quay.io/x/y"]));
    });

    test("a Deployment image from an unlisted registry is refused; the lab registry and the allow-list pass", async () => {
        const stack = withEdit("comp2-httpbin", (i) => (i.spec.template.spec.initContainers[0].image = "nginx:1.27"));
        expect(await messages("allowed-registries", stack)).toEqual([
            `Deployment comp2-httpbin uses images from docker.io/library/nginx, which is neither the lab registry nor in allowedRegistries (${[LAB_REGISTRY, ...DEFAULT_ALLOWED_REGISTRIES].join(", ")})`,
        ]);
    });

    test("a Helm release whose values point an image at an unlisted registry is refused", async () => {
        const stack = withEdit("cilium", (i) => (i.values.image.repository = "docker.io/someone/cilium"));
        expect(await messages("allowed-registries", stack)).toEqual([
            expect.stringMatching(/^Release cilium uses images from docker.io\/someone\/cilium, which is neither/),
        ]);
    });

    test("a prefix matches whole path segments only: quay.io/ciliumx is not quay.io/cilium", async () => {
        const stack = withEdit("cilium", (i) => (i.values.image.repository = "quay.io/ciliumx/cilium"));
        expect(await messages("allowed-registries", stack)).toHaveLength(1);
    });

    test("policy config replaces the allow-list", async () => {
        const found = await checkResources(compliantStack(), {
            ...PACK_CONFIG,
            "allowed-registries": { labRegistry: LAB_REGISTRY, allowedRegistries: ["quay.io/cilium"] },
        });
        expect(found.filter((v) => v.policy === "allowed-registries").map((v) => v.message)).toEqual([
            expect.stringContaining("Release istiod uses images from docker.io/istio"),
            expect.stringContaining("Release spire uses images from ghcr.io, "),
            expect.stringContaining("Release spire uses images from ghcr.io/spiffe/spire-server, "),
            expect.stringContaining("Deployment comp2-httpbin uses images from docker.io/istio/proxyv2"),
        ]);
    });

    test("the lab registry is the pack config's labRegistry: another registry's images are refused", async () => {
        const other = await checkResources(compliantStack(), {
            ...PACK_CONFIG,
            "allowed-registries": { labRegistry: "10.9.9.9:5000" },
        });
        expect(other.map((v) => v.message)).toEqual([
            expect.stringContaining(
                "Deployment comp2-httpbin uses images from 10.5.0.2:8443/samples/httpbin, which is neither",
            ),
        ]);
    });

    test("a Helm release without a version, or with a range, is refused", async () => {
        const unpinned = withEdit("cilium", (i) => delete i.version);
        expect(await messages("helm-version-pinned", unpinned)).toEqual([
            "Helm release cilium (chart cilium) has no version: pin an exact chart version from cfg.versions",
        ]);
        const ranged = withEdit("cilium", (i) => (i.version = "^1.17.0"));
        expect(await messages("helm-version-pinned", ranged)).toEqual([
            'Helm release cilium (chart cilium) has version "^1.17.0": it must be an exact version such as 1.2.3, not a range',
        ]);
    });
});
