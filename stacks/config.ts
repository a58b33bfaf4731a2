// Stack configuration: one declarative schema (zod) from which the types, the
// validation and the configuration tables of README.md and docs/config.md all
// come. Config is read once, validated into a typed object, then passed down;
// components never read pulumi.Config themselves. Rules between fields (pools
// inside networks, addresses of machines, secrets) are plain functions over the
// typed result, run once every field has parsed.
import { X509Certificate } from "crypto";
import { closest, distance } from "fastest-levenshtein";
import { z } from "zod";
import { broadEgressReason, checkIssuerImage, checkStackReference, hasUserinfo, hostOf, redactUserinfo, USERINFO_PROBLEM, validityProblem } from "./config-guards";
import { contains, containsIp, isIpv4, overlaps, parseAddressRange, parseCidr, Ipv4Range } from "./net";
import { rootCertificateProblem, rootUseProblems } from "./brought-root";
import { supportProblems } from "./support";

/** The Pulumi project name, which is also the config namespace. */
export const PROJECT = "zta-testbed";

/** Where a key is set: once for the lab in Pulumi.yaml's `config:` block, or per cluster in Pulumi.<stack>.yaml. */
export type Scope = "project" | "stack";

/** The project file, whose `config:` block holds the lab-wide keys (Pulumi project-level config). */
export const PROJECT_FILE = "Pulumi.yaml";

/** The documentation page with the full per-key table (generated from this schema). */
export const CONFIG_DOC = "docs/config.md";

// ---------------------------------------------------------------- value checks

type Check = (s: string) => string | undefined;

// SPIFFE trust domain: lowercase letters, digits, '.', '-', '_' (SPIFFE-ID spec §2.1).
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
// DNS-1123 label: what Kubernetes, Istio and Cilium accept for names we pass on.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CHART_VERSION = /^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
// kubeadm/kubelet packages: minor (apt pin "1.36.*") or exact patch. Which minors: stacks/support.ts.
const KUBERNETES_VERSION = /^1\.\d+(\.\d+)?$/;
/** kube-controller-manager's --node-cidr-mask-size for IPv4 (kubeadm keeps the default). */
export const NODE_CIDR_MASK_SIZE = 24;

const checkIp: Check = (s) => (isIpv4(s) ? undefined : "expected an IPv4 address (the lab is IPv4-only)");
const checkCidr: Check = (s) => (parseCidr(s) ? undefined : "expected an IPv4 CIDR such as 10.244.0.0/16 (host bits zero)");
const checkRange: Check = (s) => (parseAddressRange(s) ? undefined : 'expected an IPv4 range "first-last" with first <= last, or a CIDR such as 10.5.0.96/28');
const checkLabel: Check = (s) => (DNS_LABEL.test(s) && s.length <= 63 ? undefined : "expected a DNS-1123 label (lowercase letters, digits, '-')");
const checkChartVersion: Check = (s) => (CHART_VERSION.test(s) ? undefined : 'expected a pinned chart version such as "1.20.0" (no ranges)');
const checkUrl: Check = (s) => {
    if (hasUserinfo(s)) return USERINFO_PROBLEM;
    try {
        return new URL(s).protocol === "https:" ? undefined : "expected an https:// URL";
    } catch {
        return "expected an https:// URL";
    }
};

// Helm fetches index.yaml and the packages over plain HTTP too; a mirror on comp1 or on loopback may have no certificate.
const checkMirrorUrl: Check = (s) => {
    const expected = "expected an http:// or https:// URL of a Helm repository (the folder that holds index.yaml)";
    if (hasUserinfo(s)) return USERINFO_PROBLEM;
    try {
        const u = new URL(s);
        return u.protocol === "https:" || u.protocol === "http:" ? undefined : expected;
    } catch {
        return expected;
    }
};

// A Linux login name as Debian's adduser accepts it by default (NAME_REGEX) and
// useradd's 32-character limit: it is also passed to ssh and into host scripts.
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
export function checkUserName(s: string): string | undefined {
    return USER_NAME.test(s) ? undefined : 'expected a Linux user name: lowercase letters, digits, "_" and "-", starting with a letter or "_", at most 32 characters (e.g. "ubuntu")';
}

export function checkTrustDomain(s: string): string | undefined {
    return TRUST_DOMAIN.test(s) && !s.startsWith(".") && !s.endsWith(".") ? undefined : 'expected a SPIFFE trust domain: lowercase letters, digits, ".", "-", "_" only, no scheme, port or path (e.g. "zta.lab")';
}

export function checkKubernetesVersion(s: string): string | undefined {
    return KUBERNETES_VERSION.test(s) ? undefined : 'expected a Kubernetes minor or patch version, as "1.36" or "1.36.3"';
}

/** A root CA certificate the lab brings, on its own (stacks/brought-root.ts; what it must fit in the lab is checked with the other keys). */
export const checkRootCaCert: Check = (pem) => rootCertificateProblem(pem);

const checkPemCertificate: Check = (s) => {
    try {
        new X509Certificate(s);
    } catch {
        return "expected a PEM certificate (-----BEGIN CERTIFICATE-----)";
    }
    // An expired CA makes istiod's JWKS fetch fail, and with it every token check at the ingress.
    return validityProblem(s);
};

function checkClusterName(s: string): string | undefined {
    // Cilium: cluster.name is at most 32 characters and may not be "default" with a non-zero cluster id.
    if (checkLabel(s)) return checkLabel(s);
    if (s.length > 32) return "expected at most 32 characters (Cilium's cluster.name limit)";
    if (s === "default") return 'may not be "default" (Cilium reserves it for cluster id 0)';
    return undefined;
}

// A Linux interface name as the kernel accepts it (net/core/dev.c, dev_valid_name): 1 to 15
// characters (IFNAMSIZ 16 with the NUL), not "." or "..", no "/", ":" or whitespace.
export function checkInterface(s: string): string | undefined {
    return /^[^\s/:]{1,15}$/.test(s) && s !== "." && s !== ".." ? undefined : 'expected a Linux interface name (1 to 15 characters, no "/", ":" or whitespace), such as "eno3"';
}

// RFC 1123 host name: dot-separated DNS labels, at most 253 characters.
const checkHostName: Check = (s) => (s.length <= 253 && s.split(".").every((l) => DNS_LABEL.test(l) && l.length <= 63) ? undefined : 'expected a DNS name such as "ingress.zta.lab" (lowercase labels separated by dots)');

// ---------------------------------------------------------------- schema builders

/** What the generated tables say of a key beyond its description: its type, and a default that is derived rather than fixed. */
interface KeyDoc {
    readonly type: string;
    readonly derivedDefault?: string;
}
const KEY_DOCS = z.registry<KeyDoc>();

/** A documented key: its description (`.describe()`), type and derived default go into the generated tables. */
function key<T extends z.ZodType>(schema: T, type: string, description: string, derivedDefault?: string): T {
    const described = schema.describe(description);
    KEY_DOCS.add(described, { type, derivedDefault });
    return described;
}

/** The type, derived default and description the tables show for a key of SECTIONS (every key is declared with key()). */
export function keyDocOf(schema: z.ZodType): KeyDoc & { readonly description: string } {
    const doc = KEY_DOCS.get(schema);
    if (!doc || !schema.description) throw new Error("a config key declared without key(): give it a type and a description");
    return { ...doc, description: schema.description };
}

const NON_EMPTY = "expected a non-empty string";

function text(check?: Check) {
    return z
        .string({ error: NON_EMPTY })
        .min(1, { error: NON_EMPTY, abort: true })
        .superRefine((s, ctx) => {
            const complaint = check?.(s);
            if (complaint) ctx.addIssue({ code: "custom", message: complaint });
        });
}

function integer(min: number, max: number) {
    const expected = `expected an integer from ${min} to ${max}`;
    return z.number({ error: expected }).refine((n) => Number.isInteger(n) && n >= min && n <= max, { error: expected });
}

const bool = () => z.boolean({ error: "expected true or false" });

/** A list of strings, each checked; a wrong list is one problem at the list's key, a wrong entry one at `key[i]`. */
function list(check: Check, allowEmpty: boolean) {
    const expected = allowEmpty ? "expected a list of strings" : "expected a non-empty list of strings";
    return z
        .array(z.unknown(), { error: expected })
        .superRefine((items, ctx) => {
            if ((!allowEmpty && items.length === 0) || items.some((v) => typeof v !== "string")) {
                ctx.addIssue({ code: "custom", message: expected });
                return;
            }
            items.forEach((v, i) => {
                const complaint = check(v as string);
                if (complaint) ctx.addIssue({ code: "custom", message: complaint, path: [i] });
            });
        })
        .transform((items) => items as string[]);
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, expected: string) {
    return z.enum(values, { error: expected });
}

/** A section: one top-level config key holding an object; unknown keys inside it are refused with the nearest valid one. */
function section<S extends z.ZodRawShape>(shape: S) {
    return z.strictObject(shape, { error: "expected an object" });
}

// ---------------------------------------------------------------- the sections

/** The lab guide's NICs: management (SSH, API server, MetalLB) and service. */
export const LAB_GUIDE_NICS = { management: "eno3", service: "eno4" } as const;

/** Keycloak's image at the version the lab runs (quay.io/keycloak/keycloak): 26.8.1, the newest 26.x tag found on 2026-12-07. */
export const KEYCLOAK_IMAGE = "quay.io/keycloak/keycloak:26.8.1";

/** Defaults: intermediates live a year and are re-issued by any `up` in their last 30 days. */
export const DEFAULT_INTERMEDIATE_VALIDITY_HOURS = 365 * 24;
export const DEFAULT_INTERMEDIATE_EARLY_RENEWAL_HOURS = 30 * 24;

const clusterFields = {
    name: key(text(checkClusterName), "DNS label, at most 32 characters", "Istio `multiCluster.clusterName`, Cilium `cluster.name`, SPIRE `clusterName`; distinct per cluster"),
    id: key(integer(1, 255), "integer 1-255", "Cilium cluster id, unique across the mesh"),
    network: key(text(checkLabel), "DNS label", "Istio network name (`topology.istio.io/network`); distinct per cluster"),
    podCidr: key(text(checkCidr), "IPv4 CIDR, /24 or larger", "kubeadm pod range; disjoint from the service range, the pools, the hosts' networks and every peer's"),
    serviceCidr: key(text(checkCidr), "IPv4 CIDR", "kubeadm service range; disjoint from the pod range, the pools and the hosts' networks"),
    trustDomain: key(
        text(checkTrustDomain).optional(),
        "SPIFFE trust domain",
        "this cluster's own trust domain in the `federated` trust model (one per cluster, distinct); not set in the `shared` model",
        "`mesh.trustDomain`",
    ),
};

const hostFields = {
    address: key(text(checkIp), "IPv4 address", "management address (eno3): SSH, the API server, what the peers dial"),
    serviceAddress: key(text(checkIp).optional(), "IPv4 address", "service address (eno4), when the host has one"),
    managementInterface: key(text(checkInterface).optional(), "Linux interface name", "the management NIC", '"eno3" with a `serviceAddress`, else unset (one NIC)'),
    serviceInterface: key(text(checkInterface).optional(), "Linux interface name", "the service NIC", '"eno4" with a `serviceAddress`, else unset'),
    networks: key(list(checkCidr, true), "list of IPv4 CIDRs", "networks the host sits on; the MetalLB ranges must lie inside one of them"),
    sshUser: key(text(checkUserName), "Linux user name", "SSH login on the host"),
    sshPort: key(integer(1, 65535).default(22), "integer 1-65535", "SSH port on the host"),
    allowReset: key(bool().default(false), "boolean", "whether `pulumi destroy` may run `kubeadm reset` on the host"),
};

const meshFields = {
    id: key(text(checkLabel), "DNS label", "Istio mesh id: one mesh for the whole lab"),
    trustDomain: key(text(checkTrustDomain), "SPIFFE trust domain", "the lab's trust domain (`shared` model); in the `federated` model each cluster sets its own `cluster.trustDomain`"),
    trustModel: key(
        oneOf(["shared", "federated"], 'expected "shared" (one trust domain) or "federated" (one per cluster)'),
        '"shared" or "federated"',
        "`shared`: one trust domain and one lab root; `federated`: a trust domain and root per cluster, with SPIRE federation",
    ),
};

const metallbFields = {
    addresses: key(list(checkRange, false), "list of IPv4 ranges or CIDRs", "IPAddressPool entries (`first-last` or CIDR), disjoint from every peer's"),
    ingressAddress: key(text(checkIp), "IPv4 address", "the ingress gateway's fixed address, from the pool"),
    eastWestAddress: key(text(checkIp), "IPv4 address", "the east-west gateway's fixed address, from the pool: what the peers' proxies dial"),
    federationAddress: key(text(checkIp).optional(), "IPv4 address", "the SPIRE bundle endpoint's address, from the pool (required in the `federated` model)"),
    interfaces: key(list(checkInterface, true).optional(), "list of Linux interface names", "NICs the L2Advertisement answers ARP on; [] = every NIC", "[`host.managementInterface`] or []"),
};

const versionFields = {
    kubernetes: key(text(checkKubernetesVersion), 'Kubernetes minor or patch ("1.36")', "kubeadm/kubelet packages; inside the supported range (docs/versions.md)"),
    cilium: key(text(checkChartVersion), "pinned chart version", "Cilium chart"),
    metallb: key(text(checkChartVersion), "pinned chart version", "MetalLB chart"),
    istio: key(text(checkChartVersion), "pinned chart version", "Istio charts (base, istiod, gateways)"),
    spireCrds: key(text(checkChartVersion), "pinned chart version", "spire-crds chart"),
    spire: key(text(checkChartVersion), "pinned chart version", "SPIRE chart"),
    prometheus: key(text(checkChartVersion), "pinned chart version", "Prometheus chart"),
    kiali: key(text(checkChartVersion), "pinned chart version", "Kiali chart"),
    grafana: key(text(checkChartVersion), "pinned chart version", "Grafana chart"),
};

const registryFields = {
    host: key(text(checkIp), "IPv4 address", "comp1's address: the registry (and the lab issuer) run there, images are pulled from there"),
    port: key(integer(1, 65535).default(8443), "integer 1-65535", "the registry's port"),
    sshUser: key(text(checkUserName).optional(), "Linux user name", "SSH login on comp1 (root stack only)", "`host.sshUser`, else ubuntu"),
    allowRemove: key(bool().default(false), "boolean", "whether destroying the root stack may remove the registry container (the images stay either way)"),
};

const issuerFields = {
    port: key(integer(1, 65535).default(9443), "integer 1-65535", "the lab issuer's (Keycloak on comp1, run by the root stack) HTTPS port"),
    realm: key(text(checkLabel).default("zta"), "DNS label", "the lab issuer's realm"),
    clientId: key(text(checkLabel).default("zta-testbed"), "DNS label", "the confidential client the realm import creates, and the audience its tokens carry"),
    image: key(
        text().default(KEYCLOAK_IMAGE),
        "pinned image reference",
        "Keycloak's container image: from quay.io or the lab registry (`registry.host:registry.port`), pinned by a sha256 digest or an exact release tag (never `latest`)",
    ),
};

const jwtFields = {
    issuer: key(
        text(checkUrl).optional(),
        "https:// URL",
        "the issuer whose tokens the ingress accepts; any other than the lab issuer is external",
        "the lab issuer: `https://<registry.host>:<issuer.port>/realms/<issuer.realm>`",
    ),
    jwksUri: key(text(checkUrl).optional(), "https:// URL", "the issuer's signing keys (required for an external issuer)", "the lab issuer's `<issuer>/protocol/openid-connect/certs`"),
    audiences: key(list(() => undefined, false).optional(), "list of strings", "accepted `aud` values; with an external issuer, unset accepts a token of any of its clients", "[`issuer.clientId`] with the lab issuer"),
    caCert: key(text(checkPemCertificate).optional(), "PEM certificate, valid now", "the CA that signed an external issuer's certificate: istiod trusts exactly it for the JWKS fetch (required for an external issuer)"),
    allowAnyAudience: key(
        bool().default(false),
        "boolean",
        "opt-in: accept an external issuer without `audiences`, so a token it signs for any of its clients passes the ingress (warned at every preview); otherwise refused",
    ),
};

const peerFields = {
    stack: key(
        text((s) => checkStackReference(s, PROJECT)),
        "stack name",
        'StackReference name of the peer: "comp3", or "org/zta-testbed/comp3" (another project\'s stack is refused)',
    ),
    clusterName: key(text(checkClusterName), "DNS label", "the `cluster.name` that peer stack must report"),
};

const pkiFields = {
    role: key(
        oneOf(["root", "peer"], 'expected "root" (this stack owns the lab root CA) or "peer" (takes it from the peer stack)'),
        '"root" or "peer"',
        "`root`: this stack owns the lab root CA and runs the registry; `peer`: its intermediates are signed by the root stack. In the `federated` model every stack owns a root and the role only says which one runs the registry",
    ),
    rootCaCert: key(
        text(checkRootCaCert).optional(),
        "PEM CA certificate",
        "a root the lab brings, its key in the secret `rootCaKey`: one CA certificate with keyCertSign, pathLenConstraint 2 or none, no URI name constraint that shuts out the trust domain, valid until the intermediates end (docs/pki.md); unset: a root is generated. Only on a stack that owns a root",
    ),
    intermediateValidityHours: key(integer(24, 10 * 365 * 24).default(DEFAULT_INTERMEDIATE_VALIDITY_HOURS), "integer 24-87600", "lifetime of the Istio and SPIRE intermediates, in hours"),
    intermediateEarlyRenewalHours: key(
        integer(0, 10 * 365 * 24 - 1).default(DEFAULT_INTERMEDIATE_EARLY_RENEWAL_HOURS),
        "integer, below the validity",
        "how many hours before an intermediate's end the next `pulumi up` re-issues it",
    ),
};

const addonFields = {
    prometheus: key(bool().default(false), "boolean", "Prometheus"),
    kiali: key(bool().default(false), "boolean", "Kiali"),
    grafana: key(bool().default(false), "boolean", "Grafana"),
};

/** Which helloworld version a cluster runs: the lab guide runs v1 in cluster1 and v2 in cluster2. */
const helloworldVersion = oneOf(["v1", "v2"], 'expected "v1" or "v2" (the lab guide runs v1 in cluster1, v2 in cluster2)');
export type HelloworldVersion = z.output<typeof helloworldVersion>;

const sampleFields = {
    enabled: key(bool().default(false), "boolean", "the sample workloads and the default-deny `sample` namespace"),
    helloworldVersion: key(helloworldVersion.optional(), '"v1" or "v2"', "the helloworld Deployment this cluster runs behind the shared `helloworld` Service; required when samples are on"),
    imagesFromRegistry: key(bool().default(false), "boolean", "pull the sample images from `registry.host:registry.port` (mirror them first) instead of upstream"),
};

const ciliumFields = {
    bgpControlPlane: key(bool().default(false), "boolean", "Cilium's BGP control plane"),
    kubeProxyReplacement: key(bool().default(true), "boolean", "Cilium replaces kube-proxy; the cluster must then run without it (`kubeadm init --skip-phases=addon/kube-proxy`)"),
    devices: key(list(checkInterface, true).optional(), "list of Linux interface names", "NICs running Cilium's eBPF datapath (Helm `devices`); [] = Cilium detects them", "[management, service NIC] or []"),
};

const spireFields = {
    oidcDiscovery: key(bool().default(false), "boolean", "SPIRE's OIDC discovery provider, for services outside the mesh that verify JWT-SVIDs"),
};

const chartFields = {
    mirror: key(text(checkMirrorUrl).optional(), "http(s):// URL", "one Helm repository (the folder with index.yaml) serving every pinned chart, for a lab without internet; unset: each chart's upstream repository"),
};

const ingressFields = {
    hostName: key(text(checkHostName).optional(), "DNS name", "a DNS name for `metallb.ingressAddress`, added to the ingress certificate's SANs (the address always is)"),
    plainHttp: key(
        oneOf(["off", "redirect"], 'expected "off" (no plain-HTTP listener) or "redirect" (port 80 redirects to https)').default("off"),
        '"off" or "redirect"',
        "`off`: HTTPS on 443 only; `redirect`: port 80 answers with a redirect to https",
    ),
};

const networkPolicyFields = {
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

/** One top-level config key: where it is set, whether it must be, what it holds. */
export interface SectionDoc {
    readonly scope: Scope;
    readonly required: boolean;
    readonly description: string;
    /** A list of objects (`peers`) rather than one object. */
    readonly list?: boolean;
    readonly fields: Readonly<Record<string, z.ZodType>>;
}

/**
 * Every top-level key, in the order the tables list them. `project` keys are
 * lab-wide: set once in Pulumi.yaml's `config:` block, refused in a stack file.
 */
export const SECTIONS = {
    cluster: { scope: "stack", required: true, description: "this cluster's name, id, network and ranges", fields: clusterFields },
    host: { scope: "stack", required: false, description: "the bare host Pulumi builds the cluster on; unset: bring your own cluster (secret `kubeconfig`)", fields: hostFields },
    metallb: { scope: "stack", required: true, description: "this cluster's MetalLB pool and gateway addresses", fields: metallbFields },
    peers: { scope: "stack", required: false, list: true, description: "the roster: every other stack of the lab (one entry per peer)", fields: peerFields },
    peer: { scope: "stack", required: false, description: "the former one-peer form, read as a one-entry `peers`", fields: peerFields },
    pki: { scope: "stack", required: true, description: "this stack's part in the lab PKI", fields: pkiFields },
    addons: { scope: "stack", required: false, description: "observability add-ons", fields: addonFields },
    samples: { scope: "stack", required: false, description: "the sample workloads", fields: sampleFields },
    cilium: { scope: "stack", required: false, description: "Cilium switches and NICs", fields: ciliumFields },
    spire: { scope: "stack", required: false, description: "SPIRE switches", fields: spireFields },
    ingress: { scope: "stack", required: false, description: "how the ingress gateway serves", fields: ingressFields },
    networkPolicy: { scope: "stack", required: false, description: "micro-segmentation: what lab workloads may reach outside the cluster", fields: networkPolicyFields },
    versions: { scope: "project", required: true, description: "Kubernetes and every chart, pinned: one set for the lab", fields: versionFields },
    mesh: { scope: "project", required: true, description: "the one mesh: id, trust domain, trust model", fields: meshFields },
    registry: { scope: "project", required: true, description: "the lab registry on comp1", fields: registryFields },
    issuer: { scope: "project", required: false, description: "the lab's own OIDC issuer (Keycloak on comp1)", fields: issuerFields },
    jwt: { scope: "project", required: false, description: "JWT validation at every ingress", fields: jwtFields },
    charts: { scope: "project", required: false, description: "where Helm charts come from", fields: chartFields },
} as const satisfies Record<string, SectionDoc>;

export type SectionName = keyof typeof SECTIONS;

/** The lab-wide keys: equal in every stack by construction, set once in Pulumi.yaml. */
export const LAB_WIDE_KEYS = (Object.keys(SECTIONS) as SectionName[]).filter((k) => SECTIONS[k].scope === "project");

/** The secret config keys, read with `requireSecret`/`getSecret` and never validated by value. */
export const SECRET_KEYS = ["sshPrivateKey", "kubeconfig", "rootCaKey"] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

/** What the tables say of each secret key (set with `pulumi config set --secret`, never validated by value). */
export const SECRET_KEY_DOCS: Readonly<Record<SecretKey, string>> = {
    sshPrivateKey: "SSH key for the hosts; required when `host` is set",
    kubeconfig: "a cluster you bring, instead of `host`",
    rootCaKey: "the key of `pki.rootCaCert`; required with it",
};

/** Config keys read as plain values (objects are JSON-parsed by Pulumi). */
export const PLAIN_KEYS = Object.keys(SECTIONS) as SectionName[];

const hostSchema = section(hostFields).transform((h) => {
    // A host with a service address has the lab guide's two NICs unless told otherwise; one
    // without has one NIC, which nothing needs to name (MetalLB answers on it, Cilium detects it).
    const host: typeof h = { ...h };
    if (h.serviceAddress !== undefined) {
        host.managementInterface ??= LAB_GUIDE_NICS.management;
        host.serviceInterface ??= LAB_GUIDE_NICS.service;
    }
    return host;
});

const peerSchema = section(peerFields);

const samplesSchema = section(sampleFields)
    .superRefine((s, ctx) => {
        if (s.enabled && s.helloworldVersion === undefined) ctx.addIssue({ code: "custom", message: NON_EMPTY, path: ["helloworldVersion"] });
    })
    .transform((s) =>
        // The settings exist only when the samples are on (a typo is refused either way).
        s.enabled ? { enabled: true as const, helloworldVersion: s.helloworldVersion as HelloworldVersion, imagesFromRegistry: s.imagesFromRegistry } : { enabled: false as const },
    );

/** The whole stack configuration as Pulumi hands it to the program (project config merged under the stack's). */
export const CONFIG_SCHEMA = z.strictObject(
    {
        cluster: section(clusterFields),
        host: hostSchema.optional(),
        metallb: section(metallbFields),
        peers: z.array(peerSchema, { error: "expected a list of {stack, clusterName} entries, one per peer stack" }).optional(),
        peer: peerSchema.optional(),
        pki: section(pkiFields),
        addons: section(addonFields).prefault({}),
        samples: samplesSchema.prefault({}),
        cilium: section(ciliumFields).prefault({}),
        spire: section(spireFields).prefault({}),
        ingress: section(ingressFields).prefault({}),
        networkPolicy: section(networkPolicyFields).prefault({}),
        versions: section(versionFields),
        mesh: section(meshFields),
        registry: section(registryFields),
        issuer: section(issuerFields).prefault({}),
        jwt: section(jwtFields).prefault({}),
        charts: section(chartFields).prefault({}),
    } satisfies Record<SectionName, z.ZodType>,
    { error: "expected a mapping of zta-testbed:<key> entries" },
);

type Parsed = z.output<typeof CONFIG_SCHEMA>;

export type PkiRole = Parsed["pki"]["role"];
export type TrustModel = Parsed["mesh"]["trustModel"];
export type ClusterSettings = Omit<Parsed["cluster"], "trustDomain">;
export type HostSettings = NonNullable<Parsed["host"]>;
export type MeshSettings = Parsed["mesh"];
export type Versions = Parsed["versions"];
export type IssuerSettings = Parsed["issuer"];
/** One entry of the roster: a peer stack and the cluster name it must report. */
export type PeerRef = Readonly<z.output<typeof peerSchema>>;
/** @deprecated the roster: PeerRef. */
export type PeerSettings = PeerRef;
export type AddonSettings = Parsed["addons"];
export type SampleSettings = Parsed["samples"];
export type SpireSettings = Parsed["spire"];
export type ChartSettings = Parsed["charts"];
export type IngressSettings = Parsed["ingress"];
export type NetworkPolicySettings = Parsed["networkPolicy"];
export type PkiSettings = Parsed["pki"];

/** The lab issuer's realm URL: what tokens carry as `iss`. */
export function labIssuerUrl(host: string, issuer: Pick<IssuerSettings, "port" | "realm">): string {
    return `https://${host}:${issuer.port}/realms/${issuer.realm}`;
}

/** The validated configuration of one stack, with every default that depends on another key filled in. */
function resolve(stack: string, p: Parsed) {
    const { trustDomain: ownTrustDomain, ...cluster } = p.cluster;
    const labUrl = labIssuerUrl(p.registry.host, p.issuer);
    const issuerUrl = p.jwt.issuer ?? labUrl;
    const labIssuer = issuerUrl === labUrl;
    return {
        stack,
        cluster,
        /** Set when Pulumi builds the cluster on a bare host; absent for bring-your-own. */
        host: p.host,
        mesh: { ...p.mesh, trustDomain: ownTrustDomain ?? p.mesh.trustDomain },
        metallb: { ...p.metallb, interfaces: p.metallb.interfaces ?? (p.host?.managementInterface ? [p.host.managementInterface] : []) },
        versions: p.versions,
        registry: { ...p.registry, sshUser: p.registry.sshUser ?? p.host?.sshUser ?? "ubuntu" },
        jwt: {
            issuer: issuerUrl,
            // Empty only for an external issuer without one, which is refused (jwtProblems).
            jwksUri: p.jwt.jwksUri ?? (labIssuer ? `${labUrl}/protocol/openid-connect/certs` : ""),
            audiences: p.jwt.audiences ?? (labIssuer ? [p.issuer.clientId] : []),
            caCert: p.jwt.caCert,
            allowAnyAudience: p.jwt.allowAnyAudience,
            /** True when `issuer` is the lab's own issuer (Keycloak on comp1, run by the root stack). */
            labIssuer,
        },
        issuer: p.issuer,
        /** Every other stack of the lab (the old one-entry `peer` is read as a roster of one). */
        peers: (p.peers ?? (p.peer ? [p.peer] : [])) as readonly PeerRef[],
        pki: p.pki,
        addons: p.addons,
        samples: p.samples,
        cilium: { ...p.cilium, devices: p.cilium.devices ?? [p.host?.managementInterface, p.host?.serviceInterface].filter((d): d is string => d !== undefined) },
        spire: p.spire,
        charts: p.charts,
        ingress: p.ingress,
        networkPolicy: p.networkPolicy,
    };
}

/** The validated configuration of one stack (one cluster). */
export type LabConfig = Readonly<ReturnType<typeof resolve>>;
export type MetallbSettings = LabConfig["metallb"];
export type RegistrySettings = LabConfig["registry"];
export type JwtSettings = LabConfig["jwt"];
export type CiliumSettings = LabConfig["cilium"];

/** Config values as Pulumi hands them over (objects already JSON-parsed), keyed without namespace. */
export type RawConfig = Readonly<Record<string, unknown>>;

// ---------------------------------------------------------------- messages

/** Raised for bad configuration; the message lists every problem, one per line. */
export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

/** The stack file a stack's config lives in, as messages name it. */
export function stackFileOf(stack: string): string {
    return `Pulumi.${stack}.yaml`;
}

/** Prefixes each problem with the stack file it is about. */
export function inStackFile(stack: string, problems: string[]): string[] {
    return problems.map((p) => `${stackFileOf(stack)}: ${p}`);
}

export function fullKey(path: string): string {
    return `${PROJECT}:${path}`;
}

/**
 * Where raw values came from, when the caller read the files itself (the offline plan; under
 * the engine the CLI reads them): so that a message names the file a key is in and a number
 * as it was written.
 */
export interface RawOrigin {
    /** Top-level keys set in Pulumi.yaml's config block and not in the stack file. */
    readonly projectKeys?: ReadonlySet<string>;
    /** Numbers as written in the YAML, by key path ("versions.istio": "1.30", which YAML reads as 1.3). */
    readonly written?: Readonly<Record<string, string>>;
}

/** The file a top-level key is set in: Pulumi.yaml for a lab-wide key or one only Pulumi.yaml sets, else the stack's file. */
export function fileOfKey(stack: string, top: string, origin: RawOrigin = {}): string {
    return (LAB_WIDE_KEYS as readonly string[]).includes(top) || origin.projectKeys?.has(top) ? PROJECT_FILE : stackFileOf(stack);
}

/** The problem of a lab-wide key set in a stack file: the lab would drift. */
export function labWideInStackFile(stack: string, top: string): string {
    return (
        `${stackFileOf(stack)}: ${fullKey(top)} is lab-wide, equal in every stack: set it once in ${PROJECT_FILE}'s config block ` +
        `(\`${fullKey(top)}:\` with its object under \`value:\`) and remove it from ${stackFileOf(stack)}`
    );
}

/** The lab-wide keys a stack file sets (keys as written there, namespaced), each a problem naming the file. */
export function labWideKeyProblems(stack: string, stackFileKeys: readonly string[]): string[] {
    return stackFileKeys.filter((k) => k.startsWith(`${PROJECT}:`) && (LAB_WIDE_KEYS as readonly string[]).includes(k.slice(PROJECT.length + 1))).map((k) => labWideInStackFile(stack, k.slice(PROJECT.length + 1)));
}

/** The stack file key of roster entry `i`: `peers[i]`, or `peer` when the file uses the one-peer form. */
export function peerKey(raw: { readonly peer?: unknown; readonly peers?: unknown }, i: number): string {
    return raw.peers === undefined && raw.peer !== undefined ? "peer" : `peers[${i}]`;
}

/** The stack name a StackReference name ends in: "comp3" for "comp3" and for "org/zta-testbed/comp3". */
export function stackNameOf(reference: string): string {
    return reference.split("/").pop() as string;
}

/** `cluster.id`, `metallb.addresses[0]`, `peers[1].stack`: a config path as messages write it. */
function keyPath(path: readonly PropertyKey[]): string {
    return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i > 0 ? "." : ""}${String(p)}`)).join("");
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
    return path.reduce<unknown>((v, p) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[p] : undefined), raw);
}

function shown(value: unknown): string {
    // A PEM is long: its start is enough to recognise it. Credentials in a URL are never printed.
    const text = typeof value === "string" ? redactUserinfo(value) : value;
    const v = typeof text === "string" && text.length > 60 ? `${text.slice(0, 40)}...` : text;
    return String(JSON.stringify(v));
}

/** The valid keys at a path of the schema: the top-level keys, a section's, or a roster entry's. */
function validKeysAt(path: readonly PropertyKey[]): string[] {
    const top = path.find((p) => typeof p === "string") as SectionName | undefined;
    if (top === undefined) return Object.keys(SECTIONS);
    return Object.keys(SECTIONS[top]?.fields ?? {});
}

/** The nearest valid key by edit distance (Levenshtein), for "did you mean". */
export function nearestKey(typo: string, valid: readonly string[]): string {
    // Case-insensitive first: "allowreset" is "allowReset" mistyped, not a different word.
    const lower = valid.find((v) => v.toLowerCase() === typo.toLowerCase());
    return lower ?? closest(typo, [...valid]);
}

/** One unknown key, named with the nearest valid one and where the valid ones are listed. */
export function unknownKeyProblem(path: readonly PropertyKey[], typo: string): string {
    const valid = validKeysAt(path);
    const where = keyPath(path);
    const nearest = nearestKey(typo, valid);
    const full = fullKey(where === "" ? typo : `${where}.${typo}`);
    const suggestion = fullKey(where === "" ? nearest : `${where}.${nearest}`);
    const far = distance(typo.toLowerCase(), nearest.toLowerCase()) > Math.max(3, Math.floor(nearest.length / 2));
    return (
        `${full} is not a known setting: ${far ? `the nearest valid key is ${suggestion}` : `did you mean ${suggestion}?`} ` +
        `(${where === "" ? "the keys" : `the keys of ${fullKey(where.replace(/\[\d+\]$/, ""))}`}: ${valid.join(", ")}; see ${CONFIG_DOC})`
    );
}

/** The problems of a failed schema parse, each naming its full key, the bad value and what is expected, with its file. */
function schemaProblems(stack: string, raw: RawConfig, issues: readonly z.core.$ZodIssue[], origin: RawOrigin): { file: string; text: string }[] {
    const out: { file: string; text: string }[] = [];
    for (const issue of issues) {
        const top = String(issue.path[0] ?? "");
        if (issue.code === "unrecognized_keys") {
            for (const k of issue.keys)
                out.push({ file: fileOfKey(stack, issue.path.length === 0 ? k : top, issue.path.length === 0 ? { projectKeys: origin.projectKeys } : origin), text: unknownKeyProblem(issue.path, k) });
            continue;
        }
        const file = fileOfKey(stack, top, origin);
        const value = valueAt(raw, issue.path);
        if (issue.path.length === 1 && value === undefined) {
            out.push({ file, text: `${fullKey(top)} is not set: add it to ${file === PROJECT_FILE ? `${PROJECT_FILE}'s config block` : stackFileOf(stack)} (see ${CONFIG_DOC})` });
            continue;
        }
        if (typeof value === "number" && issue.message === NON_EMPTY) {
            // YAML reads 1.30 as the number 1.3: the message shows what was written, and the fix.
            const written = origin.written?.[keyPath(issue.path)] ?? String(value);
            const lost = written !== String(value) ? ` (YAML reads it as the number ${value})` : " (a number in YAML)";
            out.push({ file, text: `${fullKey(keyPath(issue.path))} = ${written}${lost}: expected a string: quote it, as "${written}"` });
            continue;
        }
        out.push({ file, text: `${fullKey(keyPath(issue.path))} = ${shown(value)}: ${issue.message}` });
    }
    return out;
}

/** Secrets this configuration needs, given the raw (unvalidated) values. */
export function requiredSecrets(raw: RawConfig): SecretKey[] {
    const access: SecretKey = raw.host === undefined ? "kubeconfig" : "sshPrivateKey";
    const pki = raw.pki as Record<string, unknown> | undefined;
    return pki?.rootCaCert === undefined ? [access] : [access, "rootCaKey"];
}

/** Whether this stack owns a root CA: the root stack of the shared model, every stack of the federated one. */
export function ownsRoot(cfg: Pick<LabConfig, "pki" | "mesh">): boolean {
    return cfg.pki.role === "root" || cfg.mesh.trustModel === "federated";
}

// ---------------------------------------------------------------- parsing

/**
 * Validates raw configuration (the stack's keys over the project's, as Pulumi
 * merges them). `secretsSet` says which secret keys have a value; secret values
 * themselves never pass through here. Every problem is reported at once, each
 * prefixed with the file its key is set in.
 */
export function parseLabConfig(stack: string, raw: RawConfig, secretsSet: ReadonlySet<SecretKey>, origin: RawOrigin = {}): LabConfig {
    const parsed = CONFIG_SCHEMA.safeParse(raw);
    if (!parsed.success) throw new ConfigError(schemaProblems(stack, raw, parsed.error.issues, origin).map((p) => `${p.file}: ${p.text}`));
    const config = resolve(stack, parsed.data);
    const own = dependentProblems(raw, parsed.data, config, origin);
    // Checks across fields run only on values that parsed, so one mistake is reported once.
    const problems = own.length > 0 ? own : [...crossFieldProblems(config, secretsSet), ...labAddressProblems(config)].map((text) => ({ file: stackFileOf(stack), text }));
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `${p.file}: ${p.text}`));
    return config;
}

/** Rules between keys of one section or two, whose defaults depend on each other: the roster, the JWT issuer, the renewal window. */
function dependentProblems(raw: RawConfig, p: Parsed, cfg: LabConfig, origin: RawOrigin): { file: string; text: string }[] {
    const stackFile = stackFileOf(cfg.stack);
    const out: { file: string; text: string }[] = [];
    const inStack = (text: string) => out.push({ file: stackFile, text });
    const inProject = (text: string) => out.push({ file: PROJECT_FILE, text });

    if (p.peer && p.peers) inStack(`${fullKey("peer")} and ${fullKey("peers")} are both set: keep the roster ${fullKey("peers")} (add this peer to it) and remove ${fullKey("peer")}`);
    if (!p.peer && !p.peers) inStack(`${fullKey("peers")} is not set: name every other stack of the lab, e.g. \`peers: [{stack: comp3, clusterName: cluster2}]\` (see ${CONFIG_DOC})`);
    if (p.peers && p.peers.length === 0) inStack(`${fullKey("peers")} = []: expected at least one peer stack (the lab has two clusters or more)`);
    const seen = new Map<string, number>();
    const clusters = new Map<string, number>();
    cfg.peers.forEach((peer, i) => {
        const name = stackNameOf(peer.stack);
        const first = seen.get(name);
        if (first !== undefined) inStack(`${fullKey(`peers[${i}].stack`)} = "${peer.stack}" is already ${fullKey(`peers[${first}]`)}: name each peer stack once`);
        seen.set(name, i);
        const sameCluster = clusters.get(peer.clusterName);
        if (sameCluster !== undefined) {
            inStack(`${fullKey(`peers[${i}].clusterName`)} = "${peer.clusterName}" is already ${fullKey(`peers[${sameCluster}].clusterName`)}: every cluster of the lab needs its own name`);
        }
        clusters.set(peer.clusterName, i);
    });

    if (p.cluster.trustDomain !== undefined && p.mesh.trustModel === "shared" && p.cluster.trustDomain !== p.mesh.trustDomain) {
        inStack(
            `${fullKey("cluster.trustDomain")} = "${p.cluster.trustDomain}" but ${fullKey("mesh.trustModel")} is "shared": the shared model has one trust domain, ` +
                `${fullKey("mesh.trustDomain")} = "${p.mesh.trustDomain}"; remove cluster.trustDomain (or make the lab "federated")`,
        );
    }

    if (p.pki.intermediateEarlyRenewalHours > p.pki.intermediateValidityHours - 1) {
        inStack(`${fullKey("pki.intermediateEarlyRenewalHours")} = ${p.pki.intermediateEarlyRenewalHours}: expected an integer from 0 to ${p.pki.intermediateValidityHours - 1}`);
    }

    // JWT validation at the ingress. Without jwt.issuer, or with the lab issuer's own URL, the lab
    // issuer: its keys, its client as the audience, its certificate from the lab root. Any other
    // issuer is external and must come with its keys' URL and its CA certificate.
    const jwt = raw.jwt as Record<string, unknown> | undefined;
    if (!cfg.jwt.labIssuer && p.jwt.jwksUri === undefined) {
        inProject(`${fullKey("jwt.jwksUri")} is not set: give the https:// URL of ${cfg.jwt.issuer}'s signing keys (an external issuer's JWKS URI is not derived)`);
    }
    if (!cfg.jwt.labIssuer && jwt?.caCert === undefined) {
        inProject(
            `${fullKey("jwt.caCert")} is not set: give the PEM certificate of the CA that signed ${cfg.jwt.issuer}'s certificate: jwt.issuer names an external issuer, and istiod trusts exactly that CA when it fetches the JWKS ` +
                `(add \`caCert: |\` with the PEM under ${fullKey("jwt")}'s \`value:\` in ${PROJECT_FILE}, or remove jwt.issuer to use the lab's issuer)`,
        );
    }
    if (cfg.jwt.labIssuer && cfg.jwt.caCert !== undefined) {
        inProject(`${fullKey("jwt.caCert")} = "(PEM)": the lab issuer's certificate comes from the lab root: remove jwt.caCert, or name an external jwt.issuer`);
    }
    out.push(...guardProblems(p, cfg).map(([top, text]) => ({ file: fileOfKey(cfg.stack, top, origin), text })));
    return out;
}

/**
 * Values that would switch zero trust off or reach comp1 unchecked (issue 27), each as
 * [the top-level key it is set under, the problem]: the opt-ins are documented keys.
 */
function guardProblems(p: Parsed, cfg: LabConfig): [string, string][] {
    const out: [string, string][] = [];
    const labRegistry = `${p.registry.host}:${p.registry.port}`;
    const image = checkIssuerImage(p.issuer.image, labRegistry);
    if (image) out.push(["issuer", `${fullKey("issuer.image")} = ${shown(p.issuer.image)}: ${image}`]);
    // Both run on comp1 (docker run -p <port>): one port cannot serve both.
    if (cfg.jwt.labIssuer && p.registry.port === p.issuer.port) {
        out.push(["issuer", `${fullKey("issuer.port")} = ${p.issuer.port} is ${fullKey("registry.port")} too: the registry and the lab issuer both listen on comp1; give the issuer another port (default 9443)`]);
    }
    if (!cfg.jwt.labIssuer) {
        // The ingress checks `aud` only when audiences are given: without, any client of the issuer gets in.
        if (p.jwt.audiences === undefined && !p.jwt.allowAnyAudience) {
            out.push([
                "jwt",
                `${fullKey("jwt.audiences")} is not set for the external issuer ${shown(cfg.jwt.issuer)}: the ingress would accept a token it signs for any of its clients; ` +
                    `list the client ids this lab accepts (\`audiences: [my-client]\`), or set ${fullKey("jwt.allowAnyAudience")}: true to accept that (warned at every preview)`,
            ]);
        }
        const issuerHost = hostOf(cfg.jwt.issuer);
        const jwksHost = p.jwt.jwksUri === undefined ? undefined : hostOf(p.jwt.jwksUri);
        if (issuerHost && jwksHost && issuerHost !== jwksHost) {
            out.push([
                "jwt",
                `${fullKey("jwt.jwksUri")} = ${shown(p.jwt.jwksUri)} is on host "${jwksHost}", not the issuer's "${issuerHost}": istiod would trust keys served by another host for ${shown(cfg.jwt.issuer)}; ` +
                    "give the jwks_uri of the issuer's own discovery document (<issuer>/.well-known/openid-configuration)",
            ]);
        }
    }
    if (!p.networkPolicy.allowBroadEgress) {
        p.networkPolicy.egressCidrs.forEach((cidr, i) => {
            const reason = broadEgressReason(cidr, labAddressesOf(cfg));
            if (!reason) return;
            out.push([
                "networkPolicy",
                `${fullKey(`networkPolicy.egressCidrs[${i}]`)} = "${cidr}": ${reason}, for every pod of every segmented namespace (SPIRE's included); ` +
                    `list the outside endpoints the workloads need (a /17 or narrower, no lab machine), or set ${fullKey("networkPolicy.allowBroadEgress")}: true to accept that (warned at every preview)`,
            ]);
        });
    }
    return out;
}

/** The warnings every preview prints while an opt-in of guardProblems is in use. */
export function optInWarnings(cfg: LabConfig): string[] {
    const warnings: string[] = [];
    if (!cfg.jwt.labIssuer && cfg.jwt.audiences.length === 0 && cfg.jwt.allowAnyAudience) {
        warnings.push(`${fullKey("jwt.allowAnyAudience")} is true: the ingress accepts a token ${redactUserinfo(cfg.jwt.issuer)} signs for any of its clients (no audience check)`);
    }
    const broad = cfg.networkPolicy.egressCidrs.filter((c) => broadEgressReason(c, labAddressesOf(cfg)) !== undefined);
    if (cfg.networkPolicy.allowBroadEgress && broad.length > 0) {
        warnings.push(`${fullKey("networkPolicy.allowBroadEgress")} is true: every pod of every segmented namespace, SPIRE's included, may reach ${broad.join(", ")}`);
    }
    return warnings;
}

function crossFieldProblems(cfg: LabConfig, secretsSet: ReadonlySet<SecretKey>): string[] {
    // The versions first: a combination known not to work is refused before anything else is looked at.
    const problems: string[] = supportProblems(cfg.versions);
    if (cfg.host && !secretsSet.has("sshPrivateKey")) {
        problems.push(`${fullKey("sshPrivateKey")} is not set but ${fullKey("host")} is: set the SSH key with ` + `\`pulumi config set --secret ${fullKey("sshPrivateKey")} < ~/.ssh/id_ed25519\``);
    }
    if (!cfg.host && !secretsSet.has("kubeconfig")) {
        problems.push(
            `neither ${fullKey("host")} nor ${fullKey("kubeconfig")} is set: give a host to build the cluster on, or bring your own ` +
                `cluster with \`pulumi config set --secret ${fullKey("kubeconfig")} < kubeconfig.yaml\``,
        );
    }
    if (cfg.host && secretsSet.has("kubeconfig")) {
        problems.push(`${fullKey("host")} and ${fullKey("kubeconfig")} are both set: remove one (a host is built by Pulumi; a kubeconfig is a cluster you bring)`);
    }
    if (cfg.pki.rootCaCert !== undefined && !ownsRoot(cfg)) {
        problems.push(
            `${fullKey("pki.rootCaCert")} is set but this stack owns no root (${fullKey("pki.role")} is "peer" in the shared trust model): ` +
                `set it on the root stack${cfg.peers.length === 1 ? ` "${cfg.peers[0].stack}"` : ""} instead, and remove it here`,
        );
    }
    if (cfg.pki.rootCaCert !== undefined && !secretsSet.has("rootCaKey")) {
        problems.push(`${fullKey("pki.rootCaCert")} is set but its key is not: \`pulumi config set --secret ${fullKey("rootCaKey")} < root-key.pem\` ` + "(or remove pki.rootCaCert to have a root generated)");
    }
    if (cfg.pki.rootCaCert !== undefined && ownsRoot(cfg)) {
        const use = { trustDomain: cfg.mesh.trustDomain, intermediateValidityHours: cfg.pki.intermediateValidityHours };
        for (const problem of rootUseProblems(cfg.pki.rootCaCert, use)) problems.push(`${fullKey("pki.rootCaCert")} ${problem}`);
    }
    if (cfg.pki.rootCaCert === undefined && secretsSet.has("rootCaKey")) {
        problems.push(`${fullKey("rootCaKey")} is set but ${fullKey("pki.rootCaCert")} is not: set the root's certificate too, or remove the key`);
    }
    cfg.peers.forEach((peer, i) => {
        if (peer.clusterName === cfg.cluster.name) {
            problems.push(`${fullKey(`peers[${i}].clusterName`)} = "${peer.clusterName}" equals ${fullKey("cluster.name")}: every cluster of the lab needs its own name`);
        }
    });

    const pod = parseCidr(cfg.cluster.podCidr) as Ipv4Range;
    const svc = parseCidr(cfg.cluster.serviceCidr) as Ipv4Range;
    if (overlaps(pod, svc)) {
        problems.push(`${fullKey("cluster.podCidr")} = "${pod.text}" overlaps ${fullKey("cluster.serviceCidr")} = "${svc.text}": pick disjoint ranges`);
    }

    // Cilium's "kubernetes" IPAM takes each node's podCIDR, which kube-controller-manager
    // cuts from the cluster CIDR in /24 blocks (--node-cidr-mask-size, IPv4 default 24):
    // a smaller cluster CIDR gives the node none and Cilium waits for one forever.
    if (pod.last - pod.first + 1 < 2 ** (32 - NODE_CIDR_MASK_SIZE)) {
        problems.push(
            `${fullKey("cluster.podCidr")} = "${pod.text}": expected a prefix of /${NODE_CIDR_MASK_SIZE} or shorter ` +
                `(each node gets a /${NODE_CIDR_MASK_SIZE} from it, and Cilium's kubernetes IPAM allocates pod addresses from the node's block)`,
        );
    }
    // Cluster ranges that cover the hosts' own addresses send traffic for them into the cluster.
    const hostAddresses: [string, string][] = [["registry.host", cfg.registry.host]];
    if (cfg.host) hostAddresses.push(["host.address", cfg.host.address]);
    for (const [key, range] of [
        ["cluster.podCidr", pod],
        ["cluster.serviceCidr", svc],
    ] as const) {
        const network = (cfg.host?.networks ?? []).find((n) => overlaps(range, parseCidr(n) as Ipv4Range));
        const address = hostAddresses.find(([, ip]) => containsIp(range, ip));
        if (network) {
            problems.push(`${fullKey(key)} = "${range.text}" overlaps ${fullKey("host.networks")} entry "${network}": cluster ranges must be disjoint from the hosts' networks`);
        } else if (address) {
            problems.push(`${fullKey(key)} = "${range.text}" contains ${fullKey(address[0])} = "${address[1]}": cluster ranges must not cover the hosts' addresses`);
        }
    }

    const pools = cfg.metallb.addresses.map((a) => parseAddressRange(a) as Ipv4Range);
    pools.forEach((a, i) =>
        pools.slice(i + 1).forEach((b) => {
            if (overlaps(a, b)) problems.push(`${fullKey("metallb.addresses")}: "${a.text}" overlaps "${b.text}"`);
        }),
    );
    for (const [key, range] of [
        ["cluster.podCidr", pod],
        ["cluster.serviceCidr", svc],
    ] as const) {
        for (const pool of pools) {
            if (overlaps(pool, range)) problems.push(`${fullKey("metallb.addresses")}: "${pool.text}" overlaps ${fullKey(key)} = "${range.text}"`);
        }
    }
    if (cfg.host && cfg.host.networks.length > 0) {
        const networks = cfg.host.networks.map((n) => parseCidr(n) as Ipv4Range);
        for (const pool of pools) {
            if (!networks.some((n) => contains(n, pool))) {
                problems.push(
                    `${fullKey("metallb.addresses")}: "${pool.text}" is not inside any of ${fullKey("host.networks")} (${cfg.host.networks.join(", ")}): ` +
                        "MetalLB L2 can only answer ARP for addresses on the host's own networks",
                );
            }
        }
    }
    const gatewayAddresses: [string, string | undefined][] = [
        ["metallb.ingressAddress", cfg.metallb.ingressAddress],
        ["metallb.eastWestAddress", cfg.metallb.eastWestAddress],
        ["metallb.federationAddress", cfg.metallb.federationAddress],
    ];
    const seen = new Map<string, string>();
    for (const [key, ip] of gatewayAddresses) {
        if (ip === undefined) continue;
        if (!pools.some((p) => containsIp(p, ip))) {
            problems.push(`${fullKey(key)} = "${ip}" is outside ${fullKey("metallb.addresses")} (${cfg.metallb.addresses.join(", ")}): pick an address from the pool`);
        }
        if (seen.has(ip)) problems.push(`${fullKey(key)} = "${ip}" is already used by ${fullKey(seen.get(ip) as string)}: each gateway needs its own address`);
        seen.set(ip, key);
    }
    if (cfg.mesh.trustModel === "federated" && cfg.metallb.federationAddress === undefined) {
        problems.push(`${fullKey("metallb.federationAddress")} is not set but ${fullKey("mesh.trustModel")} is "federated": the SPIRE bundle endpoint needs an address from the pool`);
    }
    return problems;
}

/** The addresses of the lab's machines this stack knows: its host's and the registry's. */
export function labAddressesOf(cfg: LabConfig): Record<string, string> {
    const addresses: Record<string, string> = { "registry.host": cfg.registry.host };
    if (cfg.host) addresses["host.address"] = cfg.host.address;
    if (cfg.host?.serviceAddress) addresses["host.serviceAddress"] = cfg.host.serviceAddress;
    return addresses;
}

/**
 * Rules between this stack's MetalLB addresses and the lab's machines, and about
 * the peer reference: MetalLB in L2 mode answers ARP for every address it hands
 * out, so an address of a host in a pool, or as a gateway address, would steal
 * that host's traffic (the API server's, SSH's, the registry's).
 */
function labAddressProblems(cfg: LabConfig): string[] {
    const problems: string[] = [];
    const machines = Object.entries(labAddressesOf(cfg));
    const gateways: [string, string | undefined][] = [
        ["metallb.ingressAddress", cfg.metallb.ingressAddress],
        ["metallb.eastWestAddress", cfg.metallb.eastWestAddress],
        ["metallb.federationAddress", cfg.metallb.federationAddress],
    ];
    const reported = new Set<string>();
    for (const [key, ip] of gateways) {
        const machine = machines.find(([, address]) => address === ip);
        if (!ip || !machine) continue;
        reported.add(ip);
        problems.push(
            `${fullKey(key)} = "${ip}" is ${fullKey(machine[0])}: MetalLB would answer ARP for that machine's own address and take its traffic; ` +
                `pick a free address of ${fullKey("metallb.addresses")} that no host, service interface or registry uses`,
        );
    }
    for (const entry of cfg.metallb.addresses) {
        const pool = parseAddressRange(entry) as Ipv4Range;
        for (const [key, address] of machines) {
            if (reported.has(address) || !containsIp(pool, address)) continue;
            problems.push(
                `${fullKey("metallb.addresses")}: "${entry}" contains ${fullKey(key)} = "${address}": MetalLB could hand that address to a Service and answer ARP for it; ` +
                    "leave the hosts' and the registry's addresses out of the pool",
            );
        }
    }
    cfg.peers.forEach((peer, i) => {
        if (stackNameOf(peer.stack) === cfg.stack) {
            problems.push(`${fullKey(`peers[${i}].stack`)} = "${peer.stack}" is this stack itself: name the other stacks of the lab (comp2's peer is comp3, comp3's is comp2)`);
        }
    });
    return problems;
}
