// The keys of each configuration section, each declared once with its check, its
// default and its documentation; schema.ts puts the sections in one table.
import { z } from "zod";
import { PKI_ROLES, TRUST_MODELS, Versions } from "../../model/lab";
import { PROJECT } from "./namespace";
import { bool, integer, key, list, NON_EMPTY, oneOf, section, text } from "./keys";
import {
    checkChartVersion,
    checkCidr,
    checkClusterName,
    checkHostName,
    checkInterface,
    checkIp,
    checkKubernetesVersion,
    checkLabel,
    checkMirrorUrl,
    checkPemCertificate,
    checkRange,
    checkRootCaCert,
    checkStackReference,
    checkTrustDomain,
    checkUrl,
    checkUserName,
} from "./values";

/** The lab guide's NICs: management (SSH, API server, MetalLB) and service. */
export const LAB_GUIDE_NICS = { management: "eno3", service: "eno4" } as const;

/** Keycloak's image at the version the lab runs (quay.io/keycloak/keycloak): 26.8.1, the newest 26.x tag found on 2026-12-07. */
export const KEYCLOAK_IMAGE = "quay.io/keycloak/keycloak:26.8.1";

/** Defaults: intermediates live a year and are re-issued by any `up` in their last 30 days. */
export const DEFAULT_INTERMEDIATE_VALIDITY_HOURS = 365 * 24;
export const DEFAULT_INTERMEDIATE_EARLY_RENEWAL_HOURS = 30 * 24;

export const clusterFields = {
    name: key(
        text(checkClusterName),
        "DNS label, at most 32 characters",
        "Istio `multiCluster.clusterName`, Cilium `cluster.name`, SPIRE `clusterName`; distinct per cluster",
    ),
    id: key(integer(1, 255), "integer 1-255", "Cilium cluster id, unique across the mesh"),
    network: key(
        text(checkLabel),
        "DNS label",
        "Istio network name (`topology.istio.io/network`); distinct per cluster",
    ),
    podCidr: key(
        text(checkCidr),
        "IPv4 CIDR, /24 or larger",
        "kubeadm pod range; disjoint from the service range, the pools, the hosts' networks and every peer's",
    ),
    serviceCidr: key(
        text(checkCidr),
        "IPv4 CIDR",
        "kubeadm service range; disjoint from the pod range, the pools and the hosts' networks",
    ),
    trustDomain: key(
        text(checkTrustDomain).optional(),
        "SPIFFE trust domain",
        "this cluster's own trust domain in the `federated` trust model (one per cluster, distinct); not set in the `shared` model",
        "`mesh.trustDomain`",
    ),
};

export const hostFields = {
    address: key(text(checkIp), "IPv4 address", "management address (eno3): SSH, the API server, what the peers dial"),
    serviceAddress: key(text(checkIp).optional(), "IPv4 address", "service address (eno4), when the host has one"),
    managementInterface: key(
        text(checkInterface).optional(),
        "Linux interface name",
        "the management NIC",
        '"eno3" with a `serviceAddress`, else unset (one NIC)',
    ),
    serviceInterface: key(
        text(checkInterface).optional(),
        "Linux interface name",
        "the service NIC",
        '"eno4" with a `serviceAddress`, else unset',
    ),
    networks: key(
        list(checkCidr, true),
        "list of IPv4 CIDRs",
        "networks the host sits on; the MetalLB ranges must lie inside one of them",
    ),
    sshUser: key(text(checkUserName), "Linux user name", "SSH login on the host"),
    sshPort: key(integer(1, 65535).default(22), "integer 1-65535", "SSH port on the host"),
    allowReset: key(bool().default(false), "boolean", "whether `pulumi destroy` may run `kubeadm reset` on the host"),
};

export const meshFields = {
    id: key(text(checkLabel), "DNS label", "Istio mesh id: one mesh for the whole lab"),
    trustDomain: key(
        text(checkTrustDomain),
        "SPIFFE trust domain",
        "the lab's trust domain (`shared` model); in the `federated` model each cluster sets its own `cluster.trustDomain`",
    ),
    trustModel: key(
        oneOf(TRUST_MODELS, 'expected "shared" (one trust domain) or "federated" (one per cluster)'),
        '"shared" or "federated"',
        "`shared`: one trust domain and one lab root; `federated`: a trust domain and root per cluster, with SPIRE federation",
    ),
};

export const metallbFields = {
    addresses: key(
        list(checkRange, false),
        "list of IPv4 ranges or CIDRs",
        "IPAddressPool entries (`first-last` or CIDR), disjoint from every peer's",
    ),
    ingressAddress: key(text(checkIp), "IPv4 address", "the ingress gateway's fixed address, from the pool"),
    eastWestAddress: key(
        text(checkIp),
        "IPv4 address",
        "the east-west gateway's fixed address, from the pool: what the peers' proxies dial",
    ),
    federationAddress: key(
        text(checkIp).optional(),
        "IPv4 address",
        "the SPIRE bundle endpoint's address, from the pool (required in the `federated` model)",
    ),
    interfaces: key(
        list(checkInterface, true).optional(),
        "list of Linux interface names",
        "NICs the L2Advertisement answers ARP on; [] = every NIC",
        "[`host.managementInterface`] or []",
    ),
};

// The protocol's Versions (model/lab.ts) names the same keys: a pin added to one and not the other does not compile.
export const versionFields = {
    kubernetes: key(
        text(checkKubernetesVersion),
        'Kubernetes minor or patch ("1.36")',
        "kubeadm/kubelet packages; inside the supported range (docs/versions.md)",
    ),
    cilium: key(text(checkChartVersion), "pinned chart version", "Cilium chart"),
    metallb: key(text(checkChartVersion), "pinned chart version", "MetalLB chart"),
    istio: key(text(checkChartVersion), "pinned chart version", "Istio charts (base, istiod, gateways)"),
    spireCrds: key(text(checkChartVersion), "pinned chart version", "spire-crds chart"),
    spire: key(text(checkChartVersion), "pinned chart version", "SPIRE chart"),
    prometheus: key(text(checkChartVersion), "pinned chart version", "Prometheus chart"),
    kiali: key(text(checkChartVersion), "pinned chart version", "Kiali chart"),
    grafana: key(text(checkChartVersion), "pinned chart version", "Grafana chart"),
} satisfies Record<keyof Versions, z.ZodType<string>>;

export const registryFields = {
    host: key(
        text(checkIp),
        "IPv4 address",
        "comp1's address: the registry (and the lab issuer) run there, images are pulled from there",
    ),
    port: key(integer(1, 65535).default(8443), "integer 1-65535", "the registry's port"),
    sshUser: key(
        text(checkUserName).optional(),
        "Linux user name",
        "SSH login on comp1 (root stack only)",
        "`host.sshUser`, else ubuntu",
    ),
    allowRemove: key(
        bool().default(false),
        "boolean",
        "whether destroying the root stack may remove the registry container (the images stay either way)",
    ),
};

export const issuerFields = {
    port: key(
        integer(1, 65535).default(9443),
        "integer 1-65535",
        "the lab issuer's (Keycloak on comp1, run by the root stack) HTTPS port",
    ),
    realm: key(text(checkLabel).default("zta"), "DNS label", "the lab issuer's realm"),
    clientId: key(
        text(checkLabel).default("zta-testbed"),
        "DNS label",
        "the confidential client the realm import creates, and the audience its tokens carry",
    ),
    image: key(
        text().default(KEYCLOAK_IMAGE),
        "pinned image reference",
        "Keycloak's container image: from quay.io or the lab registry (`registry.host:registry.port`), pinned by a sha256 digest or an exact release tag (never `latest`)",
    ),
};

export const jwtFields = {
    issuer: key(
        text(checkUrl).optional(),
        "https:// URL",
        "the issuer whose tokens the ingress accepts; any other than the lab issuer is external",
        "the lab issuer: `https://<registry.host>:<issuer.port>/realms/<issuer.realm>`",
    ),
    jwksUri: key(
        text(checkUrl).optional(),
        "https:// URL",
        "the issuer's signing keys (required for an external issuer)",
        "the lab issuer's `<issuer>/protocol/openid-connect/certs`",
    ),
    audiences: key(
        list(() => undefined, false).optional(),
        "list of strings",
        "accepted `aud` values; with an external issuer, unset accepts a token of any of its clients",
        "[`issuer.clientId`] with the lab issuer",
    ),
    caCert: key(
        text(checkPemCertificate).optional(),
        "PEM certificate, valid now",
        "the CA that signed an external issuer's certificate: istiod trusts exactly it for the JWKS fetch (required for an external issuer)",
    ),
    allowAnyAudience: key(
        bool().default(false),
        "boolean",
        "opt-in: accept an external issuer without `audiences`, so a token it signs for any of its clients passes the ingress (warned at every preview); otherwise refused",
    ),
};

export const rosterFields = {
    stack: key(
        text((s) => checkStackReference(s, PROJECT)),
        "stack name",
        'the stack, as its peers\' StackReferences name it: "comp3", or "org/zta-testbed/comp3" (another project\'s stack is refused)',
    ),
    clusterName: key(
        text(checkClusterName),
        "DNS label",
        "the `cluster.name` that stack builds (its own stack file must say the same)",
    ),
};

export const pkiFields = {
    role: key(
        oneOf(PKI_ROLES, 'expected "root" (this stack owns the lab root CA) or "peer" (takes it from the peer stack)'),
        '"root" or "peer"',
        "`root`: this stack owns the lab root CA and runs the registry; `peer`: its intermediates are signed by the root stack. In the `federated` model every stack owns a root and the role only says which one runs the registry",
    ),
    rootCaCert: key(
        text(checkRootCaCert).optional(),
        "PEM CA certificate",
        "a root the lab brings, its key in the secret `rootCaKey`: one CA certificate with keyCertSign, pathLenConstraint 2 or none, no URI name constraint that shuts out the trust domain, valid until the intermediates end (docs/pki.md); unset: a root is generated. Only on a stack that owns a root",
    ),
    intermediateValidityHours: key(
        integer(24, 10 * 365 * 24).default(DEFAULT_INTERMEDIATE_VALIDITY_HOURS),
        "integer 24-87600",
        "lifetime of the Istio and SPIRE intermediates, in hours",
    ),
    intermediateEarlyRenewalHours: key(
        integer(0, 10 * 365 * 24 - 1).default(DEFAULT_INTERMEDIATE_EARLY_RENEWAL_HOURS),
        "integer, below the validity",
        "how many hours before an intermediate's end the next `pulumi up` re-issues it",
    ),
};

export const addonFields = {
    prometheus: key(bool().default(false), "boolean", "Prometheus"),
    kiali: key(bool().default(false), "boolean", "Kiali"),
    grafana: key(bool().default(false), "boolean", "Grafana"),
};

/** Which helloworld version a cluster runs: the lab guide runs v1 in cluster1 and v2 in cluster2. */
export const helloworldVersion = oneOf(
    ["v1", "v2"],
    'expected "v1" or "v2" (the lab guide runs v1 in cluster1, v2 in cluster2)',
);
export type HelloworldVersion = z.output<typeof helloworldVersion>;

export const sampleFields = {
    enabled: key(bool().default(false), "boolean", "the sample workloads and the default-deny `sample` namespace"),
    helloworldVersion: key(
        helloworldVersion.optional(),
        '"v1" or "v2"',
        "the helloworld Deployment this cluster runs behind the shared `helloworld` Service; required when samples are on",
    ),
    imagesFromRegistry: key(
        bool().default(false),
        "boolean",
        "pull the sample images from `registry.host:registry.port` (mirror them first) instead of upstream",
    ),
};

export const ciliumFields = {
    bgpControlPlane: key(bool().default(false), "boolean", "Cilium's BGP control plane"),
    kubeProxyReplacement: key(
        bool().default(true),
        "boolean",
        "Cilium replaces kube-proxy; the cluster must then run without it (`kubeadm init --skip-phases=addon/kube-proxy`)",
    ),
    devices: key(
        list(checkInterface, true).optional(),
        "list of Linux interface names",
        "NICs running Cilium's eBPF datapath (Helm `devices`); [] = Cilium detects them",
        "[management, service NIC] or []",
    ),
};

export const spireFields = {
    oidcDiscovery: key(
        bool().default(false),
        "boolean",
        "SPIRE's OIDC discovery provider, for services outside the mesh that verify JWT-SVIDs",
    ),
};

export const chartFields = {
    mirror: key(
        text(checkMirrorUrl).optional(),
        "http(s):// URL",
        "one Helm repository (the folder with index.yaml) serving every pinned chart, for a lab without internet; unset: each chart's upstream repository",
    ),
};

export const ingressFields = {
    hostName: key(
        text(checkHostName).optional(),
        "DNS name",
        "a DNS name for `metallb.ingressAddress`, added to the ingress certificate's SANs (the address always is)",
    ),
    plainHttp: key(
        oneOf(
            ["off", "redirect"],
            'expected "off" (no plain-HTTP listener) or "redirect" (port 80 redirects to https)',
        ).default("off"),
        '"off" or "redirect"',
        "`off`: HTTPS on 443 only; `redirect`: port 80 answers with a redirect to https",
    ),
};

export const networkPolicyFields = {
    egressCidrs: key(
        list(checkCidr, true).default([]),
        "list of IPv4 CIDRs",
        "CIDRs every pod of a segmented namespace may reach (any port); otherwise nothing outside the cluster but the lab's own endpoints. A /16 or wider, or one holding a lab machine's address, needs `allowBroadEgress`",
    ),
    allowBroadEgress: key(
        bool().default(false),
        "boolean",
        "opt-in: allow `egressCidrs` entries of /16 or wider (0.0.0.0/0) or holding a lab machine's address, for every segmented namespace, SPIRE's included (warned at every preview); otherwise refused",
    ),
};

export const hostSchema = section(hostFields).transform((h) => {
    // A host with a service address has the lab guide's two NICs unless told otherwise; one
    // without has one NIC, which nothing needs to name (MetalLB answers on it, Cilium detects it).
    const host: typeof h = { ...h };
    if (h.serviceAddress !== undefined) {
        host.managementInterface ??= LAB_GUIDE_NICS.management;
        host.serviceInterface ??= LAB_GUIDE_NICS.service;
    }
    return host;
});

export const rosterEntrySchema = section(rosterFields);

export const samplesSchema = section(sampleFields)
    .superRefine((s, ctx) => {
        if (s.enabled && s.helloworldVersion === undefined)
            ctx.addIssue({ code: "custom", message: NON_EMPTY, path: ["helloworldVersion"] });
    })
    .transform((s) =>
        // The settings exist only when the samples are on (a typo is refused either way).
        s.enabled
            ? {
                  enabled: true as const,
                  helloworldVersion: s.helloworldVersion as HelloworldVersion,
                  imagesFromRegistry: s.imagesFromRegistry,
              }
            : { enabled: false as const },
    );
