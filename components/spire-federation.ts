// SPIRE federation (the federated trust model, docs/spire.md): this server's bundle
// endpoint on a fixed MetalLB address, what the peers need to federate with it (the
// `federation` output), and a ClusterFederatedTrustDomain per peer.
import { X509Certificate } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { FEDERATION_PORT, METALLB_POOL, spiffeId, SpireFederation } from "../model/lab";
import { SPIRE_SERVER } from "../model/workloads";
import { TypedCustomResource } from "./crd";
import { loadBalancerAnnotations } from "./metallb";
import { SPIRE_CLASS_NAME, SPIRE_RELEASE } from "./spire-values";

/** ClusterFederatedTrustDomain spec, by hand from spire-controller-manager v0.6.2 `spire.spiffe.io_clusterfederatedtrustdomains.yaml`. */
export interface ClusterFederatedTrustDomainSpec {
    /** The federated trust domain, `[a-z0-9._-]{1,255}`. */
    readonly trustDomain: string;
    /** HTTPS URL of that trust domain's bundle endpoint (no userinfo). */
    readonly bundleEndpointURL: string;
    readonly bundleEndpointProfile: {
        readonly type: "https_spiffe" | "https_web";
        /** Required for `https_spiffe`: the SPIFFE ID the endpoint presents. */
        readonly endpointSPIFFEID?: string;
    };
    /** The trust domain's bundle (SPIFFE bundle format), to bootstrap the first fetch. */
    readonly trustDomainBundle?: string;
    /** The controller manager class that acts on this object. */
    readonly className?: string;
}

/** What the federated trust model adds to a SPIRE server. */
export interface SpireFederationArgs {
    /** Fixed MetalLB address of this server's bundle endpoint (`metallb.federationAddress`). */
    readonly address: string;
    /** MetalLB's pool and advertisement: the LoadBalancer Service gets its address from them. */
    readonly loadBalancer: pulumi.Resource[];
    /** This trust domain's own root CA (PEM): its bundle, which the peers bootstrap from. */
    readonly rootCaCert: pulumi.Input<string>;
    /** The peers to federate with: those that exported their `federation` (the others are not deployed yet). */
    readonly peers: readonly FederatedPeer[];
}

/** A peer cluster this SPIRE server federates with. */
export interface FederatedPeer {
    /** The peer cluster's name (a DNS label): names its ClusterFederatedTrustDomain. */
    readonly name: string;
    /** The peer's `federation` output. */
    readonly federation: pulumi.Input<SpireFederation>;
}

/** The federation of one SPIRE server: what the model adds, and the server it hangs on. */
export interface FederationArgs extends SpireFederationArgs {
    /** This server's trust domain. */
    readonly trustDomain: string;
    /** The server's namespace. */
    readonly namespace: pulumi.Input<string>;
    /** The CRDs and the release whose controller manager reconciles the ClusterFederatedTrustDomains. */
    readonly reconciledBy: pulumi.Resource[];
}

/**
 * The bundle endpoint's LoadBalancer Service and one ClusterFederatedTrustDomain per
 * peer, declared with the SPIRE server's child options `opts`. Returns the
 * `federation` output and the ClusterFederatedTrustDomains (what SVIDs wait for).
 */
export function declareFederation(
    name: string,
    fed: FederationArgs,
    opts: pulumi.CustomResourceOptions,
): { federation: pulumi.Output<SpireFederation>; peerDomains: pulumi.Resource[] } {
    new k8s.core.v1.Service(
        `${name}-federation`,
        {
            metadata: {
                name: "spire-server-federation",
                namespace: fed.namespace,
                annotations: loadBalancerAnnotations(fed.address, METALLB_POOL),
            },
            spec: {
                type: "LoadBalancer",
                // The chart's own Service would also expose the server API (gRPC 443) if made a
                // LoadBalancer; this one exposes only the bundle endpoint. Labels: the server
                // pod's (charts/spire-server/templates/server-resource.yaml, nameOverride "server").
                selector: {
                    ...SPIRE_SERVER.labels,
                    "app.kubernetes.io/instance": SPIRE_RELEASE,
                    "app.kubernetes.io/component": "server",
                },
                ports: [{ name: "federation", port: FEDERATION_PORT, targetPort: "federation", protocol: "TCP" }],
            },
        },
        // MetalLB must have its pool before it can hand out the fixed address; no data flows.
        { ...opts, dependsOn: fed.loadBalancer },
    );
    const bundleEndpointURL = `https://${fed.address}:${FEDERATION_PORT}`;
    const federation = pulumi.output(fed.rootCaCert).apply((root): SpireFederation => ({
        trustDomain: fed.trustDomain,
        bundleEndpointURL,
        endpointSPIFFEID: serverSpiffeId(fed.trustDomain),
        trustDomainBundle: spiffeBundle(root),
    }));

    // One ClusterFederatedTrustDomain per peer, named after its cluster.
    const peerDomains = fed.peers.map(
        (peer) =>
            new TypedCustomResource<ClusterFederatedTrustDomainSpec>(
                `${name}-federation-${peer.name}`,
                {
                    apiVersion: "spire.spiffe.io/v1alpha1",
                    kind: "ClusterFederatedTrustDomain",
                    metadata: { name: peer.name },
                    spec: pulumi.output(peer.federation).apply((p) => federatedTrustDomainSpec(p, SPIRE_CLASS_NAME)),
                },
                // Reconciled by the controller manager of the release; its CRD comes from spire-crds.
                { ...opts, dependsOn: fed.reconciledBy },
            ),
    );
    return { federation, peerDomains };
}

/** The SPIRE server's own SPIFFE ID, which its bundle endpoint presents (`https_spiffe`). */
export function serverSpiffeId(trustDomain: string): string {
    return spiffeId(trustDomain, "/spire/server");
}

/** A ClusterFederatedTrustDomain spec for a peer's exported federation. */
export function federatedTrustDomainSpec(peer: SpireFederation, className: string): ClusterFederatedTrustDomainSpec {
    return {
        trustDomain: peer.trustDomain,
        bundleEndpointURL: peer.bundleEndpointURL,
        bundleEndpointProfile: { type: "https_spiffe", endpointSPIFFEID: peer.endpointSPIFFEID },
        ...(peer.trustDomainBundle ? { trustDomainBundle: peer.trustDomainBundle } : {}),
        className,
    };
}

/**
 * A trust domain's bundle in SPIFFE bundle format (a JWKS whose keys have
 * `use: "x509-svid"` and one DER certificate in `x5c`), as spire-controller-manager
 * reads `trustDomainBundle` (go-spiffe `spiffebundle.Read`). Throws when the PEM
 * holds no certificate.
 *
 * With the disk UpstreamAuthority and `bundle_file_path`, a SPIRE server's X.509
 * authorities are the upstream bundle: the lab root. So the root is the peer's whole
 * initial bundle; the first fetch from the endpoint then brings its JWT keys too.
 */
export function spiffeBundle(pem: string): string {
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new Error("no PEM certificate to build a SPIFFE bundle from");
    const keys = blocks.map((block) => {
        const cert = new X509Certificate(block);
        return { use: "x509-svid", ...cert.publicKey.export({ format: "jwk" }), x5c: [cert.raw.toString("base64")] };
    });
    return JSON.stringify({ keys });
}
