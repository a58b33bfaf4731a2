// TLS at the ingress, as the offline plan of the committed lab shows it: the
// samples' Gateway serves HTTPS on 443 (SIMPLE) with a credential Secret whose
// certificate is signed by the cluster's Istio intermediate (which the root
// signed), and nothing answers plain HTTP unless ingress.plainHttp says so.
import { PlannedResource } from "../offline/engine/record";
import { LabPlan, StackPlan } from "../offline/planner/lab";
import { ConfigError } from "../stacks/config/messages";
import { parseLabConfig } from "../stacks/config/parse";
import { findResource, labDirWith, planOf, rawConfig, resourcesOfType, stackOf } from "./helpers";
import { mockCertName } from "./mock-certs";

const GATEWAY = "kubernetes:networking.istio.io/v1:Gateway";
const SECRET = "kubernetes:core/v1:Secret";
const SIGNED = "tls:index/locallySignedCert:LocallySignedCert";
const SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert";
const CSR = "tls:index/certRequest:CertRequest";
const KEY = "tls:index/privateKey:PrivateKey";
const RELEASE = "kubernetes:helm.sh/v3:Release";

const spec = (r: PlannedResource) => r.inputs.spec as Record<string, any>;
const meta = (r: PlannedResource) => r.inputs.metadata as { name: string; namespace: string };

interface Server {
    port: { number: number; protocol: string };
    tls?: { mode?: string; credentialName?: string; httpsRedirect?: boolean };
}
const serversOf = (plan: StackPlan): Server[] =>
    resourcesOfType(plan, GATEWAY)
        .filter((g) => meta(g).name === "httpbin-gateway")
        .flatMap((g) => spec(g).servers as Server[]);
const ingressServicePorts = (plan: StackPlan): number[] =>
    (
        resourcesOfType(plan, RELEASE).find((r) => r.inputs.name === "istio-ingressgateway")?.inputs.values as any
    ).service.ports.map((p: { port: number }) => p.port);

let lab: LabPlan;
let redirectLab: LabPlan;
beforeAll(async () => {
    lab = await planOf();
    redirectLab = await planOf(
        labDirWith((_s, raw) => (raw.ingress = { plainHttp: "redirect", hostName: "ingress.zta.lab" })),
    );
});

describe.each([
    ["comp2", "cluster1", "10.5.0.100"],
    ["comp3", "cluster2", "10.5.0.121"],
])("%s: the ingress terminates TLS with a certificate from the lab root", (stack, cluster, address) => {
    test("the Gateway serves HTTPS on 443, TLS mode SIMPLE, with the credential Secret in the gateway's namespace", () => {
        const plan = stackOf(lab, stack);
        const https = serversOf(plan).filter((s) => s.port.number === 443);
        expect(https).toEqual([
            {
                port: { number: 443, name: "https", protocol: "HTTPS" },
                hosts: ["*"],
                tls: { mode: "SIMPLE", credentialName: "ingress-tls" },
            },
        ]);
        const secret = resourcesOfType(plan, SECRET).filter((s) => meta(s).name === "ingress-tls");
        expect(secret.map(meta)).toEqual([{ name: "ingress-tls", namespace: "istio-system" }]);
        expect(secret[0].inputs.type).toBe("kubernetes.io/tls");
    });

    test("by default nothing serves plain HTTP: no HTTP server on the Gateway, no port 80 on the gateway's Service", () => {
        const plan = stackOf(lab, stack);
        expect(serversOf(plan).filter((s) => s.port.protocol === "HTTP" || s.port.number === 80)).toEqual([]);
        expect(ingressServicePorts(plan)).toEqual([15021, 443]);
    });

    test("the credential's certificate is signed by this cluster's Istio intermediate, which the lab root signed", () => {
        const plan = stackOf(lab, stack);
        const root = stackOf(lab, "comp2");
        const cert = findResource(plan, SIGNED, `${stack}-istio-ingress-tls-cert`);
        const secret = findResource(plan, SECRET, `${stack}-istio-ingress-tls-credential`);
        expect(secret.dependsOn).toEqual(
            expect.arrayContaining([cert.urn, findResource(plan, KEY, `${stack}-istio-ingress-tls-key`).urn]),
        );
        // The issuer: the Istio intermediate the root stack made for this cluster...
        const intermediate = `comp2-pki-${cluster}-istio-cert`;
        expect(mockCertName(cert.inputs.caCertPem)).toBe(`MOCK-CERT(LocallySignedCert/${intermediate})`);
        expect(cert.inputs.caPrivateKeyPem).toBe("[secret]");
        // ...whose own issuer is the lab root.
        expect(mockCertName(findResource(root, SIGNED, intermediate).inputs.caCertPem)).toBe(
            `MOCK-CERT(SelfSignedCert/${findResource(root, SELF_SIGNED, "comp2-pki-root-cert").name})`,
        );
        expect(cert.inputs.isCaCertificate ?? false).toBe(false);
        expect(cert.inputs.allowedUses).toEqual(expect.arrayContaining(["server_auth", "digital_signature"]));
        // The key is this stack's own and its PEM never shows.
        const csr = findResource(plan, CSR, `${stack}-istio-ingress-tls-csr`);
        expect(csr.inputs.privateKeyPem).toBe("[secret]");
        expect(csr.inputs.ipAddresses).toEqual([address]);
    });
});

describe("ingress.plainHttp = redirect and ingress.hostName", () => {
    test.each(["comp2", "comp3"])(
        "%s: port 80 only redirects to https, and the certificate names the host",
        (stack) => {
            const plan = stackOf(redirectLab, stack);
            const plain = serversOf(plan).filter((s) => s.port.number === 80);
            expect(plain).toEqual([
                { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"], tls: { httpsRedirect: true } },
            ]);
            expect(ingressServicePorts(plan)).toEqual([15021, 80, 443]);
            expect(findResource(plan, CSR, `${stack}-istio-ingress-tls-csr`).inputs.dnsNames).toEqual([
                "ingress.zta.lab",
            ]);
        },
    );

    test.each([
        [
            "plainHttp",
            { plainHttp: "on" },
            /zta-testbed:ingress\.plainHttp = "on": expected "off" \(no plain-HTTP listener\) or "redirect"/,
        ],
        ["hostName", { hostName: "Ingress_Lab" }, /zta-testbed:ingress\.hostName = "Ingress_Lab": expected a DNS name/],
    ])("a bad ingress.%s is refused naming the key and value", (_key, ingress, message) => {
        const raw = { ...rawConfig("comp2"), ingress };
        expect(() => parseLabConfig("comp2", raw, new Set(["sshPrivateKey"]))).toThrow(ConfigError);
        expect(() => parseLabConfig("comp2", raw, new Set(["sshPrivateKey"]))).toThrow(message);
    });
});
