// The certificates the mock runtime returns where a provider would issue one: real
// X.509 in PEM, so the program reads them as it reads the real ones (a SPIFFE bundle
// is made of the root), and still labelled: the subject's common name says which
// resource made it ("MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)"). Each is
// self-signed with an Ed25519 key derived from that label, whose signatures are
// deterministic, and carries fixed dates and serial: the same label gives the same
// PEM on every run, so the plan stays byte-identical from run to run.
import { createHash, createPrivateKey, createPublicKey, sign } from "crypto";
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

/** A self-signed certificate in PEM whose subject common name is `label`; a CA certificate when `ca`. */
export function mockCertificatePem(label: string, ca: boolean): string {
    const key = `${ca}:${label}`;
    const cached = cache.get(key);
    if (cached) return cached;
    const seed = createHash("sha256").update(`zta-testbed mock key: ${label}`).digest();
    const privateKey = createPrivateKey({
        key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
        format: "der",
        type: "pkcs8",
    });
    const name = new Name([
        new RelativeDistinguishedName([
            new AttributeTypeAndValue({ type: COMMON_NAME, value: new AttributeValue({ utf8String: label }) }),
        ]),
    ]);
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
            createPublicKey(privateKey).export({ type: "spki", format: "der" }),
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
    const pem = `-----BEGIN CERTIFICATE-----\n${der
        .toString("base64")
        .match(/.{1,64}/g)
        ?.join("\n")}\n-----END CERTIFICATE-----\n`;
    cache.set(key, pem);
    return pem;
}
