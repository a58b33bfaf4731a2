// What a root CA the lab brings (`pki.rootCaCert`) must be for the chains the lab
// builds under it: one certificate, a CA that may sign certificates, room for the
// SPIRE chain below it, no name constraint that shuts out the lab's SPIFFE IDs, and
// a life at least as long as the intermediates it signs. Node's X509Certificate
// reads the certificate; the extensions it does not expose (keyUsage bits,
// pathLenConstraint, name constraints) are parsed with @peculiar/asn1-x509.
import { X509Certificate } from "crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
    BasicConstraints,
    Certificate,
    GeneralSubtrees,
    id_ce_basicConstraints,
    id_ce_keyUsage,
    id_ce_nameConstraints,
    KeyUsage,
    KeyUsageFlags,
    NameConstraints,
} from "@peculiar/asn1-x509";
import { CAS_BELOW_ROOT } from "../../model/lab";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const HOUR_MS = 3_600_000;

/** A certificate's subject on one line, as messages name it: "CN=zta root, O=acme". */
export function subjectOf(cert: X509Certificate): string {
    return cert.subject.replace(/\n/g, ", ");
}

/** The value of extension `oid` parsed as `type`, or undefined when the certificate has none. */
function extension<T>(cert: X509Certificate, oid: string, type: new () => T): T | undefined {
    const ext = AsnConvert.parse(cert.raw, Certificate).tbsCertificate.extensions?.find((e) => e.extnID === oid);
    return ext ? AsnConvert.parse(ext.extnValue, type) : undefined;
}

/** A CA certificate's basicConstraints pathLenConstraint, or undefined when it sets none (Node's X509Certificate does not expose it). */
export function pathLenConstraintOf(cert: X509Certificate): number | undefined {
    return extension(cert, id_ce_basicConstraints, BasicConstraints)?.pathLenConstraint;
}

/**
 * Whether a URI name constraint (RFC 5280 4.2.1.10: a host, or with a leading
 * "." every host below it) covers the host of `spiffe://<trustDomain>/...`.
 */
function uriConstraintCovers(constraint: string, trustDomain: string): boolean {
    const c = constraint.toLowerCase();
    return c.startsWith(".") ? trustDomain.endsWith(c) : trustDomain === c;
}

function uriConstraints(subtrees: GeneralSubtrees | undefined): string[] {
    return (subtrees ?? []).flatMap((s) =>
        s.base.uniformResourceIdentifier !== undefined ? [s.base.uniformResourceIdentifier] : [],
    );
}

/**
 * The problems of the brought root on its own (the value of `pki.rootCaCert`),
 * the first one found: each names its subject and what to bring instead.
 */
export function rootCertificateProblem(pem: string, now = Date.now()): string | undefined {
    const blocks = pem.match(PEM_CERTIFICATE) ?? [];
    let certs: X509Certificate[];
    try {
        certs = blocks.map((b) => new X509Certificate(b));
        if (certs.length === 0) throw new Error("no certificate");
    } catch {
        return 'expected a PEM certificate (-----BEGIN CERTIFICATE-----): set it with `pulumi config set --path zta-testbed:pki.rootCaCert -- "$(cat root.pem)"`';
    }
    const [cert] = certs;
    const subject = subjectOf(cert);
    if (certs.length > 1) {
        return (
            `expected one certificate, the root CA, but it holds ${certs.length} (${certs.map((c) => `"${subjectOf(c)}"`).join(", ")}): ` +
            "each would become a root of the mesh (Istio's root-cert.pem, SPIRE's bundle); keep only the root that signs the intermediates"
        );
    }
    // basicConstraints as written: Node's `ca` is also false for a CA whose keyUsage lacks keyCertSign (OpenSSL's X509_check_ca), reported below.
    if (!extension(cert, id_ce_basicConstraints, BasicConstraints)?.cA)
        return `expected a CA certificate (basicConstraints CA:TRUE); "${subject}" is not one: bring the root CA's certificate`;
    if (Date.parse(cert.validTo) <= now || Date.parse(cert.validFrom) > now) {
        return `expected a certificate valid now; "${subject}" is valid from ${cert.validFrom} to ${cert.validTo}: bring a root that is valid now (or remove pki.rootCaCert to have one generated)`;
    }
    const usage = extension(cert, id_ce_keyUsage, KeyUsage);
    if (!usage || (usage.toNumber() & KeyUsageFlags.keyCertSign) === 0) {
        const has = usage
            ? `its keyUsage is ${usage.toJSON().join(", ") || "empty"}`
            : "it has no keyUsage extension (RFC 5280 4.2.1.3 requires one on a CA)";
        return `"${subject}" may not sign certificates: ${has}, without keyCertSign; bring a root whose keyUsage includes keyCertSign (and cRLSign)`;
    }
    const pathLen = pathLenConstraintOf(cert);
    if (pathLen !== undefined && pathLen < CAS_BELOW_ROOT) {
        return (
            `"${subject}" has pathLenConstraint ${pathLen}, but the lab puts ${CAS_BELOW_ROOT} CAs below its root ` +
            "(root -> SPIRE upstream intermediate -> SPIRE server CA -> SVID), so SPIRE's certificates would not verify; " +
            `bring a root with pathLenConstraint ${CAS_BELOW_ROOT} or more, or none`
        );
    }
    return undefined;
}

/** What the brought root must fit beyond itself: the trust domain it issues for and how long the intermediates live. */
export interface RootUse {
    readonly trustDomain: string;
    readonly intermediateValidityHours: number;
    readonly now?: number;
}

/**
 * The problems of a brought root (one that passed `rootCertificateProblem`) with
 * the lab it serves: name constraints that exclude the trust domain's SPIFFE IDs,
 * and an end before the intermediates it would sign now. Each message starts with
 * what it is about; the caller names the key and the file.
 */
export function rootUseProblems(pem: string, use: RootUse): string[] {
    const cert = new X509Certificate(pem);
    const subject = subjectOf(cert);
    const problems: string[] = [];
    const constraints = extension(cert, id_ce_nameConstraints, NameConstraints);
    if (constraints) {
        const id = `spiffe://${use.trustDomain}`;
        const permitted = uriConstraints(constraints.permittedSubtrees);
        const excluded = uriConstraints(constraints.excludedSubtrees).filter((c) =>
            uriConstraintCovers(c, use.trustDomain),
        );
        const shutOut = permitted.length > 0 && !permitted.some((c) => uriConstraintCovers(c, use.trustDomain));
        if (shutOut || excluded.length > 0) {
            const why = shutOut
                ? `its name constraints permit URIs only under ${permitted.map((c) => `"${c}"`).join(", ")}`
                : `its name constraints exclude URIs under ${excluded.map((c) => `"${c}"`).join(", ")}`;
            problems.push(
                `"${subject}": ${why}, which shuts out ${id}/..., the SPIFFE ID of every workload of trust domain "${use.trustDomain}"; ` +
                    `bring a root without URI name constraints, or one that permits "${use.trustDomain}"`,
            );
        }
    }
    const now = use.now ?? Date.now();
    const intermediatesEnd = now + use.intermediateValidityHours * HOUR_MS;
    if (Date.parse(cert.validTo) < intermediatesEnd) {
        problems.push(
            `"${subject}" ends ${new Date(Date.parse(cert.validTo)).toISOString()}, before the intermediates it would sign now ` +
                `(zta-testbed:pki.intermediateValidityHours = ${use.intermediateValidityHours}, until ${new Date(intermediatesEnd).toISOString()}): they would stop verifying with it; ` +
                "bring a root that outlives them, or lower zta-testbed:pki.intermediateValidityHours",
        );
    }
    return problems;
}
