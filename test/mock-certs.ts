// The certificates the mock runtime issues (offline/engine/mock-cert.ts) are real self-signed
// X.509 in PEM, and the common name of each names the resource that made it, as the
// placeholder did before: "MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)". The tests follow a
// certificate through the plan by that name.
import { X509Certificate } from "crypto";

/** The name of a certificate the mock runtime made (of the first, for a chain); throws when `pem` is not one. */
export function mockCertName(pem: unknown): string {
    const cert = new X509Certificate(String(pem));
    const name = /^CN=(.*)$/m.exec(cert.subject)?.[1];
    if (
        name === undefined ||
        !name.startsWith("MOCK-CERT(") ||
        cert.subject !== cert.issuer ||
        !cert.verify(cert.publicKey)
    ) {
        throw new Error(`not a certificate the mock runtime issued: subject ${cert.subject}, issuer ${cert.issuer}`);
    }
    return name;
}
