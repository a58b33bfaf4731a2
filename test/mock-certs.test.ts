// The mock runtime's certificates and signing requests (offline/engine/mock-cert.ts): real
// X.509 and PKCS #10 in PEM, named after the resource that made them, the same on every run;
// a certificate signed for a request carries the request's key.
import { X509Certificate } from "crypto";
import { spiffeBundle } from "../components/spire-federation";
import { mockCertificatePem } from "../offline/engine/mock-cert";
import { mockOutputs } from "../offline/engine/mocks";
import { mockCertName, mockCsrName, parseCsr } from "./mock-certs";

describe("the certificates of the mock runtime", () => {
    test("are X.509 certificates in PEM, self-signed, named by their label, CA or not as asked", () => {
        const root = new X509Certificate(mockCertificatePem("MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)", true));
        expect(root.subject).toBe("CN=MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)");
        expect(root.issuer).toBe(root.subject);
        expect(root.verify(root.publicKey)).toBe(true);
        expect(root.ca).toBe(true);
        expect(
            new X509Certificate(mockCertificatePem("MOCK-CERT(LocallySignedCert/comp2-registry-cert)", false)).ca,
        ).toBe(false);
    });

    test("are what the tls resources and a service-account token Secret return, named after the resource", () => {
        expect(
            mockCertName(
                mockOutputs("tls:index/selfSignedCert:SelfSignedCert", "comp2-pki-root-cert", { isCaCertificate: true })
                    .certPem,
            ),
        ).toBe("MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)");
        expect(
            new X509Certificate(
                String(mockOutputs("tls:index/selfSignedCert:SelfSignedCert", "r", { isCaCertificate: true }).certPem),
            ).ca,
        ).toBe(true);
        expect(mockCertName(mockOutputs("tls:index/locallySignedCert:LocallySignedCert", "leaf", {}).certPem)).toBe(
            "MOCK-CERT(LocallySignedCert/leaf)",
        );
        const token = mockOutputs("kubernetes:core/v1:Secret", "reader-token", {
            type: "kubernetes.io/service-account-token",
        }) as { data: Record<string, string> };
        expect(mockCertName(Buffer.from(token.data["ca.crt"], "base64").toString())).toBe(
            "MOCK-CERT(Secret/reader-token cluster CA)",
        );
    });

    test("are the same on every run for the same label (a fresh copy of the module, not its cache, makes the same PEM), and differ between labels", async () => {
        const first = mockCertificatePem("MOCK-CERT(SelfSignedCert/comp3-pki-root-cert)", true);
        let again = "";
        await jest.isolateModulesAsync(async () => {
            again = (await import("../offline/engine/mock-cert")).mockCertificatePem(
                "MOCK-CERT(SelfSignedCert/comp3-pki-root-cert)",
                true,
            );
        });
        expect(again).toBe(first);
        expect(mockCertificatePem("MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)", true)).not.toBe(first);
    });

    test("make a SPIFFE bundle as a real root does, so the federated model's initial bundle needs no branch for the plan", () => {
        const pem = mockCertificatePem("MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)", true);
        const bundle = JSON.parse(spiffeBundle(pem)) as { keys: { use: string; x5c: string[] }[] };
        expect(bundle.keys).toEqual([
            expect.objectContaining({ use: "x509-svid", x5c: [new X509Certificate(pem).raw.toString("base64")] }),
        ]);
    });

    test("a CertRequest is a real PKCS #10 request for the key its private key stands for: the same private key, the same public key", () => {
        const csr = (name: string, key: string) =>
            String(
                mockOutputs("tls:index/certRequest:CertRequest", name, {
                    privateKeyPem: `MOCK-PRIVATE-KEY(PrivateKey/${key})`,
                }).certRequestPem,
            );
        const istio = csr("comp3-ca-istio-csr", "comp3-ca-istio-key");
        expect(istio).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
        // Signed with its own key (mockCsrName checks the signature), and named after the resource.
        expect(mockCsrName(istio)).toBe("MOCK-CSR(CertRequest/comp3-ca-istio-csr)");
        expect(csr("comp3-ca-istio-csr", "comp3-ca-istio-key")).toBe(istio);
        // Another request from the same key has that key; a request from another key has another.
        expect(parseCsr(csr("other-csr", "comp3-ca-istio-key")).publicKey).toEqual(parseCsr(istio).publicKey);
        expect(parseCsr(csr("comp3-ca-istio-csr", "comp3-ca-istio-key-rebuilt")).publicKey).not.toEqual(
            parseCsr(istio).publicKey,
        );
    });

    test("a LocallySignedCert carries the public key of the request it was signed for", () => {
        const request = String(
            mockOutputs("tls:index/certRequest:CertRequest", "leaf-csr", {
                privateKeyPem: "MOCK-PRIVATE-KEY(PrivateKey/leaf-key)",
            }).certRequestPem,
        );
        const pem = String(
            mockOutputs("tls:index/locallySignedCert:LocallySignedCert", "leaf-cert", { certRequestPem: request })
                .certPem,
        );
        expect(mockCertName(pem)).toBe("MOCK-CERT(LocallySignedCert/leaf-cert)");
        expect(new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" })).toEqual(
            parseCsr(request).publicKey,
        );
    });
});
