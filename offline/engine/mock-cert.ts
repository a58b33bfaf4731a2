// The certificates and signing requests the mock runtime returns where a provider
// would make one: real X.509 and PKCS #10 in PEM, so the program reads them as it
// reads the real ones (a SPIFFE bundle is made of the root; a peer compares the key of
// its last request with the key of the certificate the root signed), and still
// labelled: the subject's common name says which resource made it
// ("MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)", "MOCK-CSR(CertRequest/comp3-ca-istio-csr)").
// Every key is Ed25519, derived from a label, and its signatures are deterministic:
// a certificate is signed with the key of its own label, and carries that key unless
// it was issued for a signing request, whose key it carries then; a request carries
// and is signed with the key of its private key's label. Dates and serial are fixed:
// the same labels give the same PEM on every run, so the plan stays byte-identical
// from run to run.
import { createHash, createPrivateKey, createPublicKey, KeyObject, sign } from "crypto";
import { CertificationRequest, CertificationRequestInfo } from "@peculiar/asn1-csr";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
    AlgorithmIdentifier,
    AttributeTypeAndValue,
    AttributeValue,
    BasicConstraints,
    Certificate,
    Extension,
    Extensions,
    id_ce_basicConstraints,
    Name,
    RelativeDistinguishedName,
    SubjectPublicKeyInfo,
    TBSCertificate,
    Validity,
    Version,
} from "@peculiar/asn1-x509";

/** Ed25519 (RFC 8410): the algorithm of the key and of the signature. */
const ED25519 = "1.3.101.112";
/** id-at-commonName. */
const COMMON_NAME = "2.5.4.3";
/** A PKCS #8 Ed25519 private key is this DER prefix and the 32-byte seed (RFC 8410, section 7). */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
/** Valid from the start of 2000 and with no well-defined end (RFC 5280, 4.1.2.5): dates that never make a plan differ. */
const NOT_BEFORE = new Date(Date.UTC(2000, 0, 1));
const NOT_AFTER = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

const cache = new Map<string, string>();

/** The Ed25519 private key the mock runtime derives from `label`: the same label, the same key. */
export function mockPrivateKey(label: string): KeyObject {
    const seed = createHash("sha256").update(`zta-testbed mock key: ${label}`).digest();
    return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
}

/** The SubjectPublicKeyInfo (DER) of the key derived from `label`. */
function spkiOf(key: KeyObject): Buffer {
    return createPublicKey(key).export({ type: "spki", format: "der" });
}

/** A subject made of one common name. */
function nameOf(label: string): Name {
    return new Name([
        new RelativeDistinguishedName([
            new AttributeTypeAndValue({ type: COMMON_NAME, value: new AttributeValue({ utf8String: label }) }),
        ]),
    ]);
}

function pemOf(type: string, der: Buffer): string {
    return `-----BEGIN ${type}-----\n${der
        .toString("base64")
        .match(/.{1,64}/g)
        ?.join("\n")}\n-----END ${type}-----\n`;
}

/** The SubjectPublicKeyInfo (DER) of a PKCS #10 signing request in PEM. */
export function csrPublicKeyDer(pem: string): Buffer {
    const body =
        /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (?:NEW )?CERTIFICATE REQUEST-----/.exec(pem);
    if (!body) throw new Error("not a PEM certificate request");
    const csr = AsnConvert.parse(Buffer.from(body[1].replace(/\s+/g, ""), "base64"), CertificationRequest);
    return Buffer.from(AsnConvert.serialize(csr.certificationRequestInfo.subjectPKInfo));
}

/**
 * A PKCS #10 signing request in PEM whose subject common name is `label`, for the key
 * derived from `keyLabel` (the private key's placeholder) and signed with it.
 */
export function mockCsrPem(label: string, keyLabel: string): string {
    const key = `csr:${label}:${keyLabel}`;
    const cached = cache.get(key);
    if (cached) return cached;
    const privateKey = mockPrivateKey(keyLabel);
    const info = new CertificationRequestInfo({
        version: 0,
        subject: nameOf(label),
        subjectPKInfo: AsnConvert.parse(spkiOf(privateKey), SubjectPublicKeyInfo),
    });
    const signature = sign(null, Buffer.from(AsnConvert.serialize(info)), privateKey);
    const pem = pemOf(
        "CERTIFICATE REQUEST",
        Buffer.from(
            AsnConvert.serialize(
                new CertificationRequest({
                    certificationRequestInfo: info,
                    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: ED25519 }),
                    signature: new Uint8Array(signature).buffer,
                }),
            ),
        ),
    );
    cache.set(key, pem);
    return pem;
}

/**
 * A certificate in PEM whose subject and issuer common name is `label`, signed with
 * the key derived from `label`; a CA certificate when `ca`. It carries the key of
 * `requestPem` when given (a certificate issued for a signing request), else its own:
 * then it is self-signed.
 */
export function mockCertificatePem(label: string, ca: boolean, requestPem?: string): string {
    const key = `${ca}:${label}:${requestPem ?? ""}`;
    const cached = cache.get(key);
    if (cached) return cached;
    const privateKey = mockPrivateKey(label);
    const name = nameOf(label);
    // A positive serial number of 16 bytes, from the label.
    const serial = createHash("sha256").update(`zta-testbed mock serial: ${label}`).digest().subarray(0, 16);
    serial[0] &= 0x7f;
    const tbs = new TBSCertificate({
        version: Version.v3,
        serialNumber: new Uint8Array(serial).buffer,
        signature: new AlgorithmIdentifier({ algorithm: ED25519 }),
        issuer: name,
        validity: new Validity({ notBefore: NOT_BEFORE, notAfter: NOT_AFTER }),
        subject: name,
        subjectPublicKeyInfo: AsnConvert.parse(
            requestPem === undefined ? spkiOf(privateKey) : csrPublicKeyDer(requestPem),
            SubjectPublicKeyInfo,
        ),
        extensions: new Extensions([
            new Extension({
                extnID: id_ce_basicConstraints,
                critical: true,
                extnValue: new OctetString(AsnConvert.serialize(new BasicConstraints({ cA: ca }))),
            }),
        ]),
    });
    const signature = sign(null, Buffer.from(AsnConvert.serialize(tbs)), privateKey);
    const der = Buffer.from(
        AsnConvert.serialize(
            new Certificate({
                tbsCertificate: tbs,
                signatureAlgorithm: new AlgorithmIdentifier({ algorithm: ED25519 }),
                signatureValue: new Uint8Array(signature).buffer,
            }),
        ),
    );
    const pem = pemOf("CERTIFICATE", der);
    cache.set(key, pem);
    return pem;
}
