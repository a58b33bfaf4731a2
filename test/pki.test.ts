// The lab PKI as an operator would check it: who signs whom, CA flags and key
// usages, what is protected, what is secret, and who owns the root.
import { LabPlan } from "../offline/lab";
import { findResource, planOf, resourcesOfType, stackOf } from "./helpers";

const KEY = "tls:index/privateKey:PrivateKey";
const SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert";
const SIGNED = "tls:index/locallySignedCert:LocallySignedCert";
const CSR = "tls:index/certRequest:CertRequest";

let lab: LabPlan;
beforeAll(async () => {
    lab = await planOf();
});

describe("the root stack (comp2) owns the root CA", () => {
    test("one self-signed root, a CA for signing only, protected with its key", () => {
        const comp2 = stackOf(lab, "comp2");
        const roots = resourcesOfType(comp2, SELF_SIGNED);
        expect(roots.map((r) => r.name)).toEqual(["comp2-pki-root-cert"]);
        const root = roots[0];
        expect(root.inputs.isCaCertificate).toBe(true);
        expect(root.inputs.allowedUses).toEqual(expect.arrayContaining(["cert_signing", "crl_signing"]));
        expect(root.protect).toBe(true);
        expect(findResource(comp2, KEY, "comp2-pki-root-key").protect).toBe(true);
        // The root's key reaches it only as a secret.
        expect(root.inputs.privateKeyPem).toBe("[secret]");
    });

    test.each(["cluster1", "cluster2"])("%s gets an Istio and a SPIRE intermediate signed by the root", (cluster) => {
        const comp2 = stackOf(lab, "comp2");
        const rootUrn = findResource(comp2, SELF_SIGNED, "comp2-pki-root-cert").urn;
        const rootKeyUrn = findResource(comp2, KEY, "comp2-pki-root-key").urn;
        for (const kind of ["istio", "spire"]) {
            const cert = findResource(comp2, SIGNED, `comp2-pki-${cluster}-${kind}-cert`);
            const csr = findResource(comp2, CSR, `comp2-pki-${cluster}-${kind}-csr`);
            // Signed by the root: the root's certificate and key flow in, the CSR is this intermediate's own.
            expect(cert.inputs.caCertPem).toBe("MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)");
            expect(cert.inputs.caPrivateKeyPem).toBe("[secret]");
            expect(cert.dependsOn).toEqual(expect.arrayContaining([rootUrn, rootKeyUrn, csr.urn]));
            expect(cert.inputs.certRequestPem).toBe(`MOCK-CSR(CertRequest/comp2-pki-${cluster}-${kind}-csr)`);
            expect(cert.inputs.isCaCertificate).toBe(true);
            expect(cert.inputs.allowedUses).toEqual(expect.arrayContaining(["cert_signing", "crl_signing", "digital_signature"]));
            expect(cert.protect).toBe(false);
            expect(csr.inputs.subject).toMatchObject({ commonName: expect.stringContaining(cluster) });
        }
    });

    test("Istio's intermediate signs leaves only; SPIRE's has no path length limit (SPIRE's own CA sits below it)", () => {
        const comp2 = stackOf(lab, "comp2");
        expect(findResource(comp2, SIGNED, "comp2-pki-cluster1-istio-cert").inputs.maxPathLength).toBe(0);
        expect(findResource(comp2, SIGNED, "comp2-pki-cluster1-spire-cert").inputs.maxPathLength).toBeUndefined();
    });

    test("exports the root certificate in clear and the intermediates only as a secret", () => {
        const outputs = stackOf(lab, "comp2").outputs;
        expect(outputs.rootCaCert).toEqual({ value: "MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)", secret: false });
        expect(outputs.intermediates.secret).toBe(true);
        const intermediates = outputs.intermediates.value as Record<string, any>;
        expect(Object.keys(intermediates).sort()).toEqual(["cluster1", "cluster2"]);
        // Istio's cacerts layout and SPIRE's upstream authority layout, chained to the root.
        const c2 = intermediates.cluster2;
        expect(Object.keys(c2.istio).sort()).toEqual(["ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"]);
        expect(c2.istio["ca-cert.pem"]).toBe("MOCK-CERT(LocallySignedCert/comp2-pki-cluster2-istio-cert)");
        expect(c2.istio["ca-key.pem"]).toBe("MOCK-PRIVATE-KEY(PrivateKey/comp2-pki-cluster2-istio-key)");
        expect(c2.istio["root-cert.pem"]).toBe(outputs.rootCaCert.value);
        expect(c2.istio["cert-chain.pem"]).toBe(`${c2.istio["ca-cert.pem"]}\n${outputs.rootCaCert.value}\n`);
        expect(c2.spire).toEqual({
            "tls.crt": "MOCK-CERT(LocallySignedCert/comp2-pki-cluster2-spire-cert)",
            "tls.key": "MOCK-PRIVATE-KEY(PrivateKey/comp2-pki-cluster2-spire-key)",
            "bundle.crt": outputs.rootCaCert.value,
        });
    });
});

describe("the peer stack (comp3) takes its trust from the root stack", () => {
    test("declares no CA of its own: its only key and certificate are the ingress gateway's serving leaf", () => {
        const comp3 = stackOf(lab, "comp3");
        // The ingress leaf is made where it serves and signed by the cluster's Istio intermediate (test/ingress-tls.test.ts).
        const own = comp3.resources.filter((r) => r.type.startsWith("tls:"));
        expect(own.map((r) => r.name).sort()).toEqual(["comp3-istio-ingress-tls-cert", "comp3-istio-ingress-tls-csr", "comp3-istio-ingress-tls-key"]);
        expect(own.filter((r) => r.inputs.isCaCertificate === true)).toEqual([]);
        expect(comp3.resources.filter((r) => r.type === "zta:pki:Pki")).toEqual([]);
    });

    test("re-exports the same root and does not re-export the intermediates", () => {
        const comp3 = stackOf(lab, "comp3");
        expect(comp3.outputs.rootCaCert.value).toBe(stackOf(lab, "comp2").outputs.rootCaCert.value);
        expect(comp3.outputs.intermediates).toBeUndefined();
    });
});
