// X.509 checks of a workload's proxy certificate, with Node's crypto.X509Certificate.
import { X509Certificate } from "crypto";

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM bundle, in order. */
export function parsePemBundle(pem: string): X509Certificate[] {
    return (pem.match(PEM_BLOCK) ?? []).map((block) => new X509Certificate(block));
}

/** The URI SANs of a certificate (Node renders SANs as `URI:spiffe://..., DNS:...`). */
export function uriSans(cert: X509Certificate): string[] {
    return (cert.subjectAltName ?? "")
        .split(/,\s*/)
        .filter((entry) => entry.startsWith("URI:"))
        .map((entry) => entry.slice("URI:".length));
}

/** The certificates an Envoy proxy holds, from its admin `config_dump` (secrets section). */
export interface ProxySecrets {
    /** The workload certificate chain (SDS secret `default`), leaf first. */
    readonly chain: X509Certificate[];
    /** The roots the proxy validates peers with (SDS secret `ROOTCA`). */
    readonly roots: X509Certificate[];
}

interface DynamicSecret {
    name?: string;
    secret?: {
        tls_certificate?: { certificate_chain?: { inline_bytes?: string } };
        validation_context?: {
            trusted_ca?: { inline_bytes?: string };
            custom_validator_config?: {
                typed_config?: { trust_domains?: { trust_bundle?: { inline_bytes?: string } }[] };
            };
        };
    };
}

const decode = (b64: string | undefined) => (b64 ? Buffer.from(b64, "base64").toString("utf8") : "");

/**
 * Reads the `default` and `ROOTCA` secrets out of Envoy's config dump. Accepts
 * the whole dump (a SecretsConfigDump with `dynamic_active_secrets`) and the
 * `?resource=dynamic_active_secrets` form (one DynamicSecret per config).
 * Envoy's `/certs` lists only metadata, so the PEM comes from here (as
 * `istioctl proxy-config secret` does).
 */
export function proxySecretsFromConfigDump(json: string): ProxySecrets {
    const dump = JSON.parse(json) as { configs?: (DynamicSecret & { dynamic_active_secrets?: DynamicSecret[] })[] };
    const secrets: DynamicSecret[] = (dump.configs ?? []).flatMap(
        (c) => c.dynamic_active_secrets ?? (c.secret ? [c] : []),
    );
    const byName = (name: string) => secrets.find((s) => s.name === name)?.secret;
    const chain = parsePemBundle(decode(byName("default")?.tls_certificate?.certificate_chain?.inline_bytes));
    const validation = byName("ROOTCA")?.validation_context;
    const bundles = [
        decode(validation?.trusted_ca?.inline_bytes),
        ...(validation?.custom_validator_config?.typed_config?.trust_domains ?? []).map((td) =>
            decode(td.trust_bundle?.inline_bytes),
        ),
    ];
    return { chain, roots: bundles.flatMap(parsePemBundle) };
}

/**
 * Problems with a workload chain: the leaf must carry `expectedId` as a URI SAN,
 * not be a CA, be valid at `now`, and chain, signature by signature, through
 * the CA certificates it came with, to `root`. The root is its key: the chain
 * ends there when a certificate's signature verifies with the root's public key
 * (or the chain carries the root itself, equal by SHA-256 fingerprint), never
 * because a name matches. A root with the same subject and another key (the
 * peer's in a federated lab whose roots share a name) is told apart and named.
 * An empty list means it is good.
 */
export function chainProblems(
    chain: X509Certificate[],
    root: X509Certificate,
    expectedId: string,
    now: Date,
): string[] {
    const leaf = chain[0];
    if (leaf === undefined) return ["the proxy holds no workload certificate"];
    const problems: string[] = [];
    const sans = uriSans(leaf);
    if (!sans.includes(expectedId)) problems.push(`leaf URI SANs are [${sans.join(", ")}], expected ${expectedId}`);
    if (leaf.ca) problems.push("the leaf is a CA certificate");

    const intermediates = chain.slice(1);
    let current = leaf;
    const path: string[] = [];
    for (let depth = 0; depth <= chain.length; depth++) {
        if (!validAt(current, now))
            problems.push(
                `"${current.subject}" is not valid at ${now.toISOString()} (${current.validFrom} - ${current.validTo})`,
            );
        if (isRoot(current, root) || signedBy(current, root)) {
            path.push(`"${root.subject}"`);
            return problems;
        }
        if (current.subject === root.subject) {
            problems.push(
                `"${current.subject}" has the lab root's subject but another key (SHA-256 fingerprint ${current.fingerprint256}, the lab root's ${root.fingerprint256})`,
            );
            return problems;
        }
        const issuer = intermediates.find((c) => c !== current && c.ca && signedBy(current, c));
        if (issuer === undefined) {
            // A CA that the certificate names (issuer name and key id) but whose key did not sign it: forged or corrupted.
            const named = [root, ...intermediates].find((c) => c !== current && c.ca && current.checkIssued(c));
            problems.push(
                named
                    ? `"${current.subject}" names "${named.subject}" as its issuer, but its signature does not verify with ${named === root ? "the lab root's" : "that CA's"} key`
                    : `"${current.subject}" (issuer "${current.issuer}") is not signed by the lab root or by a CA in its chain`,
            );
            return problems;
        }
        path.push(`"${issuer.subject}"`);
        current = issuer;
    }
    problems.push(`the chain loops: ${path.join(" -> ")}`);
    return problems;
}

/** The same certificate as the root: equal DER, by fingerprint. */
function isRoot(cert: X509Certificate, root: X509Certificate): boolean {
    return cert.fingerprint256 === root.fingerprint256;
}

/** Whether `issuer`'s key signed `cert`: the signature decides (names and key ids only say whom a certificate claims). */
function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
    try {
        return cert.verify(issuer.publicKey);
    } catch {
        // A key of another algorithm than the signature's.
        return false;
    }
}

function validAt(cert: X509Certificate, now: Date): boolean {
    return new Date(cert.validFrom) <= now && now <= new Date(cert.validTo);
}

/** Whether `root` is among the roots the proxy trusts. */
export function trustsRoot(roots: X509Certificate[], root: X509Certificate): boolean {
    return roots.some((r) => r.fingerprint256 === root.fingerprint256);
}
