// The certificates and signing requests the mock runtime makes (offline/engine/mock-cert.ts)
// are real X.509 and PKCS #10 in PEM, and the common name of each names the resource that
// made it, as the placeholders did before: "MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)",
// "MOCK-CSR(CertRequest/comp3-ca-istio-csr)". The tests follow them through the plan by that name.
import { createPublicKey, verify, X509Certificate } from "crypto";
import { CertificationRequest } from "@peculiar/asn1-csr";
import { AsnConvert } from "@peculiar/asn1-schema";
import { mockPrivateKey } from "../offline/engine/mock-cert";

/**
 * The name of a certificate the mock runtime made (of the first, for a chain); throws when `pem`
 * is not one: its subject and issuer are its name, and it is signed with the mock key of that name
 * (it carries that key too, unless it was issued for a signing request: then it carries the request's).
 */
export function mockCertName(pem: unknown): string {
    const cert = new X509Certificate(String(pem));
    const name = /^CN=(.*)$/m.exec(cert.subject)?.[1];
    if (
        name === undefined ||
        !name.startsWith("MOCK-CERT(") ||
        cert.subject !== cert.issuer ||
        !cert.verify(createPublicKey(mockPrivateKey(name)))
    ) {
        throw new Error(`not a certificate the mock runtime issued: subject ${cert.subject}, issuer ${cert.issuer}`);
    }
    return name;
}

/** A PKCS #10 request in PEM, parsed: its subject's common name, its public key (SPKI, DER), and whether its signature verifies with that key. */
export function parseCsr(pem: unknown): { name?: string; publicKey: Buffer; selfSigned: boolean } {
    const body = /-----BEGIN CERTIFICATE REQUEST-----([\s\S]*?)-----END CERTIFICATE REQUEST-----/.exec(String(pem));
    if (!body) throw new Error(`not a PEM certificate request: ${String(pem).slice(0, 60)}`);
    const der = Buffer.from(body[1].replace(/\s+/g, ""), "base64");
    const csr = AsnConvert.parse(der, CertificationRequest);
    const info = csr.certificationRequestInfo;
    const publicKey = Buffer.from(AsnConvert.serialize(info.subjectPKInfo));
    const cn = info.subject
        .flatMap((rdn) => [...rdn])
        .find((atv) => atv.type === "2.5.4.3")
        ?.value.toString();
    const selfSigned = verify(
        null,
        Buffer.from(AsnConvert.serialize(info)),
        createPublicKey({ key: publicKey, format: "der", type: "spki" }),
        Buffer.from(csr.signature),
    );
    return { name: cn, publicKey, selfSigned };
}

/** The name of a signing request the mock runtime made; throws when `pem` is not one. */
export function mockCsrName(pem: unknown): string {
    const { name, selfSigned } = parseCsr(pem);
    if (name === undefined || !name.startsWith("MOCK-CSR(") || !selfSigned)
        throw new Error(`not a signing request the mock runtime made: subject CN=${name}`);
    return name;
}
