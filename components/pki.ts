import { createPublicKey, X509Certificate } from "crypto";
import { CertificationRequest } from "@peculiar/asn1-csr";
import { AsnConvert } from "@peculiar/asn1-schema";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { CAS_BELOW_ROOT, SignedIntermediates, SigningRequests } from "../model/lab";

/** Istio's plugged-in CA files, keyed as the `cacerts` Secret expects them. */
export interface IstioCaFiles {
    readonly "ca-cert.pem": string;
    readonly "ca-key.pem": string;
    readonly "root-cert.pem": string;
    readonly "cert-chain.pem": string;
}

/** SPIRE's disk UpstreamAuthority files, keyed as the upstream-authority Secret holds them. */
export interface SpireUpstreamFiles {
    readonly "tls.crt": string;
    readonly "tls.key": string;
    readonly "bundle.crt": string;
}

/** What one cluster's CAs run on. Contains private keys: always a secret, and never leaves the stack that made the keys. */
export interface ClusterIntermediates {
    readonly istio: IstioCaFiles;
    readonly spire: SpireUpstreamFiles;
}

/** One cluster's intermediate private keys (PEM, secret): only ever inside the stack that generated them. */
export interface IntermediateKeys {
    readonly istio: string;
    readonly spire: string;
}

/** The trust material a cluster works with, whichever stack owns the root. */
export interface ClusterTrust {
    /** The root CA certificate this cluster's identities chain to (PEM). Public. */
    readonly rootCaCert: pulumi.Output<string>;
    /** This cluster's intermediates (secret), assembled in this stack from its own keys. */
    readonly intermediates: pulumi.Output<ClusterIntermediates>;
}

/** How long intermediates live, and how early before their end a `pulumi up` re-issues them. */
export interface IntermediateLifetime {
    readonly validityHours: number;
    readonly earlyRenewalHours: number;
}

const CA_USES = ["cert_signing", "crl_signing", "digital_signature"];
const ORGANIZATION = "zta-testbed";
/** Generated CAs (the lab root, the lab-services CA) live ten years. */
const CA_VALIDITY_HOURS = 10 * 365 * 24;
/** The SPIRE upstream intermediate has one CA below it, the SPIRE server's own (model/lab.ts, CAS_BELOW_ROOT). */
const SPIRE_UPSTREAM_PATH_LENGTH = CAS_BELOW_ROOT - 1;

/** The common name of a generated root: it names the trust domain the root anchors. */
export function rootCommonName(trustDomain: string): string {
    return `zta-testbed root CA ${trustDomain}`;
}

/**
 * Istio's `cacerts` and SPIRE's upstream-authority files from this cluster's own
 * keys, the certificates the root signed for them, and the root. Pure: the keys
 * go in and come out in the files of this stack's own Secrets, nowhere else.
 */
export function assembleIntermediates(
    keys: IntermediateKeys,
    signed: SignedIntermediates,
    root: string,
): ClusterIntermediates {
    return {
        istio: {
            "ca-cert.pem": signed.istio,
            "ca-key.pem": keys.istio,
            "root-cert.pem": root,
            "cert-chain.pem": `${signed.istio.trimEnd()}\n${root.trimEnd()}\n`,
        },
        spire: { "tls.crt": signed.spire, "tls.key": keys.spire, "bundle.crt": root },
    };
}

/** The public key (SubjectPublicKeyInfo, DER) of a PKCS #10 signing request in PEM. */
export function requestPublicKey(pem: string): Buffer {
    const body =
        /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (?:NEW )?CERTIFICATE REQUEST-----/.exec(pem);
    if (!body) throw new Error("not a PEM certificate request");
    const csr = AsnConvert.parse(Buffer.from(body[1].replace(/\s+/g, ""), "base64"), CertificationRequest);
    const spki = Buffer.from(AsnConvert.serialize(csr.certificationRequestInfo.subjectPKInfo));
    // Through Node's key parser, so that both sides of a comparison are encoded alike.
    return createPublicKey({ key: spki, format: "der", type: "spki" }).export({ type: "spki", format: "der" });
}

/** The public key (SubjectPublicKeyInfo, DER) of a certificate in PEM (the first, for a chain). */
export function certificatePublicKey(pem: string): Buffer {
    return new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
}

/**
 * The intermediates (`istio`, `spire`) whose certificate was signed for another key
 * than the signing request of the same kind: a root signed them for requests this
 * cluster made before (its stack rebuilt with new keys). Pure; none when all match.
 */
export function signedForOtherKeys(
    requests: SigningRequests,
    signed: SignedIntermediates,
): (keyof SignedIntermediates)[] {
    return (["istio", "spire"] as const).filter(
        (kind) => !requestPublicKey(requests[kind]).equals(certificatePublicKey(signed[kind])),
    );
}

export interface ClusterCaArgs {
    /** The cluster whose intermediates these are: it names them in their subject. */
    readonly clusterName: string;
}

/**
 * One cluster's intermediate CA keys (Istio's plugged-in CA and SPIRE's upstream
 * authority) and a signing request for each. Declared by the stack of that
 * cluster and no other: the keys stay in its state and its cluster's Secrets,
 * only the requests leave it (the `signingRequests` output).
 */
export class ClusterCa extends pulumi.ComponentResource {
    /** The two signing requests (public). */
    public readonly signingRequests: pulumi.Output<SigningRequests>;
    private readonly keys: pulumi.Output<IntermediateKeys>;

    constructor(name: string, args: ClusterCaArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:pki:ClusterCa", name, {}, opts);
        const request = (kind: string, commonName: string) => {
            const key = new tls.PrivateKey(
                `${name}-${kind}-key`,
                { algorithm: "RSA", rsaBits: 4096 },
                { parent: this },
            );
            const csr = new tls.CertRequest(
                `${name}-${kind}-csr`,
                { privateKeyPem: key.privateKeyPem, subject: { commonName, organization: ORGANIZATION } },
                { parent: this },
            );
            return { key: key.privateKeyPem, csr: csr.certRequestPem };
        };
        const istio = request("istio", `Istio intermediate CA ${args.clusterName}`);
        const spire = request("spire", `SPIRE upstream CA ${args.clusterName}`);
        this.signingRequests = pulumi
            .all([istio.csr, spire.csr])
            .apply(([i, s]): SigningRequests => ({ istio: i, spire: s }));
        this.keys = pulumi.secret(
            pulumi.all([istio.key, spire.key]).apply(([i, s]): IntermediateKeys => ({ istio: i, spire: s })),
        );
        this.registerOutputs({ signingRequests: this.signingRequests });
    }

    /** This cluster's trust: its own keys with the certificates signed for them, chained to `rootCaCert`. */
    trust(rootCaCert: pulumi.Input<string>, signed: pulumi.Input<SignedIntermediates>): ClusterTrust {
        const root = pulumi.output(rootCaCert);
        const intermediates = pulumi
            .all([this.keys, signed, root])
            .apply(([keys, certs, r]) => assembleIntermediates(keys, certs, r));
        return { rootCaCert: root, intermediates: pulumi.secret(intermediates) };
    }
}

/** A root CA the lab brings instead of a generated one. */
export interface BroughtRoot {
    /** Its certificate (PEM). */
    readonly certPem: string;
    /** Its private key (PEM, secret). */
    readonly keyPem: pulumi.Input<string>;
}

/** One cluster whose intermediates the root signs. */
export interface SigningSubject {
    readonly cluster: string;
    readonly requests: pulumi.Input<SigningRequests>;
}

export interface PkiArgs {
    /** The trust domain this root anchors: a generated root names it in its subject. */
    readonly trustDomain: string;
    /** Every cluster to sign intermediates for, each with its own signing requests. */
    readonly sign: SigningSubject[];
    /** Validity and early renewal window of the intermediates. */
    readonly intermediates: IntermediateLifetime;
    /** A root the lab brings; absent: the root is generated here. */
    readonly root?: BroughtRoot;
    /** Generated root's lifetime; default ten years. */
    readonly rootValidityHours?: pulumi.Input<number>;
}

/**
 * A root CA (generated, or the lab's own) and the intermediates it signs from
 * each cluster's signing requests: the root stack signs for every cluster it
 * knows, in the federated model each stack for its own cluster only. It never
 * sees an intermediate's key.
 *
 * A generated root's key and certificate are `protect`ed: replacing them
 * invalidates every identity chained to the root.
 */
export class Pki extends pulumi.ComponentResource {
    /** Root CA certificate (PEM). */
    public readonly rootCaCert: pulumi.Output<string>;
    /** Root CA private key (PEM, secret): it signs the intermediates here and nothing else. */
    public readonly rootCaKey: pulumi.Output<string>;
    /** The signed intermediates by cluster name (public). */
    public readonly signedIntermediates: pulumi.Output<Record<string, SignedIntermediates>>;

    constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:pki:Pki", name, {}, opts);

        if (args.root) {
            this.rootCaCert = pulumi.output(args.root.certPem);
            this.rootCaKey = pulumi.secret(args.root.keyPem);
        } else {
            const rootKey = new tls.PrivateKey(
                `${name}-root-key`,
                { algorithm: "RSA", rsaBits: 4096 },
                { parent: this, protect: true },
            );
            const rootCert = new tls.SelfSignedCert(
                `${name}-root-cert`,
                {
                    privateKeyPem: rootKey.privateKeyPem,
                    // The subject names the trust domain, so that the roots of a federated lab differ by name
                    // too (verify tells them apart by key: verify/certs.ts).
                    subject: { commonName: rootCommonName(args.trustDomain), organization: ORGANIZATION },
                    isCaCertificate: true,
                    setSubjectKeyId: true,
                    allowedUses: CA_USES,
                    validityPeriodHours: args.rootValidityHours ?? CA_VALIDITY_HOURS,
                },
                // A lab deployed before the subject named the trust domain keeps its root: the subject
                // forces a replacement, which `protect` refuses and which would re-issue every identity.
                { parent: this, protect: true, ignoreChanges: ["subject"] },
            );
            this.rootCaCert = rootCert.certPem;
            this.rootCaKey = pulumi.secret(rootKey.privateKeyPem);
        }

        const signed = args.sign.map(({ cluster, requests }) => {
            const csrs = pulumi.output(requests);
            // Istio's intermediate signs workload leaves directly, so its path length should be 0;
            // the TLS provider cannot write 0 (docs/pki.md, "Path lengths"), so it carries none.
            const istio = this.sign(
                `${name}-${cluster}-istio`,
                csrs.apply((r) => r.istio),
                undefined,
                args.intermediates,
            );
            // SPIRE's upstream intermediate signs the SPIRE server's own CA, which signs the SVIDs:
            // exactly one CA below it, so path length 1 (which the provider does write).
            const spire = this.sign(
                `${name}-${cluster}-spire`,
                csrs.apply((r) => r.spire),
                SPIRE_UPSTREAM_PATH_LENGTH,
                args.intermediates,
            );
            return [
                cluster,
                pulumi
                    .all([istio.certPem, spire.certPem])
                    .apply(([i, s]): SignedIntermediates => ({ istio: i, spire: s })),
            ] as const;
        });
        this.signedIntermediates = pulumi
            .all(Object.fromEntries(signed))
            .apply((m) => m as Record<string, SignedIntermediates>);

        this.registerOutputs({
            rootCaCert: this.rootCaCert,
            rootCaKey: this.rootCaKey,
            signedIntermediates: this.signedIntermediates,
        });
    }

    private sign(
        name: string,
        request: pulumi.Output<string>,
        maxPathLength: number | undefined,
        lifetime: IntermediateLifetime,
    ): tls.LocallySignedCert {
        return new tls.LocallySignedCert(
            `${name}-cert`,
            {
                certRequestPem: request,
                caPrivateKeyPem: this.rootCaKey,
                caCertPem: this.rootCaCert,
                isCaCertificate: true,
                maxPathLength,
                setSubjectKeyId: true,
                allowedUses: [...CA_USES, "key_encipherment"],
                validityPeriodHours: lifetime.validityHours,
                // Inside this window before the end, the next `pulumi up` signs a new certificate for the same key.
                earlyRenewalHours: lifetime.earlyRenewalHours,
            },
            { parent: this },
        );
    }
}

/**
 * The lab-services CA: a self-signed root of its own that signs only comp1's
 * server certificates (the registry's and the lab issuer's), declared by the
 * root-role stack beside the lab root. The mesh root, whose intermediates' keys
 * sit in cluster Secrets, signs none of them, so the hosts and istiod trust this
 * CA only where comp1's servers are used: containerd's `hosts.toml` for the
 * registry and istiod's JWKS extra root for the issuer, never the system store.
 *
 * `protect`ed like the lab root: a new one means every node and istiod must trust
 * it again before the next image pull or JWKS fetch.
 */
export interface LabServicesCaArgs {
    /** Its lifetime; default ten years, like the generated lab root. */
    readonly validityHours?: number;
}

export class LabServicesCa extends pulumi.ComponentResource {
    /** Its certificate (PEM, public): the `labServicesCaCert` output. */
    public readonly certPem: pulumi.Output<string>;
    /** Its key (PEM, secret): signs comp1's server certificates in this stack only. */
    public readonly keyPem: pulumi.Output<string>;

    constructor(name: string, args: LabServicesCaArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("zta:pki:LabServicesCa", name, {}, opts);
        const key = new tls.PrivateKey(
            `${name}-key`,
            { algorithm: "ECDSA", ecdsaCurve: "P256" },
            { parent: this, protect: true },
        );
        const cert = new tls.SelfSignedCert(
            `${name}-cert`,
            {
                privateKeyPem: key.privateKeyPem,
                subject: { commonName: "zta-testbed lab-services CA", organization: ORGANIZATION },
                isCaCertificate: true,
                setSubjectKeyId: true,
                allowedUses: CA_USES,
                validityPeriodHours: args.validityHours ?? CA_VALIDITY_HOURS,
            },
            { parent: this, protect: true },
        );
        this.certPem = cert.certPem;
        this.keyPem = pulumi.secret(key.privateKeyPem);
        this.registerOutputs({ certPem: this.certPem, keyPem: this.keyPem });
    }
}
