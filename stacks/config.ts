// Stack configuration: read once, validated by pure functions into a typed
// object, then passed down. Components never read pulumi.Config themselves.
import { X509Certificate } from "crypto";
import { contains, containsIp, isIpv4, overlaps, parseAddressRange, parseCidr, Ipv4Range } from "./net";
import { supportProblems } from "./support";

/** The Pulumi project name, which is also the config namespace. */
export const PROJECT = "zta-testbed";

export type PkiRole = "root" | "peer";
export type TrustModel = "shared" | "federated";

export interface ClusterSettings {
    /** Istio `multiCluster.clusterName`, Cilium `cluster.name`, SPIRE `clusterName`. */
    readonly name: string;
    /** Cilium cluster id, 1..255, unique across the mesh. */
    readonly id: number;
    /** Istio network name (`topology.istio.io/network`). */
    readonly network: string;
    readonly podCidr: string;
    readonly serviceCidr: string;
}

export interface HostSettings {
    /** Management address (eno3): SSH, the API server, what the peer dials. */
    readonly address: string;
    /** Service address (eno4), when the host has one. */
    readonly serviceAddress?: string;
    /** The management NIC's name: "eno3" (the lab guide) by default when the host has a service address, else unset (one NIC). */
    readonly managementInterface?: string;
    /** The service NIC's name: "eno4" by default when the host has a service address. */
    readonly serviceInterface?: string;
    /** Networks the host sits on; MetalLB ranges must fall inside one of them. */
    readonly networks: string[];
    readonly sshUser: string;
    readonly sshPort: number;
    /** Whether `pulumi destroy` may run `kubeadm reset` on the host. */
    readonly allowReset: boolean;
}

export interface MeshSettings {
    readonly id: string;
    readonly trustDomain: string;
    readonly trustModel: TrustModel;
}

export interface MetallbSettings {
    /** IPAddressPool entries: "first-last" ranges or CIDRs. */
    readonly addresses: string[];
    readonly ingressAddress: string;
    readonly eastWestAddress: string;
    /** SPIRE federation bundle endpoint address (federated trust model only). */
    readonly federationAddress?: string;
    /** NICs the L2Advertisement answers ARP on; empty: every NIC. Default: the management NIC of a two-NIC host. */
    readonly interfaces: string[];
}

export interface Versions {
    readonly kubernetes: string;
    readonly cilium: string;
    readonly metallb: string;
    readonly istio: string;
    readonly spireCrds: string;
    readonly spire: string;
    readonly prometheus: string;
    readonly kiali: string;
    readonly grafana: string;
}

export interface RegistrySettings {
    /** comp1's address: the registry runs here (root stack only) and images are pulled from here. */
    readonly host: string;
    readonly port: number;
    readonly sshUser: string;
    /** Whether `pulumi destroy` may remove the registry container on the host (the images stay either way). */
    readonly allowRemove: boolean;
}

export interface JwtSettings {
    /** Default: the lab issuer's realm URL (`https://<registry.host>:<issuer.port>/realms/<issuer.realm>`). */
    readonly issuer: string;
    /** Default: the lab issuer's realm keys, `<issuer>/protocol/openid-connect/certs`. */
    readonly jwksUri: string;
    /** Accepted `aud` values; default with the lab issuer: its client (`issuer.clientId`); empty: any token of the issuer. */
    readonly audiences: string[];
    /**
     * The CA (PEM) that signed an external issuer's certificate: istiod trusts
     * exactly it for the JWKS fetch. Unset for the lab issuer (the lab root signs its certificate).
     */
    readonly caCert?: string;
    /** True when `issuer` is the lab's own issuer (Keycloak on comp1, run by the root stack). */
    readonly labIssuer: boolean;
}

/** The lab's own OIDC issuer: Keycloak on comp1 (`registry.host`), run by the root stack. */
export interface IssuerSettings {
    readonly port: number;
    readonly realm: string;
    /** The confidential client the realm import creates (client-credentials grant), and the audience its tokens carry. */
    readonly clientId: string;
    /** Keycloak's container image, pinned. */
    readonly image: string;
}

/** Keycloak's image at the version the lab runs (quay.io/keycloak/keycloak). */
export const KEYCLOAK_IMAGE = "quay.io/keycloak/keycloak:26.4.7";

/** One entry of the roster (`peers`): another stack of the lab and the cluster it runs. */
export interface PeerRef {
    /** StackReference name: "comp3", or "org/zta-testbed/comp3". */
    readonly stack: string;
    /** The cluster name the peer stack is expected to report. */
    readonly clusterName: string;
}

export interface AddonSettings {
    readonly prometheus: boolean;
    readonly kiali: boolean;
    readonly grafana: boolean;
}

/** Which helloworld version a cluster runs: the lab guide runs v1 in cluster1 and v2 in cluster2. */
export type HelloworldVersion = "v1" | "v2";

/** The sample workloads; their settings exist only when they are enabled. */
export type SampleSettings =
    | { readonly enabled: false }
    | {
          readonly enabled: true;
          /** The helloworld Deployment this cluster runs behind the shared `helloworld` Service. */
          readonly helloworldVersion: HelloworldVersion;
          /** Pull the sample images from the lab registry (`registry.host:registry.port`) instead of upstream. */
          readonly imagesFromRegistry: boolean;
      };

export interface SpireSettings {
    /** Run SPIRE's OIDC discovery provider, so services outside the mesh can verify JWT-SVIDs. */
    readonly oidcDiscovery: boolean;
}

export interface ChartSettings {
    /**
     * One Helm repository that serves every chart at its pinned version (an
     * air-gapped lab's mirror, e.g. on comp1); absent: each chart's upstream repository.
     */
    readonly mirror?: string;
}

export interface CiliumSettings {
    readonly bgpControlPlane: boolean;
    /**
     * Cilium replaces kube-proxy (eBPF service load-balancing). Needs a cluster
     * without the kube-proxy addon (`kubeadm init --skip-phases=addon/kube-proxy`).
     */
    readonly kubeProxyReplacement: boolean;
    /** NICs that run Cilium's eBPF datapath (NodePort, masquerading); empty: Cilium detects them. Default: both NICs of a two-NIC host. */
    readonly devices: string[];
}

/** How the ingress gateway serves the samples: HTTPS on 443 always; port 80 off or redirecting to it. */
export interface IngressSettings {
    /** A DNS name for the ingress address, added to its certificate's SANs (the address always is). */
    readonly hostName?: string;
    /** "off" (default): no plain-HTTP listener at all; "redirect": port 80 answers 301 to https. */
    readonly plainHttp: "off" | "redirect";
}

/** Micro-segmentation (stacks/segmentation.ts): what lab workloads may reach outside the cluster. */
export interface NetworkPolicySettings {
    /** CIDRs every pod of a segmented namespace may reach, any port; empty: nothing outside but what the lab itself needs. */
    readonly egressCidrs: string[];
}

/**
 * The lab PKI. In the `shared` trust model the stack with role "root" owns the one
 * root and signs every cluster's intermediates; in the `federated` model every
 * stack owns the root of its own trust domain and signs only its own, and `role`
 * only says which stack runs the lab registry (whose certificate its root signs).
 */
export interface PkiSettings {
    readonly role: PkiRole;
    /** A root CA certificate (PEM) the lab brings; its key is the secret `rootCaKey`. Absent: the root is generated. */
    readonly rootCaCert?: string;
    /** Lifetime of the Istio and SPIRE intermediates, in hours. */
    readonly intermediateValidityHours: number;
    /** How many hours before an intermediate's end the next `pulumi up` re-issues it. */
    readonly intermediateEarlyRenewalHours: number;
}

/** Defaults: intermediates live a year and are re-issued by any `up` in their last 30 days. */
export const DEFAULT_INTERMEDIATE_VALIDITY_HOURS = 365 * 24;
export const DEFAULT_INTERMEDIATE_EARLY_RENEWAL_HOURS = 30 * 24;

/** The validated configuration of one stack (one cluster). */
export interface LabConfig {
    readonly stack: string;
    readonly cluster: ClusterSettings;
    /** Set when Pulumi builds the cluster on a bare host; absent for bring-your-own. */
    readonly host?: HostSettings;
    readonly mesh: MeshSettings;
    readonly metallb: MetallbSettings;
    readonly versions: Versions;
    readonly registry: RegistrySettings;
    readonly jwt: JwtSettings;
    readonly issuer: IssuerSettings;
    /** Every other stack of the lab (`peers`; the older single `peer` is a one-entry roster). */
    readonly peers: readonly PeerRef[];
    readonly pki: PkiSettings;
    readonly addons: AddonSettings;
    readonly samples: SampleSettings;
    readonly cilium: CiliumSettings;
    readonly spire: SpireSettings;
    readonly charts: ChartSettings;
    readonly ingress: IngressSettings;
    readonly networkPolicy: NetworkPolicySettings;
}

/** Config values as Pulumi hands them over (objects already JSON-parsed), keyed without namespace. */
export type RawConfig = Readonly<Record<string, unknown>>;

/** The secret config keys, read with `requireSecret`/`getSecret` and never validated by value. */
export const SECRET_KEYS = ["sshPrivateKey", "kubeconfig", "rootCaKey"] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

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

// SPIFFE trust domain: lowercase letters, digits, '.', '-', '_' (SPIFFE-ID spec §2.1).
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
// DNS-1123 label: what Kubernetes, Istio and Cilium accept for names we pass on.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CHART_VERSION = /^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
// kubeadm/kubelet packages: minor (apt pin "1.36.*") or exact patch. Which minors: stacks/support.ts.
const KUBERNETES_VERSION = /^1\.\d+(\.\d+)?$/;
/** kube-controller-manager's --node-cidr-mask-size for IPv4 (kubeadm keeps the default). */
export const NODE_CIDR_MASK_SIZE = 24;

/**
 * Reads fields of an untyped config object, collecting problems instead of
 * stopping at the first one so that the user sees every mistake at once.
 */
class Reader {
    constructor(private readonly problems: string[]) {}

    problem(path: string, value: unknown, expected: string): void {
        // A PEM is long: its start is enough to recognise it.
        const shown = typeof value === "string" && value.length > 60 ? `${value.slice(0, 40)}...` : value;
        this.problems.push(`${fullKey(path)} = ${JSON.stringify(shown)}: ${expected}`);
    }

    /** A key that must be set because of another one. */
    missing(path: string, why: string): void {
        this.problems.push(`${fullKey(path)} is not set: ${why}`);
    }

    object(raw: RawConfig, key: string, optional = false): Record<string, unknown> | undefined {
        const value = raw[key];
        if (value === undefined) {
            if (!optional) this.problems.push(`${fullKey(key)} is not set: add it to Pulumi.<stack>.yaml (see README, "Configuration")`);
            return undefined;
        }
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
            this.problem(key, value, "expected an object");
            return undefined;
        }
        return value as Record<string, unknown>;
    }

    string(obj: Record<string, unknown>, path: string, check?: (s: string) => string | undefined): string {
        const value = obj[lastSegment(path)];
        if (typeof value !== "string" || value === "") {
            this.problem(path, value, "expected a non-empty string");
            return "";
        }
        const complaint = check?.(value);
        if (complaint) this.problem(path, value, complaint);
        return value;
    }

    optionalString(obj: Record<string, unknown>, path: string, check?: (s: string) => string | undefined): string | undefined {
        return obj[lastSegment(path)] === undefined ? undefined : this.string(obj, path, check);
    }

    integer(obj: Record<string, unknown>, path: string, min: number, max: number, fallback?: number): number {
        const value = obj[lastSegment(path)] ?? fallback;
        if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
            this.problem(path, value, `expected an integer from ${min} to ${max}`);
            return min;
        }
        return value;
    }

    boolean(obj: Record<string, unknown>, path: string, fallback: boolean): boolean {
        const value = obj[lastSegment(path)] ?? fallback;
        if (typeof value !== "boolean") {
            this.problem(path, value, "expected true or false");
            return fallback;
        }
        return value;
    }

    stringList(obj: Record<string, unknown>, path: string, check: (s: string) => string | undefined, allowEmpty = false): string[] {
        const value = obj[lastSegment(path)];
        if (!Array.isArray(value) || (!allowEmpty && value.length === 0) || value.some((v) => typeof v !== "string")) {
            this.problem(path, value, allowEmpty ? "expected a list of strings" : "expected a non-empty list of strings");
            return [];
        }
        value.forEach((v: string, i) => {
            const complaint = check(v);
            if (complaint) this.problem(`${path}[${i}]`, v, complaint);
        });
        return value as string[];
    }
}

function lastSegment(path: string): string {
    return path.split(".").pop() as string;
}

const checkIp = (s: string) => (isIpv4(s) ? undefined : "expected an IPv4 address (the lab is IPv4-only)");
const checkCidr = (s: string) => (parseCidr(s) ? undefined : "expected an IPv4 CIDR such as 10.244.0.0/16 (host bits zero)");
const checkRange = (s: string) =>
    parseAddressRange(s) ? undefined : 'expected an IPv4 range "first-last" with first <= last, or a CIDR such as 10.5.0.96/28';
const checkLabel = (s: string) => (DNS_LABEL.test(s) && s.length <= 63 ? undefined : "expected a DNS-1123 label (lowercase letters, digits, '-')");
const checkChartVersion = (s: string) => (CHART_VERSION.test(s) ? undefined : 'expected a pinned chart version such as "1.20.0" (no ranges)');
const checkUrl = (s: string) => {
    try {
        const u = new URL(s);
        return u.protocol === "https:" ? undefined : "expected an https:// URL";
    } catch {
        return "expected an https:// URL";
    }
};

// Helm fetches index.yaml and the packages over plain HTTP too; a mirror on comp1 or on loopback may have no certificate.
const checkMirrorUrl = (s: string) => {
    try {
        const u = new URL(s);
        return u.protocol === "https:" || u.protocol === "http:" ? undefined : "expected an http:// or https:// URL of a Helm repository (the folder that holds index.yaml)";
    } catch {
        return "expected an http:// or https:// URL of a Helm repository (the folder that holds index.yaml)";
    }
};

// A Linux login name as Debian's adduser accepts it by default (NAME_REGEX) and
// useradd's 32-character limit: it is also passed to ssh and into host scripts.
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
export function checkUserName(s: string): string | undefined {
    return USER_NAME.test(s) ? undefined : 'expected a Linux user name: lowercase letters, digits, "_" and "-", starting with a letter or "_", at most 32 characters (e.g. "ubuntu")';
}

export function checkTrustDomain(s: string): string | undefined {
    return TRUST_DOMAIN.test(s) && !s.startsWith(".") && !s.endsWith(".")
        ? undefined
        : 'expected a SPIFFE trust domain: lowercase letters, digits, ".", "-", "_" only, no scheme, port or path (e.g. "zta.lab")';
}

export function checkKubernetesVersion(s: string): string | undefined {
    return KUBERNETES_VERSION.test(s) ? undefined : 'expected a Kubernetes minor or patch version, as "1.36" or "1.36.3"';
}

/** A root CA certificate the lab brings: one PEM certificate, a CA, valid now. */
export function checkRootCaCert(pem: string): string | undefined {
    let cert: X509Certificate;
    try {
        cert = new X509Certificate(pem);
    } catch {
        return "expected a PEM certificate (-----BEGIN CERTIFICATE-----): set it with `pulumi config set --path zta-testbed:pki.rootCaCert -- \"$(cat root.pem)\"`";
    }
    if (!cert.ca) return `expected a CA certificate (basicConstraints CA:TRUE); "${cert.subject.replace(/\n/g, ", ")}" is not one`;
    const now = Date.now();
    if (Date.parse(cert.validTo) <= now || Date.parse(cert.validFrom) > now) return `expected a certificate valid now; it is valid from ${cert.validFrom} to ${cert.validTo}`;
    return undefined;
}

function checkClusterName(s: string): string | undefined {
    // Cilium: cluster.name is at most 32 characters and may not be "default" with a non-zero cluster id.
    if (checkLabel(s)) return checkLabel(s);
    if (s.length > 32) return "expected at most 32 characters (Cilium's cluster.name limit)";
    if (s === "default") return 'may not be "default" (Cilium reserves it for cluster id 0)';
    return undefined;
}

/**
 * Validates raw stack configuration. `secretsSet` says which secret keys have a
 * value; secret values themselves never pass through here.
 */
export function parseLabConfig(stack: string, raw: RawConfig, secretsSet: ReadonlySet<SecretKey>): LabConfig {
    const problems: string[] = [];
    const r = new Reader(problems);

    const c = r.object(raw, "cluster") ?? {};
    const cluster: ClusterSettings = {
        name: r.string(c, "cluster.name", checkClusterName),
        id: r.integer(c, "cluster.id", 1, 255),
        network: r.string(c, "cluster.network", checkLabel),
        podCidr: r.string(c, "cluster.podCidr", checkCidr),
        serviceCidr: r.string(c, "cluster.serviceCidr", checkCidr),
    };

    const h = r.object(raw, "host", true);
    const host: HostSettings | undefined = h && {
        address: r.string(h, "host.address", checkIp),
        serviceAddress: r.optionalString(h, "host.serviceAddress", checkIp),
        networks: r.stringList(h, "host.networks", checkCidr, true),
        sshUser: r.string(h, "host.sshUser", checkUserName),
        sshPort: r.integer(h, "host.sshPort", 1, 65535, 22),
        allowReset: r.boolean(h, "host.allowReset", false),
        ...hostInterfaces(r, h),
    };

    const m = r.object(raw, "mesh") ?? {};
    const trustModel = r.string(m, "mesh.trustModel", (s) =>
        s === "shared" || s === "federated" ? undefined : 'expected "shared" (one trust domain) or "federated" (one per cluster)',
    ) as TrustModel;
    const mesh: MeshSettings = {
        id: r.string(m, "mesh.id", checkLabel),
        trustDomain: r.string(m, "mesh.trustDomain", checkTrustDomain),
        trustModel,
    };

    const lb = r.object(raw, "metallb") ?? {};
    const metallb: MetallbSettings = {
        addresses: r.stringList(lb, "metallb.addresses", checkRange),
        ingressAddress: r.string(lb, "metallb.ingressAddress", checkIp),
        eastWestAddress: r.string(lb, "metallb.eastWestAddress", checkIp),
        federationAddress: r.optionalString(lb, "metallb.federationAddress", checkIp),
        interfaces: lb.interfaces === undefined ? (host?.managementInterface ? [host.managementInterface] : []) : r.stringList(lb, "metallb.interfaces", checkInterface, true),
    };

    const v = r.object(raw, "versions") ?? {};
    const versions: Versions = {
        kubernetes: r.string(v, "versions.kubernetes", checkKubernetesVersion),
        cilium: r.string(v, "versions.cilium", checkChartVersion),
        metallb: r.string(v, "versions.metallb", checkChartVersion),
        istio: r.string(v, "versions.istio", checkChartVersion),
        spireCrds: r.string(v, "versions.spireCrds", checkChartVersion),
        spire: r.string(v, "versions.spire", checkChartVersion),
        prometheus: r.string(v, "versions.prometheus", checkChartVersion),
        kiali: r.string(v, "versions.kiali", checkChartVersion),
        grafana: r.string(v, "versions.grafana", checkChartVersion),
    };

    const reg = r.object(raw, "registry") ?? {};
    const registry: RegistrySettings = {
        host: r.string(reg, "registry.host", checkIp),
        port: r.integer(reg, "registry.port", 1, 65535, 8443),
        sshUser: r.optionalString(reg, "registry.sshUser", checkUserName) ?? host?.sshUser ?? "ubuntu",
        allowRemove: r.boolean(reg, "registry.allowRemove", false),
    };

    const is = r.object(raw, "issuer", true) ?? {};
    const issuer: IssuerSettings = {
        port: r.integer(is, "issuer.port", 1, 65535, 9443),
        realm: r.optionalString(is, "issuer.realm", checkLabel) ?? "zta",
        clientId: r.optionalString(is, "issuer.clientId", checkLabel) ?? "zta-testbed",
        image: r.optionalString(is, "issuer.image") ?? KEYCLOAK_IMAGE,
    };
    const jwt = jwtSettings(r, r.object(raw, "jwt", true) ?? {}, labIssuerUrl(registry.host, issuer), issuer);

    const peers = rosterSettings(r, raw, problems);

    const k = r.object(raw, "pki") ?? {};
    const role = r.string(k, "pki.role", (s) =>
        s === "root" || s === "peer" ? undefined : 'expected "root" (this stack owns the lab root CA) or "peer" (takes it from the root stack)',
    ) as PkiRole;

    const intermediateValidityHours = r.integer(k, "pki.intermediateValidityHours", 24, 10 * 365 * 24, DEFAULT_INTERMEDIATE_VALIDITY_HOURS);
    const pki: PkiSettings = {
        role,
        rootCaCert: r.optionalString(k, "pki.rootCaCert", checkRootCaCert),
        intermediateValidityHours,
        intermediateEarlyRenewalHours: r.integer(k, "pki.intermediateEarlyRenewalHours", 0, intermediateValidityHours - 1, DEFAULT_INTERMEDIATE_EARLY_RENEWAL_HOURS),
    };

    const a = r.object(raw, "addons", true) ?? {};
    const addons: AddonSettings = {
        prometheus: r.boolean(a, "addons.prometheus", false),
        kiali: r.boolean(a, "addons.kiali", false),
        grafana: r.boolean(a, "addons.grafana", false),
    };
    const s = r.object(raw, "samples", true) ?? {};
    const ci = r.object(raw, "cilium", true) ?? {};
    const sp = r.object(raw, "spire", true) ?? {};
    const ch = r.object(raw, "charts", true) ?? {};

    const config: LabConfig = {
        stack,
        cluster,
        host,
        mesh,
        metallb,
        versions,
        registry,
        jwt,
        issuer,
        peers,
        pki,
        addons,
        samples: sampleSettings(r, s),
        cilium: {
            bgpControlPlane: r.boolean(ci, "cilium.bgpControlPlane", false),
            kubeProxyReplacement: r.boolean(ci, "cilium.kubeProxyReplacement", true),
            devices:
                ci.devices === undefined
                    ? [host?.managementInterface, host?.serviceInterface].filter((d): d is string => d !== undefined)
                    : r.stringList(ci, "cilium.devices", checkInterface, true),
        },
        spire: { oidcDiscovery: r.boolean(sp, "spire.oidcDiscovery", false) },
        charts: { mirror: r.optionalString(ch, "charts.mirror", checkMirrorUrl) },
        ingress: ingressSettings(r, r.object(raw, "ingress", true) ?? {}),
        networkPolicy: networkPolicySettings(r, r.object(raw, "networkPolicy", true) ?? {}),
    };

    // Checks across fields run only on values that parsed, so one mistake is reported once.
    if (problems.length === 0) problems.push(...crossFieldProblems(config, secretsSet), ...labAddressProblems(config), ...rosterProblems(config, raw));
    if (problems.length > 0) throw new ConfigError(inStackFile(stack, problems));
    return config;
}

function sampleSettings(r: Reader, s: Record<string, unknown>): SampleSettings {
    const enabled = r.boolean(s, "samples.enabled", false);
    const checkVersion = (v: string) => (v === "v1" || v === "v2" ? undefined : 'expected "v1" or "v2" (the lab guide runs v1 in cluster1, v2 in cluster2)');
    if (!enabled) {
        // Not used, but a typo should not wait until the samples are switched on.
        r.optionalString(s, "samples.helloworldVersion", checkVersion);
        r.boolean(s, "samples.imagesFromRegistry", false);
        return { enabled };
    }
    return {
        enabled,
        helloworldVersion: r.string(s, "samples.helloworldVersion", checkVersion) as HelloworldVersion,
        imagesFromRegistry: r.boolean(s, "samples.imagesFromRegistry", false),
    };
}

/** The stack file key of roster entry `i`: `peers[i]`, or `peer` when the file uses the one-peer shorthand. */
export function peerKey(raw: RawConfig, i: number): string {
    return raw.peers === undefined && raw.peer !== undefined ? "peer" : `peers[${i}]`;
}

/**
 * The roster: `peers`, a list of {stack, clusterName}, one entry per other
 * stack of the lab. The older `peer: {stack, clusterName}` is read as a
 * one-entry roster; setting both is refused.
 */
function rosterSettings(r: Reader, raw: RawConfig, problems: string[]): PeerRef[] {
    if (raw.peer !== undefined && raw.peers !== undefined) {
        problems.push(`${fullKey("peer")} and ${fullKey("peers")} are both set: keep only ${fullKey("peers")} (a list of {stack, clusterName}, one per other stack) and remove ${fullKey("peer")}`);
        return [];
    }
    if (raw.peers === undefined) {
        const p = r.object(raw, "peer", true);
        if (p === undefined) {
            problems.push(`${fullKey("peers")} is not set: list every other stack of the lab, e.g. \`peers: [{stack: comp3, clusterName: cluster2}]\` (see README, "Configuration")`);
            return [];
        }
        return [{ stack: r.string(p, "peer.stack"), clusterName: r.string(p, "peer.clusterName", checkClusterName) }];
    }
    const list = raw.peers;
    if (!Array.isArray(list) || list.length === 0) {
        r.problem("peers", list, "expected a non-empty list of {stack, clusterName}, one entry per other stack of the lab");
        return [];
    }
    return list.map((entry, i) => {
        if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
            r.problem(`peers[${i}]`, entry, "expected {stack, clusterName}");
            return { stack: "", clusterName: "" };
        }
        const e = entry as Record<string, unknown>;
        for (const key of Object.keys(e).filter((k) => k !== "stack" && k !== "clusterName")) {
            problems.push(`${fullKey(`peers[${i}].${key}`)} is not a known setting: an entry has only stack and clusterName`);
        }
        return { stack: r.string(e, `peers[${i}].stack`), clusterName: r.string(e, `peers[${i}].clusterName`, checkClusterName) };
    });
}

/** The lab guide's NICs: management (SSH, API server, MetalLB) and service. */
export const LAB_GUIDE_NICS = { management: "eno3", service: "eno4" } as const;

// A Linux interface name as the kernel accepts it (net/core/dev.c, dev_valid_name): 1 to 15
// characters (IFNAMSIZ 16 with the NUL), not "." or "..", no "/", ":" or whitespace.
export function checkInterface(s: string): string | undefined {
    return /^[^\s/:]{1,15}$/.test(s) && s !== "." && s !== ".."
        ? undefined
        : 'expected a Linux interface name (1 to 15 characters, no "/", ":" or whitespace), such as "eno3"';
}

/**
 * The host's NIC names. A host with a service address has the lab guide's two
 * NICs unless told otherwise; a host without one has one NIC, which nothing
 * needs to name (MetalLB answers on it, Cilium detects it).
 */
function hostInterfaces(r: Reader, h: Record<string, unknown>): { managementInterface?: string; serviceInterface?: string } {
    const twoNics = h.serviceAddress !== undefined;
    const named = (key: "managementInterface" | "serviceInterface", fallback: string) =>
        h[key] === undefined ? (twoNics ? fallback : undefined) : r.string(h, `host.${key}`, checkInterface);
    return { managementInterface: named("managementInterface", LAB_GUIDE_NICS.management), serviceInterface: named("serviceInterface", LAB_GUIDE_NICS.service) };
}

// RFC 1123 host name: dot-separated DNS labels, at most 253 characters.
const checkHostName = (s: string) =>
    s.length <= 253 && s.split(".").every((l) => DNS_LABEL.test(l) && l.length <= 63) ? undefined : 'expected a DNS name such as "ingress.zta.lab" (lowercase labels separated by dots)';

function ingressSettings(r: Reader, i: Record<string, unknown>): IngressSettings {
    const plainHttp = (r.optionalString(i, "ingress.plainHttp", (v) =>
        v === "off" || v === "redirect" ? undefined : 'expected "off" (no plain-HTTP listener) or "redirect" (port 80 redirects to https)',
    ) ?? "off") as IngressSettings["plainHttp"];
    return { hostName: r.optionalString(i, "ingress.hostName", checkHostName), plainHttp };
}

/** The lab issuer's realm URL: what tokens carry as `iss`. */
export function labIssuerUrl(host: string, issuer: IssuerSettings): string {
    return `https://${host}:${issuer.port}/realms/${issuer.realm}`;
}

/**
 * JWT validation at the ingress. Without `jwt.issuer`, or with the lab
 * issuer's own URL, the lab issuer: its keys at the realm's certs endpoint,
 * its client as the audience, its certificate from the lab root. Any other
 * issuer is external and must come with its CA certificate (`jwt.caCert`).
 */
function jwtSettings(r: Reader, j: Record<string, unknown>, labUrl: string, issuer: IssuerSettings): JwtSettings {
    const url = r.optionalString(j, "jwt.issuer", checkUrl) ?? labUrl;
    const labIssuer = url === labUrl;
    const jwksUri = r.optionalString(j, "jwt.jwksUri", checkUrl) ?? (labIssuer ? `${labUrl}/protocol/openid-connect/certs` : undefined);
    if (jwksUri === undefined) r.missing("jwt.jwksUri", `give the https:// URL of ${url}'s signing keys (an external issuer's JWKS URI is not derived)`);
    const caCert = r.optionalString(j, "jwt.caCert", checkPemCertificate);
    // An issuer URL that is itself refused (not https) gets that one complaint, not a second about its CA.
    if (!labIssuer && j.caCert === undefined && typeof j.issuer === "string" && checkUrl(j.issuer) === undefined) {
        r.missing(
            "jwt.caCert",
            `give the PEM certificate of the CA that signed ${url}'s certificate: jwt.issuer names an external issuer, and istiod trusts exactly that CA when it fetches the JWKS ` +
                `(set it with \`pulumi config set --path ${fullKey("jwt.caCert")} -- "$(cat issuer-ca.pem)"\`, or remove jwt.issuer to use the lab's issuer)`,
        );
    }
    if (labIssuer && caCert !== undefined) r.problem("jwt.caCert", "(PEM)", "the lab issuer's certificate comes from the lab root: remove jwt.caCert, or name an external jwt.issuer");
    return {
        issuer: url,
        jwksUri: jwksUri ?? "",
        audiences: j.audiences === undefined ? (labIssuer ? [issuer.clientId] : []) : r.stringList(j, "jwt.audiences", () => undefined),
        caCert,
        labIssuer,
    };
}

const checkPemCertificate = (s: string) => {
    try {
        new X509Certificate(s);
        return undefined;
    } catch {
        return "expected a PEM certificate (-----BEGIN CERTIFICATE-----)";
    }
};

function networkPolicySettings(r: Reader, n: Record<string, unknown>): NetworkPolicySettings {
    return { egressCidrs: n.egressCidrs === undefined ? [] : r.stringList(n, "networkPolicy.egressCidrs", checkCidr, true) };
}

function crossFieldProblems(cfg: LabConfig, secretsSet: ReadonlySet<SecretKey>): string[] {
    // The versions first: a combination known not to work is refused before anything else is looked at.
    const problems: string[] = supportProblems(cfg.versions);
    if (cfg.host && !secretsSet.has("sshPrivateKey")) {
        problems.push(
            `${fullKey("sshPrivateKey")} is not set but ${fullKey("host")} is: set the SSH key with ` +
                `\`pulumi config set --secret ${fullKey("sshPrivateKey")} < ~/.ssh/id_ed25519\``,
        );
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
                `set it on the root stack ${cfg.peers.length === 1 ? `"${cfg.peers[0].stack}"` : `(the one of ${cfg.peers.map((p) => `"${p.stack}"`).join(", ")} with pki.role "root")`} instead, and remove it here`,
        );
    }
    if (cfg.pki.rootCaCert !== undefined && !secretsSet.has("rootCaKey")) {
        problems.push(
            `${fullKey("pki.rootCaCert")} is set but its key is not: \`pulumi config set --secret ${fullKey("rootCaKey")} < root-key.pem\` ` +
                "(or remove pki.rootCaCert to have a root generated)",
        );
    }
    if (cfg.pki.rootCaCert === undefined && secretsSet.has("rootCaKey")) {
        problems.push(`${fullKey("rootCaKey")} is set but ${fullKey("pki.rootCaCert")} is not: set the root's certificate too, or remove the key`);
    }

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
    for (const [key, range] of [["cluster.podCidr", pod], ["cluster.serviceCidr", svc]] as const) {
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
    for (const [key, range] of [["cluster.podCidr", pod], ["cluster.serviceCidr", svc]] as const) {
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
 * Rules between this stack's MetalLB addresses and the lab's machines: MetalLB
 * in L2 mode answers ARP for every address it hands out, so an address of a host
 * in a pool, or as a gateway address, would steal that host's traffic (the API
 * server's, SSH's, the registry's).
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
    return problems;
}

/** The stack name a StackReference name ends in: "comp3" for "comp3" and for "org/zta-testbed/comp3". */
export function stackNameOf(reference: string): string {
    return reference.split("/").pop() as string;
}

/** Rules of the roster alone: no entry names this stack or its cluster, and no stack or cluster is named twice. */
function rosterProblems(cfg: LabConfig, raw: RawConfig): string[] {
    const problems: string[] = [];
    const stacks = new Map<string, number>();
    const clusters = new Map<string, number>();
    cfg.peers.forEach((p, i) => {
        const key = peerKey(raw, i);
        if (stackNameOf(p.stack) === cfg.stack) {
            problems.push(`${fullKey(`${key}.stack`)} = "${p.stack}" is this stack itself: list only the other stacks of the lab (comp2's peer is comp3, comp3's is comp2)`);
        }
        if (p.clusterName === cfg.cluster.name) {
            problems.push(`${fullKey(`${key}.clusterName`)} = "${p.clusterName}" equals ${fullKey("cluster.name")}: every cluster of the lab needs its own name`);
        }
        const twice = stacks.get(stackNameOf(p.stack));
        if (twice !== undefined) problems.push(`${fullKey(`${key}.stack`)} = "${p.stack}" is already ${fullKey(`peers[${twice}].stack`)}: list each stack once`);
        const sameCluster = clusters.get(p.clusterName);
        if (sameCluster !== undefined) {
            problems.push(`${fullKey(`${key}.clusterName`)} = "${p.clusterName}" is already ${fullKey(`peers[${sameCluster}].clusterName`)}: every cluster of the lab needs its own name`);
        }
        stacks.set(stackNameOf(p.stack), i);
        clusters.set(p.clusterName, i);
    });
    return problems;
}
