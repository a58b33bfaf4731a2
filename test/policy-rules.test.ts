// Each policy of policy/ on a compliant stack, then on one violating mutation
// with the message an operator would read. They run through the plan adapter,
// i.e. the same validate functions the CrossGuard pack serves.
import { SECRET } from "../offline/evaluate";
import { DEFAULT_ALLOWED_REGISTRIES, helmValueImages, normalizeImage } from "../policy/policies/allowed-registries";
import { gatewayPodLabels } from "../policy/policies/ingress-gateway-jwt";
import { checkResources } from "../policy/plan";
import { peerPkiRoleFromStackFiles, trustModelFromStackFile } from "../policy/stack-config";
import { labDirWith, REPO } from "./helpers";
import { compliantStack, INGRESS_LABELS, LAB_REGISTRY, PACK_CONFIG, resource, urnOf, violationsOf, withEdit } from "./policy-fixtures";

const messages = async (policy: string, stack = compliantStack()) => (await violationsOf(policy, stack)).map((v) => v.message);

test("the compliant fixture stack passes every policy, so each violation below comes from its one mutation", async () => {
    expect(await checkResources(compliantStack(), undefined, PACK_CONFIG)).toEqual([]);
});

describe("mTLS", () => {
    test("a PERMISSIVE PeerAuthentication is refused, naming the object", async () => {
        const stack = withEdit("istio-system-default", (i) => (i.spec.mtls.mode = "PERMISSIVE"));
        const found = await violationsOf("peer-authentication-strict", stack);
        expect(found.map((v) => v.message)).toEqual([
            "PeerAuthentication istio-system/default sets mtls.mode PERMISSIVE: plain-text traffic would be accepted; use STRICT (or leave it UNSET to inherit the mesh-wide STRICT)",
        ]);
        expect(found[0].urn).toBe(urnOf("kubernetes:security.istio.io/v1:PeerAuthentication", "istio-system-default"));
        expect(await messages("mesh-wide-mtls-strict", stack)).toEqual(["mesh-wide PeerAuthentication istio-system/default has mtls.mode PERMISSIVE: it must be STRICT"]);
    });

    test("a workload PeerAuthentication that disables mTLS on one port is refused", async () => {
        const stack = [
            ...compliantStack(),
            resource("kubernetes:security.istio.io/v1:PeerAuthentication", "legacy", {
                metadata: { name: "legacy", namespace: "apps" },
                spec: { selector: { matchLabels: { app: "legacy" } }, mtls: { mode: "STRICT" }, portLevelMtls: { "8080": { mode: "DISABLE" } } },
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
        expect(await messages("mesh-wide-mtls-strict", stack)).toEqual([expect.stringContaining("declare one named default in mesh-root")]);
    });
});

describe("JWT at the ingress gateway", () => {
    test("the gateway chart's pod labels are app=<name>, istio=<name without istio->", () => {
        expect(gatewayPodLabels({ name: "istio-ingressgateway", values: {} })).toEqual(INGRESS_LABELS);
        expect(gatewayPodLabels({ name: "r", values: { name: "istio-eastwestgateway", labels: { topology: "x" } } })).toEqual({ topology: "x", app: "istio-eastwestgateway", istio: "eastwestgateway" });
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
        expect(await messages("ingress-gateway-jwt", stack)).toEqual([expect.stringContaining("has no RequestAuthentication with jwtRules selecting it")]);
    });

    test("an ingress gateway without an AuthorizationPolicy is refused: requests without a token would pass", async () => {
        const stack = compliantStack().filter((r) => r.name !== "istio-system-ingress-require-jwt");
        expect(await messages("ingress-gateway-jwt", stack)).toEqual([
            "ingress gateway istio-ingressgateway (pods app=istio-ingressgateway,istio=ingressgateway in istio-system) has no AuthorizationPolicy selecting it: requests without a token would pass",
        ]);
    });

    test("an AuthorizationPolicy that never requires a request principal is refused", async () => {
        const stack = withEdit("istio-system-ingress-require-jwt", (i) => (i.spec.rules = [{ to: [{ operation: { paths: ["/*"] } }] }]));
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
        expect(await messages("trust-domain-aligned", stack)).toEqual([expect.stringContaining("istiod release istiod has cluster.local")]);
    });

    test("a ClusterSPIFFEID whose template does not yield /ns/<ns>/sa/<sa> is refused", async () => {
        const stack = withEdit("comp2-gateways", (i) => (i.spec.spiffeIDTemplate = "spiffe://{{ .TrustDomain }}/k8s/{{ .PodMeta.Name }}"));
        expect(await messages("spiffe-id-template", stack)).toEqual([
            'ClusterSPIFFEID istio-gateways has spiffeIDTemplate "spiffe://{{ .TrustDomain }}/k8s/{{ .PodMeta.Name }}": it must be spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }} so identities have Istio\'s /ns/<ns>/sa/<sa> form',
        ]);
    });

    test("the SPIFFE ID template may be written without spaces inside the braces", async () => {
        const stack = withEdit("comp2-gateways", (i) => (i.spec.spiffeIDTemplate = "spiffe://{{.TrustDomain}}/ns/{{.PodMeta.Namespace}}/sa/{{.PodSpec.ServiceAccountName}}"));
        expect(await messages("spiffe-id-template", stack)).toEqual([]);
    });
});

describe("secrets and the root CA", () => {
    test("a Kubernetes Secret with a plain data value is refused, naming the key", async () => {
        const stack = withEdit("comp2-remote", (i) => (i.stringData = { cluster2: SECRET, token: "abc" }));
        expect(await messages("secret-inputs", stack)).toEqual(["Secret comp2-remote passes stringData token as plain values: wrap them in pulumi.secret()"]);
    });

    test("a remote Command whose SSH key is not a secret is refused", async () => {
        const stack = withEdit("comp2-kubeadm-init", (i) => (i.connection.privateKey = "unit-test-ssh-key (not a real key)"));
        expect(await messages("secret-inputs", stack)).toEqual(["Command comp2-kubeadm-init passes connection.privateKey as a plain value: it must be a secret (pulumi.secret / requireSecret)"]);
    });

    test("a whole secret connection counts as a secret key", async () => {
        const stack = withEdit("comp2-kubeadm-init", (i) => (i.connection = SECRET));
        expect(await messages("secret-inputs", stack)).toEqual([]);
    });

    test("a Kubernetes provider with a plain kubeconfig is refused", async () => {
        const stack = withEdit("comp2-k8s", (i) => (i.kubeconfig = "apiVersion: v1\nkind: Config"));
        expect(await messages("secret-inputs", stack)).toEqual(["kubernetes comp2-k8s passes kubeconfig as a plain value: it must be a secret (pulumi.secret / requireSecret)"]);
    });

    test("an unprotected root CA certificate or key is refused", async () => {
        const certOpen = withEdit("comp2-pki-root-cert", (_i, r) => (r.protect = false));
        expect(await messages("root-ca-protected", certOpen)).toEqual(["root CA certificate comp2-pki-root-cert is not protected: set protect: true, replacing it invalidates every certificate under it"]);
        const keyOpen = withEdit("comp2-pki-root-key", (_i, r) => (r.protect = false));
        const found = await violationsOf("root-ca-protected", keyOpen);
        expect(found.map((v) => v.message)).toEqual(["root CA private key comp2-pki-root-key (of comp2-pki-root-cert) is not protected: set protect: true, replacing it invalidates every certificate under it"]);
        expect(found[0].urn).toBe(urnOf("tls:index/privateKey:PrivateKey", "comp2-pki-root-key"));
    });
});

describe("one root CA in the lab", () => {
    test("a second self-signed CA certificate in the stack is refused, naming both", async () => {
        const second = resource("tls:index/selfSignedCert:SelfSignedCert", "comp2-other-root", { isCaCertificate: true, privateKeyPem: SECRET }, { protect: true });
        const found = await violationsOf("single-root-ca", [...compliantStack(), second]);
        expect(found.map((v) => v.message)).toEqual([
            "second root CA comp2-other-root in this stack (the first is comp2-pki-root-cert): the lab has one root CA; issue further CAs as intermediates signed by it",
        ]);
        expect(found[0].urn).toBe(urnOf("tls:index/selfSignedCert:SelfSignedCert", "comp2-other-root"));
    });

    test("a self-signed certificate that is not a CA does not count", async () => {
        const leaf = resource("tls:index/selfSignedCert:SelfSignedCert", "comp2-test-leaf", { isCaCertificate: false, privateKeyPem: SECRET });
        expect(await violationsOf("single-root-ca", [...compliantStack(), leaf])).toEqual([]);
    });

    test("a root CA while the peer stack is the root stack too is refused, naming the peer's stack file", async () => {
        const config = { ...PACK_CONFIG, "single-root-ca": { peerPkiRole: "root", peerStack: "comp3" } };
        const found = (await checkResources(compliantStack(), undefined, config)).filter((v) => v.policy === "single-root-ca");
        expect(found.map((v) => v.message)).toEqual([
            'root CA comp2-pki-root-cert is declared here, but peer stack "comp3" is the root stack too (pki.role: root in Pulumi.comp3.yaml): the lab has one root CA; set zta-testbed:pki.role to "peer" in one of the two stack files',
        ]);
        const peerIsPeer = { ...PACK_CONFIG, "single-root-ca": { peerPkiRole: "peer", peerStack: "comp3" } };
        expect((await checkResources(compliantStack(), undefined, peerIsPeer)).filter((v) => v.policy === "single-root-ca")).toEqual([]);
    });

    test("in the federated trust model each stack owns its trust domain's root, whatever the peer's role", async () => {
        const federated = { ...PACK_CONFIG, "single-root-ca": { peerPkiRole: "root", peerStack: "comp3", trustModel: "federated" } };
        expect((await checkResources(compliantStack(), undefined, federated)).filter((v) => v.policy === "single-root-ca")).toEqual([]);
        const second = resource("tls:index/selfSignedCert:SelfSignedCert", "comp2-other-root", { isCaCertificate: true, privateKeyPem: SECRET }, { protect: true });
        const found = (await checkResources([...compliantStack(), second], undefined, federated)).filter((v) => v.policy === "single-root-ca");
        expect(found.map((v) => v.urn)).toEqual([urnOf("tls:index/selfSignedCert:SelfSignedCert", "comp2-other-root")]);
        const dir = labDirWith((_stack, raw) => (raw.mesh.trustModel = "federated"));
        expect(trustModelFromStackFile(dir, "comp3")).toBe("federated");
        expect(trustModelFromStackFile(REPO, "comp3")).toBe("shared");
    });

    test("without policy config the peer's role comes from the stack files: comp2 names comp3, whose pki.role is peer", () => {
        expect(peerPkiRoleFromStackFiles(REPO, "comp2")).toEqual({ stack: "comp3", role: "peer" });
        const bothRoot = labDirWith((_stack, raw) => (raw.pki.role = "root"));
        expect(peerPkiRoleFromStackFiles(bothRoot, "comp2")).toEqual({ stack: "comp3", role: "root" });
    });
});

describe("images and charts", () => {
    test("image references normalise to registry/repository without tag or digest", () => {
        expect(normalizeImage("nginx:1.27")).toBe("docker.io/library/nginx");
        expect(normalizeImage("curlimages/curl:8.8.0")).toBe("docker.io/curlimages/curl");
        expect(normalizeImage("10.5.0.2:8443/samples/httpbin@sha256:abc")).toBe("10.5.0.2:8443/samples/httpbin");
        expect(helmValueImages({ hub: "docker.io/istio", a: { image: { registry: "ghcr.io", repository: "spiffe/spire-agent" } }, b: { image: "quay.io/x/y:1" } })).toEqual(
            expect.arrayContaining(["docker.io/istio", "ghcr.io/spiffe/spire-agent", "quay.io/x/y"]),
        );
    });

    test("a Deployment image from an unlisted registry is refused; the lab registry and the allow-list pass", async () => {
        const stack = withEdit("comp2-httpbin", (i) => (i.spec.template.spec.initContainers[0].image = "nginx:1.27"));
        expect(await messages("allowed-registries", stack)).toEqual([
            `Deployment comp2-httpbin uses images from docker.io/library/nginx, which is neither the lab registry nor in allowedRegistries (${[LAB_REGISTRY, ...DEFAULT_ALLOWED_REGISTRIES].join(", ")})`,
        ]);
    });

    test("a Helm release whose values point an image at an unlisted registry is refused", async () => {
        const stack = withEdit("cilium", (i) => (i.values.image.repository = "docker.io/someone/cilium"));
        expect(await messages("allowed-registries", stack)).toEqual([expect.stringMatching(/^Release cilium uses images from docker.io\/someone\/cilium, which is neither/)]);
    });

    test("a prefix matches whole path segments only: quay.io/ciliumx is not quay.io/cilium", async () => {
        const stack = withEdit("cilium", (i) => (i.values.image.repository = "quay.io/ciliumx/cilium"));
        expect(await messages("allowed-registries", stack)).toHaveLength(1);
    });

    test("policy config replaces the allow-list", async () => {
        const found = await checkResources(compliantStack(), undefined, { "allowed-registries": { labRegistry: LAB_REGISTRY, allowedRegistries: ["quay.io/cilium"] } });
        expect(found.filter((v) => v.policy === "allowed-registries").map((v) => v.message)).toEqual([
            expect.stringContaining("Release istiod uses images from docker.io/istio"),
            expect.stringContaining("Release spire uses images from ghcr.io, "),
            expect.stringContaining("Release spire uses images from ghcr.io/spiffe/spire-server, "),
            expect.stringContaining("Deployment comp2-httpbin uses images from docker.io/istio/proxyv2"),
        ]);
    });

    test("the lab registry defaults to zta-testbed:registry of the stack file", async () => {
        const found = await checkResources(compliantStack(), undefined, {});
        expect(found.filter((v) => v.policy === "allowed-registries")).toEqual([]);
        const other = await checkResources(compliantStack(), undefined, { "allowed-registries": { labRegistry: "10.9.9.9:5000" } });
        expect(other.map((v) => v.message)).toEqual([expect.stringContaining("uses images from 10.5.0.2:8443/samples/httpbin")]);
    });

    test("a Helm release without a version, or with a range, is refused", async () => {
        const unpinned = withEdit("cilium", (i) => delete i.version);
        expect(await messages("helm-version-pinned", unpinned)).toEqual(["Helm release cilium (chart cilium) has no version: pin an exact chart version from cfg.versions"]);
        const ranged = withEdit("cilium", (i) => (i.version = "^1.17.0"));
        expect(await messages("helm-version-pinned", ranged)).toEqual(['Helm release cilium (chart cilium) has version "^1.17.0": it must be an exact version such as 1.2.3, not a range']);
    });
});
