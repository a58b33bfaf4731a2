import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import {
    ClusterNetwork,
    INGRESS_GATEWAY,
    ISTIO_NAMESPACE,
    MeshIdentity,
    SPIFFE_CSI_DRIVER,
    SPIRE_MANAGED_LABEL,
} from "../model/lab";
import { helmRelease } from "./chart";
import { gatewayRelease, ISTIO_HUB, istioChart, WORKLOAD_SOCKET_DIR, WORKLOAD_SOCKET_VOLUME } from "./gateway";
import { gatewaySelectorLabels, NETWORK_LABEL } from "./gateway-labels";
import { IstioCaFiles } from "./pki";

/**
 * The charts' reader RBAC, off: `base` would create istio-reader-service-account
 * (templates/reader-serviceaccount.yaml) and `istiod` bind it to a ClusterRole that
 * reads every Secret (templates/reader-clusterrole.yaml, reader-clusterrolebinding.yaml).
 * The peers get the token of our own reader instead (components/remotesecret.ts).
 */
export const READER_RBAC_OFF = { enableReaderRBAC: false } as const;

/** The keys of istiod's plugged-in CA Secret `cacerts` (all four, or istiod reports an incomplete bundle). */
export const CACERTS_KEYS: readonly (keyof IstioCaFiles)[] = [
    "ca-cert.pem",
    "ca-key.pem",
    "root-cert.pem",
    "cert-chain.pem",
];

/**
 * The `spire` injection template, for workloads annotated
 * `inject.istio.io/templates: sidecar,spire`: labels the pod for its
 * ClusterSPIFFEID and replaces the template's `workload-socket` emptyDir with the
 * SPIFFE CSI volume, mounted on istio-proxy where istio.io's SPIRE task mounts it.
 *
 * Native sidecars: from Kubernetes 1.33 istiod injects istio-proxy as an init
 * container (ENABLE_NATIVE_SIDECARS=auto). istio.io's template patches
 * `containers`, which there adds a second, image-less istio-proxy. This one
 * decides exactly as the built-in `sidecar` template does (the pod annotation
 * `sidecar.istio.io/nativeSidecar`, else `.NativeSidecars`), so it works in both
 * modes. It is for sidecars only: the gateway chart's istio-proxy is always a
 * regular container, so the gateways mount the socket through their chart
 * values instead (components/gateway.ts, spiffeSocketValues).
 * The label goes under `metadata:`; istio.io's top-level `labels:` is not a Pod field.
 */
export const SPIRE_TEMPLATE = `{{- $native := ne (index .ObjectMeta.Annotations \`sidecar.istio.io/nativeSidecar\` | default (printf "%t" .NativeSidecars)) "false" }}
metadata:
  labels:
    ${SPIRE_MANAGED_LABEL}: "true"
spec:
  {{- if $native }}
  initContainers:
  {{- else }}
  containers:
  {{- end }}
  - name: istio-proxy
    volumeMounts:
    - name: ${WORKLOAD_SOCKET_VOLUME}
      mountPath: ${WORKLOAD_SOCKET_DIR}
      readOnly: true
  volumes:
  - name: ${WORKLOAD_SOCKET_VOLUME}
    csi:
      driver: "${SPIFFE_CSI_DRIVER}"
      readOnly: true
`;

export interface IstioPrimaryArgs {
    /** Istio chart version (base, istiod, gateway), e.g. "1.30.3". */
    readonly version: string;
    /** istiod's `global.hub`, where it runs and injects proxies from; default ISTIO_HUB. The gateways' socket wait uses the same. */
    readonly hub?: string;
    /** `global.multiCluster.clusterName`: this cluster's id in the mesh. */
    readonly clusterName: string;
    /** `global.network` and the istio-system network label. */
    readonly network: string;
    /** `global.meshID`, shared by both clusters. */
    readonly meshId: string;
    /** `meshConfig.trustDomain`: the SPIRE trust domain. */
    readonly trustDomain: string;
    /** The federated trust model: SPIRE identities for every workload, and the peers' trust domains. Absent in the shared model. */
    readonly federation?: IstioFederation;
    /**
     * This cluster's CA. Absent (its intermediates not signed yet): only istio-system
     * and `base` are declared, enough for the remote-secret exchange.
     */
    readonly ca?: IstioCaArgs;
    /**
     * The CA (PEM) istiod trusts, besides the system roots, when it fetches the
     * OIDC issuer's JWKS: the lab-services CA for the lab issuer (never a mesh
     * root), or an external issuer's own CA (`jwt.caCert`). Absent: the
     * lab-services CA is not known to this stack yet (the root stack not
     * deployed), and istiod trusts the system roots only.
     */
    readonly jwksCaCert?: pulumi.Input<string>;
    /** The lab issuer, when this stack runs it: istiod starts after it serves its keys (see components/meshpolicies.ts, "JWKS pitfalls"). */
    readonly issuer?: pulumi.Resource;
    /** The ingress gateway's fixed MetalLB address. */
    readonly ingressAddress: string;
    /** The ingress gateway's TLS: an optional DNS name for its certificate, and what port 80 does. */
    readonly ingressTls: { readonly hostName?: string; readonly plainHttp: "off" | "redirect" };
    /** CNI and MetalLB: pods wait for the CNI, the gateway's LoadBalancer for MetalLB. Absent in stacks without that layer. */
    readonly clusterNetwork?: ClusterNetwork;
    /** SPIRE: the ingress gateway mounts its CSI socket, so it waits for it. */
    readonly identity?: MeshIdentity;
}

/** What the federated trust model adds to istiod. */
export interface IstioFederation {
    /** Every peer whose trust domain and root are known (deployed); none before the peers are. */
    readonly peers: readonly PeerTrustAnchor[];
}

/** A peer's trust domain and the root that anchors it. */
export interface PeerTrustAnchor {
    readonly trustDomain: string;
    /** The peer's root CA certificate (PEM, public). */
    readonly rootCaCert: pulumi.Input<string>;
}

/** The injection templates every pod without an `inject.istio.io/templates` annotation gets in the federated model. */
export const FEDERATED_DEFAULT_TEMPLATES = ["sidecar", "spire"];

/**
 * istiod's meshConfig: its trust domain and, in the federated model, the peers'
 * trust domains as `caCertificates` entries (never `trustDomainAliases`).
 *
 * Why not aliases: istiod rewrites every AuthorizationPolicy principal whose trust
 * domain is the local one or an alias into the same principal in each of them
 * (pilot/pkg/security/trustdomain/bundle.go, ReplaceTrustDomainAliases, applied by
 * pilot/pkg/security/authz/model/model.go, MigrateTrustDomain), so with a peer's
 * domain as an alias `<peer>/ns/istio-system/sa/istio-ingressgateway` is the local
 * ingress gateway to every policy, and no policy can name a peer caller alone.
 *
 * What the entries do: the trust domains a server-side proxy accepts in a client
 * certificate's URI SAN are `trustDomain`, the aliases and every
 * `caCertificates[].trustDomains` (pilot/pkg/networking/plugin/authn/util.go,
 * TrustDomainsForValidation, the prefixes of pilot/pkg/security/model/authentication.go);
 * authorization reads only `trustDomain` and the aliases
 * (pilot/pkg/networking/plugin/authz/authorization.go). `pem` is the peer's root,
 * the anchor the field says the trust domains belong to; istiod hands `pem`
 * entries to proxies only with ISTIO_MULTIROOT_MESH on (pilot/pkg/xds/pcds.go),
 * which stays off: every proxy of the federated model takes its roots from the
 * SPIRE agent, one bundle per trust domain (Envoy's SPIFFE validator), so a peer's
 * root vouches only for the peer's identities.
 */
export function meshConfigOf(trustDomain: string, federation: IstioFederation | undefined): Record<string, unknown> {
    const peers = federation?.peers ?? [];
    return {
        trustDomain,
        ...(peers.length > 0
            ? { caCertificates: peers.map((p) => ({ pem: p.rootCaCert, trustDomains: [p.trustDomain] })) }
            : {}),
    };
}

/** What istiod's CA is made of. */
export interface IstioCaArgs {
    /** This cluster's Istio intermediate CA (secret): the `cacerts` Secret, and the signer of the ingress gateway's certificate. */
    readonly istioCa: pulumi.Output<IstioCaFiles>;
}

/**
 * One primary of the multi-primary, multi-network mesh (istio.io, "Install
 * Multi-Primary on different networks", Helm steps): the istio-system namespace
 * with its network label, the plugged-in CA, the `base` and `istiod` charts and
 * the ingress gateway. Charts are `helm.v3.Release`s (components/chart.ts).
 */
export class IstioPrimary extends pulumi.ComponentResource {
    /** istio-system, once it exists with its network label. */
    public readonly namespace: pulumi.Output<string>;
    /** istiod's plugged-in CA Secret (absent without `ca`, as are istiod and the ingress gateway). */
    public readonly cacerts?: k8s.core.v1.Secret;
    /** The `base` release (CRDs). */
    public readonly base: k8s.helm.v3.Release;
    /** The `istiod` release. */
    public readonly istiod?: k8s.helm.v3.Release;
    /** The ingress gateway release. */
    public readonly ingressGateway?: k8s.helm.v3.Release;
    /** The ingress gateway pods' selector labels. */
    public readonly ingressSelector: Record<string, string>;
    /** istiod's `global.hub`: every gateway's proxy image comes from here. */
    public readonly hub: string;
    /** The ingress gateway's TLS credential Secret (kubernetes.io/tls) in istio-system, for a Gateway's `credentialName` (absent without `ca`, which signs it). */
    public readonly ingressCredential?: k8s.core.v1.Secret;

    constructor(name: string, args: IstioPrimaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:mesh:IstioPrimary", name, {}, opts);
        const cni = args.clusterNetwork ? [args.clusterNetwork.cni] : [];
        this.hub = args.hub ?? ISTIO_HUB;

        // istiod reads the network of its own namespace from this label (Helm install step 1).
        const ns = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            { metadata: { name: ISTIO_NAMESPACE, labels: { [NETWORK_LABEL]: args.network } } },
            { parent: this },
        );
        this.namespace = ns.metadata.name;

        this.base = helmRelease(
            `${name}-base`,
            {
                ref: istioChart("base", args.version),
                namespace: this.namespace,
                releaseName: "istio-base",
                values: { global: READER_RBAC_OFF },
            },
            { parent: this },
        );

        this.ingressSelector = gatewaySelectorLabels(INGRESS_GATEWAY);
        const ca = args.ca;
        if (!ca) {
            this.registerOutputs({ namespace: this.namespace, base: this.base, ingressSelector: this.ingressSelector });
            return;
        }

        // Plugged-in CA (pilot/pkg/bootstrap/istio_ca.go): istiod uses it only when it
        // exists at startup and has no `istio-generated` key (istio#45291), hence
        // created before istiod and with exactly these keys. Each value stays secret;
        // the keys are visible in the plan.
        const cacerts = (this.cacerts = new k8s.core.v1.Secret(
            `${name}-cacerts`,
            {
                metadata: { name: "cacerts", namespace: this.namespace },
                type: "Opaque",
                stringData: Object.fromEntries(
                    CACERTS_KEYS.map((k) => [k, pulumi.secret(ca.istioCa.apply((files) => files[k]))]),
                ),
            },
            { parent: this, additionalSecretOutputs: ["data", "stringData"] },
        ));

        this.istiod = helmRelease(
            `${name}-istiod`,
            {
                ref: istioChart("istiod", args.version),
                namespace: this.namespace,
                releaseName: "istiod",
                values: {
                    global: {
                        hub: this.hub,
                        meshID: args.meshId,
                        multiCluster: { clusterName: args.clusterName },
                        network: args.network,
                        ...READER_RBAC_OFF,
                    },
                    meshConfig: meshConfigOf(args.trustDomain, args.federation),
                    // Federated model: every injected pod gets its identity from SPIRE (and with it the
                    // peers' bundles, scoped to their trust domains); istiod's CA carries only this cluster's root.
                    sidecarInjectorWebhook: {
                        templates: { spire: SPIRE_TEMPLATE },
                        ...(args.federation ? { defaultTemplates: FEDERATED_DEFAULT_TEMPLATES } : {}),
                    },
                    // Top-level in the Helm chart (`pilot.` is the IstioOperator path and is
                    // silently ignored): istiod fetches the issuer's JWKS trusting this CA (istio#46350).
                    ...(args.jwksCaCert !== undefined ? { jwksResolverExtraRootCA: args.jwksCaCert } : {}),
                },
            },
            // No data flows from these: istiod must find cacerts when it starts (or it
            // generates a self-signed root), and needs the CRDs of `base`.
            { parent: this, dependsOn: [cacerts, this.base, ...cni, ...(args.issuer ? [args.issuer] : [])] },
        );

        this.ingressCredential = ingressCredential(`${name}-ingress-tls`, this.namespace, ca, args, { parent: this });

        this.ingressGateway = gatewayRelease(
            `${name}-ingress`,
            {
                name: INGRESS_GATEWAY,
                version: args.version,
                hub: this.hub,
                namespace: this.namespace,
                address: args.ingressAddress,
                values: { service: { ports: ingressServicePorts(args.ingressTls.plainHttp) } },
            },
            // No data flows: the gateway's proxy is injected by istiod's webhook, its
            // LoadBalancer address comes from MetalLB, and its identity from SPIRE's CSI socket.
            {
                parent: this,
                dependsOn: [this.istiod, ...(args.clusterNetwork?.loadBalancer ?? []), ...(args.identity?.ready ?? [])],
            },
        );

        this.registerOutputs({
            namespace: this.namespace,
            cacerts: this.cacerts,
            base: this.base,
            istiod: this.istiod,
            ingressGateway: this.ingressGateway,
            ingressSelector: this.ingressSelector,
            ingressCredential: this.ingressCredential,
        });
    }
}

/** The ingress gateway's credential Secret: Gateways name it in `tls.credentialName` (same namespace as the gateway's pods). */
export const INGRESS_CREDENTIAL = "ingress-tls";

/**
 * The ingress gateway Service's ports. The chart's default (values.yaml 1.30.3:
 * status-port 15021, http2 80, https 443, each targetPort = port) is replaced so
 * that port 80 is not even open unless it redirects.
 */
export function ingressServicePorts(
    plainHttp: "off" | "redirect",
): { name: string; port: number; protocol: string; targetPort: number }[] {
    const port = (name: string, n: number) => ({ name, port: n, protocol: "TCP", targetPort: n });
    return [port("status-port", 15021), ...(plainHttp === "redirect" ? [port("http2", 80)] : []), port("https", 443)];
}

/**
 * The ingress gateway's serving certificate and its credential Secret.
 *
 * Who signs it: this cluster's Istio intermediate, which chains to the
 * cluster's root. Its key is made in this stack's ClusterCa and its
 * certificate is the one the root signed for that key's request
 * (components/pki.ts), so the leaf exists only once the cluster has its CA,
 * like `cacerts`. The leaf's own key is made here too and never leaves this
 * stack; the root key is not needed, so both stacks issue their own ingress
 * certificate. An intermediate may sign a leaf whatever its path length; the
 * Istio intermediate carries none (docs/pki.md, "Path lengths").
 *
 * SANs: the ingress address (what `verify` and clients dial) and, if set,
 * `ingress.hostName`. `tls.crt` is the leaf followed by the intermediate, so a
 * client that trusts only the lab root can build the chain. The certificate
 * is public (visible in the plan); the key only ever travels as a secret.
 */
function ingressCredential(
    name: string,
    namespace: pulumi.Input<string>,
    ca: IstioCaArgs,
    args: IstioPrimaryArgs,
    opts: pulumi.CustomResourceOptions,
): k8s.core.v1.Secret {
    const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
    const hostName = args.ingressTls.hostName;
    const csr = new tls.CertRequest(
        `${name}-csr`,
        {
            privateKeyPem: key.privateKeyPem,
            subject: { commonName: hostName ?? args.ingressAddress, organization: "zta-testbed" },
            ipAddresses: [args.ingressAddress],
            dnsNames: hostName ? [hostName] : [],
        },
        opts,
    );
    const intermediate = pulumi.unsecret(ca.istioCa.apply((files) => files["ca-cert.pem"]));
    const cert = new tls.LocallySignedCert(
        `${name}-cert`,
        {
            certRequestPem: csr.certRequestPem,
            caPrivateKeyPem: pulumi.secret(ca.istioCa.apply((files) => files["ca-key.pem"])),
            caCertPem: intermediate,
            allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            validityPeriodHours: 365 * 24,
            // Re-issued by the `pulumi up` that runs in its last 30 days.
            earlyRenewalHours: 30 * 24,
        },
        opts,
    );
    return new k8s.core.v1.Secret(
        `${name}-credential`,
        {
            metadata: { name: INGRESS_CREDENTIAL, namespace },
            type: "kubernetes.io/tls",
            stringData: {
                "tls.crt": pulumi
                    .all([cert.certPem, intermediate])
                    .apply(([leaf, ca]) => `${leaf.trimEnd()}\n${ca.trimEnd()}\n`),
                "tls.key": pulumi.secret(key.privateKeyPem),
            },
        },
        { ...opts, additionalSecretOutputs: ["data"] },
    );
}
