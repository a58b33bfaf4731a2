import * as pulumi from "@pulumi/pulumi";
import { workloadPrincipal } from "../model/lab";
import { TypedCustomResource } from "./crd";

// Spec interfaces from the Istio CRDs (security.istio.io/v1, Istio 1.24
// crd-all.gen.yaml; unchanged in 1.30): only the fields this testbed sets.

/** PeerAuthentication.spec. */
export interface PeerAuthenticationSpec {
    readonly selector?: WorkloadSelector;
    readonly mtls?: { readonly mode: "UNSET" | "DISABLE" | "PERMISSIVE" | "STRICT" };
}

/** RequestAuthentication.spec. */
export interface RequestAuthenticationSpec {
    readonly selector?: WorkloadSelector;
    readonly jwtRules: JwtRule[];
}

export interface JwtRule {
    /** The token's `iss`; also the prefix of the request principal `<iss>/<sub>`. */
    readonly issuer: string;
    readonly jwksUri?: string;
    readonly audiences?: string[];
    readonly forwardOriginalToken?: boolean;
}

/** AuthorizationPolicy.spec. An empty spec in a namespace denies every request to it. */
export interface AuthorizationPolicySpec {
    readonly selector?: WorkloadSelector;
    readonly action?: "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";
    readonly rules?: AuthorizationRule[];
}

export interface AuthorizationRule {
    readonly from?: { readonly source: AuthorizationSource }[];
    readonly to?: {
        readonly operation: { readonly methods?: string[]; readonly paths?: string[]; readonly ports?: string[] };
    }[];
}

export interface AuthorizationSource {
    /** mTLS peer identities, `<trust domain>/ns/<namespace>/sa/<service account>`. */
    readonly principals?: string[];
    /** JWT identities, `<iss>/<sub>`; `*` matches any suffix or prefix. */
    readonly requestPrincipals?: string[];
    readonly namespaces?: string[];
}

export interface WorkloadSelector {
    readonly matchLabels: Record<string, string>;
}

/** DestinationRule.spec (networking.istio.io/v1): only the fields this testbed sets. */
export interface DestinationRuleSpec {
    readonly host: string;
    readonly trafficPolicy: { readonly tls: { readonly mode: "ISTIO_MUTUAL"; readonly subjectAltNames: string[] } };
}

/** A service account, as the mTLS principal of its pods. */
export interface ServiceAccountRef {
    readonly namespace: string;
    readonly serviceAccount: string;
}

/** A caller of a workload: a service account of this cluster, and with `fromPeers` the same account in every peer cluster. */
export interface Caller extends ServiceAccountRef {
    /** Also the peers' pods with this namespace and service account (their trust domains' principals, named one by one). */
    readonly fromPeers?: boolean;
    /** The trust domains it is admitted in, in place of this cluster's (and the peers' with `fromPeers`): those of the clusters it runs in. */
    readonly trustDomains?: readonly string[];
}

/** Who may call one workload in a default-deny namespace. */
export interface WorkloadAllow {
    /** The AuthorizationPolicy's name in the workload's namespace. */
    readonly name: string;
    /** The pod labels of the workload the policy admits calls to. */
    readonly workload: Record<string, string>;
    /** The callers, by service account. */
    readonly callers: Caller[];
}

/** A Service that every cluster runs behind one service account, and that callers in every cluster reach across clusters. */
export interface MeshService {
    /** The Service's name in the namespace. */
    readonly service: string;
    /** The service account its pods run as, in every cluster. */
    readonly serviceAccount: string;
}

/** A namespace where every request is denied except the traffic listed. */
export interface DefaultDenyNamespace {
    /** The namespace's name; child resource names derive from it. */
    readonly name: string;
    /** The Namespace resource's `metadata.name`: the policies wait for the namespace through it. */
    readonly namespace: pulumi.Input<string>;
    /** The only calls admitted. */
    readonly allows: WorkloadAllow[];
    /** Its Services called across clusters: with peer trust domains, each gets the identities that may serve it in every one. */
    readonly meshServices: MeshService[];
}

export interface MeshPoliciesArgs {
    /** Istio's CRDs and istiod (ServiceMesh.control): every policy waits for them. */
    readonly control: pulumi.Resource[];
    /** Istio's root namespace, where a PeerAuthentication applies to the whole mesh. */
    readonly rootNamespace: string;
    /** Namespace of the ingress gateway. */
    readonly ingressNamespace: string;
    /** Pod labels of the ingress gateway (ServiceMesh.ingressSelector). */
    readonly ingressSelector: Record<string, string>;
    /** The OIDC issuer whose tokens the ingress accepts (`iss`). */
    readonly issuer: string;
    /** Where the issuer publishes its signing keys. istiod fetches it, not the gateway (see below). */
    readonly jwksUri: string;
    /** Accepted `aud` values; empty accepts any audience of the issuer. */
    readonly audiences: string[];
    /** The mesh's trust domain, the first segment of every mTLS principal of this cluster. */
    readonly trustDomain: string;
    /**
     * The peers' trust domains (federated model; empty in the shared one). A caller
     * `fromPeers` is admitted by its principal in each of them, named explicitly:
     * istiod gets no trust domain aliases, which would make every principal of a
     * policy stand for the same account in every domain (components/istio.ts, meshConfigOf).
     */
    readonly peerTrustDomains: string[];
    /** Workload namespaces that deny every request but the traffic they list. */
    readonly defaultDeny: DefaultDenyNamespace[];
}

/** The request principal pattern that matches every token from `issuer` (Istio: `<iss>/<sub>`). */
export function issuerPrincipals(issuer: string): string {
    return `${issuer}/*`;
}

/** The mTLS principal of a service account's pods (SPIFFE ID without `spiffe://`). */
export function principalOf(trustDomain: string, sa: ServiceAccountRef): string {
    return workloadPrincipal(trustDomain, sa.namespace, sa.serviceAccount);
}

/** The principals a policy admits for `callers`: each in this trust domain, and one per peer trust domain for those `fromPeers`. */
export function callerPrincipals(
    trustDomain: string,
    peerTrustDomains: readonly string[],
    callers: readonly Caller[],
): string[] {
    return callers.flatMap((c) =>
        (c.trustDomains ?? [trustDomain, ...(c.fromPeers ? peerTrustDomains : [])]).map((td) => principalOf(td, c)),
    );
}

/**
 * The identities that may serve a mesh Service, as URI SANs: its service account in
 * every trust domain of the lab. Without them a caller's proxy expects the Service's
 * pods of every cluster under its own trust domain, since istiod names a pod of any
 * cluster by the local one (pilot/pkg/serviceregistry/kube/controller/endpoint_builder.go,
 * SecureNamingSAN with meshWatcher.TrustDomain()), and refuses the peer's certificate;
 * only trust domain aliases would widen that (pilot/pkg/model/push_context.go,
 * addServiceAccounts). A DestinationRule's subjectAltNames replace the list
 * (pilot/pkg/networking/core/cluster_tls.go, buildUpstreamTLSSettings).
 */
export function servingSans(trustDomains: readonly string[], namespace: string, svc: MeshService): string[] {
    return trustDomains.map((td) => `spiffe://${workloadPrincipal(td, namespace, svc.serviceAccount)}`);
}

/**
 * The zero-trust rules of one cluster, as Istio security resources:
 *
 * - mesh-wide mTLS: a `PeerAuthentication` named `default` in the root namespace,
 *   mode STRICT, so no sidecar accepts plain text;
 * - end-user authentication at the ingress gateway: a `RequestAuthentication`
 *   that validates tokens from the lab issuer, and an ALLOW `AuthorizationPolicy`
 *   that admits only requests carrying a principal from that issuer. (A
 *   RequestAuthentication alone rejects bad tokens but lets requests without
 *   one through; the AuthorizationPolicy is what makes a token mandatory.)
 * - optionally, default-deny namespaces (an empty AuthorizationPolicy) with one
 *   ALLOW policy per workload naming its callers by mTLS principal, and in the
 *   federated model a DestinationRule per mesh Service naming who may serve it in
 *   each trust domain.
 *
 * JWKS pitfalls. istiod, not the gateway, fetches `jwksUri` and pushes the keys
 * inline to the gateway:
 * - The issuer on comp1 has a certificate from the lab root CA, which istiod
 *   does not trust by default: the istiod chart's top-level
 *   `jwksResolverExtraRootCA` must carry the lab root (istio/istio#46350,
 *   #29212; IstioPrimary sets it). Otherwise the fetch fails on TLS.
 * - If istiod cannot reach the issuer when it first resolves the rule, it
 *   pushes a fake JWKS and every token fails with "Jwks doesn't have key to
 *   match kid" until its periodic refresh succeeds (istio/istio#53260). So the
 *   issuer on comp1 must be up before istiod starts; if it was not, restart
 *   istiod once the issuer answers:
 *   `kubectl -n istio-system rollout restart deployment/istiod`.
 *
 * Cilium's L7 HTTP policies do not mix with STRICT mTLS (they cannot read
 * encrypted traffic): Cilium policies in meshed namespaces stay at L3/L4.
 */
export class MeshPolicies extends pulumi.ComponentResource {
    /** The mesh-wide STRICT PeerAuthentication. */
    public readonly peerAuthentication: TypedCustomResource<PeerAuthenticationSpec>;
    /** The ingress gateway's JWT rule. */
    public readonly ingressJwt: TypedCustomResource<RequestAuthenticationSpec>;
    /** The ingress gateway's "token required" rule. */
    public readonly ingressRequireJwt: TypedCustomResource<AuthorizationPolicySpec>;

    constructor(name: string, args: MeshPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:policy:MeshPolicies", name, {}, opts);
        // Istio's CRDs come from the control plane's charts: no data flows from them to a policy, so dependsOn.
        const child: pulumi.CustomResourceOptions = { parent: this, dependsOn: args.control };
        const ingress: WorkloadSelector = { matchLabels: args.ingressSelector };

        this.peerAuthentication = new TypedCustomResource<PeerAuthenticationSpec>(
            `${name}-mesh-mtls`,
            {
                apiVersion: "security.istio.io/v1",
                kind: "PeerAuthentication",
                // "default" in the root namespace is the mesh-wide policy (Istio docs, "Enable mutual TLS mesh-wide").
                metadata: { name: "default", namespace: args.rootNamespace },
                spec: { mtls: { mode: "STRICT" } },
            },
            child,
        );

        this.ingressJwt = new TypedCustomResource<RequestAuthenticationSpec>(
            `${name}-ingress-jwt`,
            {
                apiVersion: "security.istio.io/v1",
                kind: "RequestAuthentication",
                metadata: { name: "ingress-jwt", namespace: args.ingressNamespace },
                spec: {
                    selector: ingress,
                    jwtRules: [
                        {
                            issuer: args.issuer,
                            jwksUri: args.jwksUri,
                            ...(args.audiences.length > 0 ? { audiences: args.audiences } : {}),
                        },
                    ],
                },
            },
            child,
        );

        this.ingressRequireJwt = new TypedCustomResource<AuthorizationPolicySpec>(
            `${name}-ingress-require-jwt`,
            {
                apiVersion: "security.istio.io/v1",
                kind: "AuthorizationPolicy",
                metadata: { name: "ingress-require-jwt", namespace: args.ingressNamespace },
                spec: {
                    selector: ingress,
                    action: "ALLOW",
                    rules: [{ from: [{ source: { requestPrincipals: [issuerPrincipals(args.issuer)] } }] }],
                },
            },
            child,
        );

        for (const ns of args.defaultDeny) {
            new TypedCustomResource<AuthorizationPolicySpec>(
                `${name}-${ns.name}-allow-nothing`,
                {
                    apiVersion: "security.istio.io/v1",
                    kind: "AuthorizationPolicy",
                    // An ALLOW policy with no rules matches nothing: every request to the namespace is denied
                    // unless another ALLOW policy admits it (Istio docs, "allow-nothing").
                    metadata: { name: "allow-nothing", namespace: ns.namespace },
                    spec: {},
                },
                child,
            );
            for (const allow of ns.allows) {
                const principals = callerPrincipals(args.trustDomain, args.peerTrustDomains, allow.callers);
                // A source without principals would match every caller: with none known (yet), allow-nothing stands.
                if (principals.length === 0) continue;
                new TypedCustomResource<AuthorizationPolicySpec>(
                    `${name}-${ns.name}-${allow.name}`,
                    {
                        apiVersion: "security.istio.io/v1",
                        kind: "AuthorizationPolicy",
                        metadata: { name: allow.name, namespace: ns.namespace },
                        spec: {
                            selector: { matchLabels: allow.workload },
                            action: "ALLOW",
                            rules: [
                                {
                                    from: [{ source: { principals } }],
                                },
                            ],
                        },
                    },
                    child,
                );
            }
            for (const svc of args.peerTrustDomains.length > 0 ? ns.meshServices : []) {
                new TypedCustomResource<DestinationRuleSpec>(
                    `${name}-${ns.name}-${svc.service}-servers`,
                    {
                        apiVersion: "networking.istio.io/v1",
                        kind: "DestinationRule",
                        metadata: { name: `${svc.service}-servers`, namespace: ns.namespace },
                        spec: {
                            host: `${svc.service}.${ns.name}.svc.cluster.local`,
                            trafficPolicy: {
                                tls: {
                                    mode: "ISTIO_MUTUAL",
                                    subjectAltNames: servingSans(
                                        [args.trustDomain, ...args.peerTrustDomains],
                                        ns.name,
                                        svc,
                                    ),
                                },
                            },
                        },
                    },
                    child,
                );
            }
        }

        this.registerOutputs({
            peerAuthentication: this.peerAuthentication,
            ingressJwt: this.ingressJwt,
            ingressRequireJwt: this.ingressRequireJwt,
        });
    }
}
