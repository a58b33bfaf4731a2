import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

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

/** What one cluster needs from the lab PKI. Contains private keys: always a secret. */
export interface ClusterIntermediates {
    readonly istio: IstioCaFiles;
    readonly spire: SpireUpstreamFiles;
}

/** The trust material a cluster works with, whichever stack owns the root. */
export interface ClusterTrust {
    /** The lab root CA certificate (PEM). Public. */
    readonly rootCaCert: pulumi.Output<string>;
    /** This cluster's intermediates (secret). */
    readonly intermediates: pulumi.Output<ClusterIntermediates>;
}

export interface PkiArgs {
    /** Clusters to issue intermediates for: this stack's cluster and its peer's. */
    readonly clusters: string[];
    /** Subject organization on every certificate. */
    readonly organization: pulumi.Input<string>;
    /** Root CA lifetime; default ten years. */
    readonly rootValidityHours?: pulumi.Input<number>;
    /** Intermediate lifetime; default five years. */
    readonly intermediateValidityHours?: pulumi.Input<number>;
}

const CA_USES = ["cert_signing", "crl_signing", "digital_signature"];

/**
 * The lab PKI, declared by the root stack only: a root CA and, per cluster, an
 * Istio intermediate (istiod's plugged-in CA) and a SPIRE upstream intermediate
 * (SPIRE's disk UpstreamAuthority). Both clusters' workloads therefore chain to
 * one root, which is what cross-cluster mTLS verifies against.
 *
 * The root key and certificate are `protect`ed: replacing them invalidates every
 * identity in both clusters.
 */
export class Pki extends pulumi.ComponentResource {
    /** Root CA certificate (PEM). */
    public readonly rootCaCert: pulumi.Output<string>;
    /** Root CA private key (PEM, secret): only for signing lab server certificates such as the registry's. */
    public readonly rootCaKey: pulumi.Output<string>;
    /** Intermediates by cluster name (secret). */
    public readonly intermediates: pulumi.Output<Record<string, ClusterIntermediates>>;

    constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:pki:Pki", name, {}, opts);

        const rootKey = new tls.PrivateKey(`${name}-root-key`, { algorithm: "RSA", rsaBits: 4096 }, { parent: this, protect: true });
        const rootCert = new tls.SelfSignedCert(
            `${name}-root-cert`,
            {
                privateKeyPem: rootKey.privateKeyPem,
                subject: { commonName: "zta-testbed root CA", organization: args.organization },
                isCaCertificate: true,
                setSubjectKeyId: true,
                allowedUses: CA_USES,
                validityPeriodHours: args.rootValidityHours ?? 10 * 365 * 24,
            },
            { parent: this, protect: true },
        );
        this.rootCaCert = rootCert.certPem;
        this.rootCaKey = pulumi.secret(rootKey.privateKeyPem);

        const issued = args.clusters.map((cluster) => {
            // Istio's intermediate signs workload leaves directly (path length 0).
            const istio = this.intermediate(`${name}-${cluster}-istio`, `Istio intermediate CA ${cluster}`, 0, args, rootKey, rootCert);
            // SPIRE's upstream intermediate signs the SPIRE server's own CA, which signs SVIDs: no path length limit.
            const spire = this.intermediate(`${name}-${cluster}-spire`, `SPIRE upstream CA ${cluster}`, undefined, args, rootKey, rootCert);
            const files = pulumi
                .all([istio.key.privateKeyPem, istio.cert.certPem, spire.key.privateKeyPem, spire.cert.certPem, rootCert.certPem])
                .apply(
                    ([istioKey, istioCert, spireKey, spireCert, root]): ClusterIntermediates => ({
                        istio: {
                            "ca-cert.pem": istioCert,
                            "ca-key.pem": istioKey,
                            "root-cert.pem": root,
                            "cert-chain.pem": `${istioCert.trimEnd()}\n${root.trimEnd()}\n`,
                        },
                        spire: { "tls.crt": spireCert, "tls.key": spireKey, "bundle.crt": root },
                    }),
                );
            return [cluster, files] as const;
        });
        this.intermediates = pulumi.secret(
            pulumi.all(Object.fromEntries(issued)).apply((m) => m as Record<string, ClusterIntermediates>),
        );

        this.registerOutputs({ rootCaCert: this.rootCaCert, rootCaKey: this.rootCaKey, intermediates: this.intermediates });
    }

    /** This cluster's trust material from a PKI this stack owns. */
    trustFor(cluster: string): ClusterTrust {
        return { rootCaCert: this.rootCaCert, intermediates: pulumi.secret(this.intermediates.apply((m) => m[cluster])) };
    }

    private intermediate(
        name: string,
        commonName: string,
        maxPathLength: number | undefined,
        args: PkiArgs,
        rootKey: tls.PrivateKey,
        rootCert: tls.SelfSignedCert,
    ): { key: tls.PrivateKey; cert: tls.LocallySignedCert } {
        const key = new tls.PrivateKey(`${name}-key`, { algorithm: "RSA", rsaBits: 4096 }, { parent: this });
        const csr = new tls.CertRequest(
            `${name}-csr`,
            { privateKeyPem: key.privateKeyPem, subject: { commonName, organization: args.organization } },
            { parent: this },
        );
        const cert = new tls.LocallySignedCert(
            `${name}-cert`,
            {
                certRequestPem: csr.certRequestPem,
                caPrivateKeyPem: rootKey.privateKeyPem,
                caCertPem: rootCert.certPem,
                isCaCertificate: true,
                maxPathLength,
                setSubjectKeyId: true,
                allowedUses: [...CA_USES, "key_encipherment"],
                validityPeriodHours: args.intermediateValidityHours ?? 5 * 365 * 24,
            },
            { parent: this },
        );
        return { key, cert };
    }
}
