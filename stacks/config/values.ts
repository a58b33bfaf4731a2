// What one value may be: the checks of the schema's keys (stacks/config/schema.ts
// names them), and the guards on what operators (and anyone who edits a stack
// file) type: values that would switch zero trust off, reach a shell or a root
// container, become a path, or carry credentials and keys into files meant to be
// shared (issue 27). Pure functions over plain values; the callers name the key
// and the file.
import { X509Certificate } from "crypto";
import { rootCertificateProblem } from "./brought-root";
import { containsIp, isIpv4, parseAddressRange, parseCidr } from "./net";

// ---------------------------------------------------------------- the keys' values

/** What is wrong with one value, or undefined. */
export type Check = (s: string) => string | undefined;

// SPIFFE trust domain: lowercase letters, digits, '.', '-', '_' (SPIFFE-ID spec §2.1).
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
// DNS-1123 label: what Kubernetes, Istio and Cilium accept for names we pass on.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CHART_VERSION = /^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
// kubeadm/kubelet packages: minor (apt pin "1.36.*") or exact patch. Which minors: stacks/support.ts.
const KUBERNETES_VERSION = /^1\.\d+(\.\d+)?$/;

export const checkIp: Check = (s) => (isIpv4(s) ? undefined : "expected an IPv4 address (the lab is IPv4-only)");
export const checkCidr: Check = (s) =>
    parseCidr(s) ? undefined : "expected an IPv4 CIDR such as 10.244.0.0/16 (host bits zero)";
export const checkRange: Check = (s) =>
    parseAddressRange(s)
        ? undefined
        : 'expected an IPv4 range "first-last" with first <= last, or a CIDR such as 10.5.0.96/28';
export const checkLabel: Check = (s) =>
    DNS_LABEL.test(s) && s.length <= 63 ? undefined : "expected a DNS-1123 label (lowercase letters, digits, '-')";
export const checkChartVersion: Check = (s) =>
    CHART_VERSION.test(s) ? undefined : 'expected a pinned chart version such as "1.20.0" (no ranges)';
export const checkUrl: Check = (s) => {
    if (hasUserinfo(s)) return USERINFO_PROBLEM;
    try {
        return new URL(s).protocol === "https:" ? undefined : "expected an https:// URL";
    } catch {
        return "expected an https:// URL";
    }
};

// Helm fetches index.yaml and the packages over plain HTTP too; a mirror on comp1 or on loopback may have no certificate.
export const checkMirrorUrl: Check = (s) => {
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
    return USER_NAME.test(s)
        ? undefined
        : 'expected a Linux user name: lowercase letters, digits, "_" and "-", starting with a letter or "_", at most 32 characters (e.g. "ubuntu")';
}

export function checkTrustDomain(s: string): string | undefined {
    return TRUST_DOMAIN.test(s) && !s.startsWith(".") && !s.endsWith(".")
        ? undefined
        : 'expected a SPIFFE trust domain: lowercase letters, digits, ".", "-", "_" only, no scheme, port or path (e.g. "zta.lab")';
}

export function checkKubernetesVersion(s: string): string | undefined {
    return KUBERNETES_VERSION.test(s)
        ? undefined
        : 'expected a Kubernetes minor or patch version, as "1.36" or "1.36.3"';
}

/** A root CA certificate the lab brings, on its own (brought-root.ts; what it must fit in the lab is checked with the other keys). */
export const checkRootCaCert: Check = (pem) => rootCertificateProblem(pem);

export const checkPemCertificate: Check = (s) => {
    try {
        new X509Certificate(s);
    } catch {
        return "expected a PEM certificate (-----BEGIN CERTIFICATE-----)";
    }
    // An expired CA makes istiod's JWKS fetch fail, and with it every token check at the ingress.
    return validityProblem(s);
};

export function checkClusterName(s: string): string | undefined {
    // Cilium: cluster.name is at most 32 characters and may not be "default" with a non-zero cluster id.
    if (checkLabel(s)) return checkLabel(s);
    if (s.length > 32) return "expected at most 32 characters (Cilium's cluster.name limit)";
    if (s === "default") return 'may not be "default" (Cilium reserves it for cluster id 0)';
    return undefined;
}

// A Linux interface name as the kernel accepts it (net/core/dev.c, dev_valid_name): 1 to 15
// characters (IFNAMSIZ 16 with the NUL), not "." or "..", no "/", ":" or whitespace.
export function checkInterface(s: string): string | undefined {
    return /^[^\s/:]{1,15}$/.test(s) && s !== "." && s !== ".."
        ? undefined
        : 'expected a Linux interface name (1 to 15 characters, no "/", ":" or whitespace), such as "eno3"';
}

// RFC 1123 host name: dot-separated DNS labels, at most 253 characters.
export const checkHostName: Check = (s) =>
    s.length <= 253 && s.split(".").every((l) => DNS_LABEL.test(l) && l.length <= 63)
        ? undefined
        : 'expected a DNS name such as "ingress.zta.lab" (lowercase labels separated by dots)';

// ---------------------------------------------------------------- stack names

/**
 * A Pulumi stack name as the CLI accepts it (pulumi/pulumi
 * sdk/go/common/tokens/stack_name.go, ParseStackName: 1 to 100 characters of
 * `[A-Za-z0-9_.-]`), and not "." or "..", which Pulumi allows but which as a
 * folder of the plan would be the output directory or its parent.
 */
export function checkStackName(s: string): string | undefined {
    if (/^[A-Za-z0-9_.-]{1,100}$/.test(s) && s !== "." && s !== "..") return undefined;
    return 'expected a Pulumi stack name: 1 to 100 letters, digits, "-", "_" or "." (not "." or ".."), e.g. "comp2"';
}

/**
 * A StackReference name of this project: "stack", or "org/project/stack" with
 * `project` this project. Pulumi resolves a fully qualified name exactly, so an
 * entry naming another project's stack would be read from that project.
 */
export function checkStackReference(s: string, project: string): string | undefined {
    const parts = s.split("/");
    if (parts.length === 1) {
        const problem = checkStackName(s);
        return problem === undefined ? undefined : `${problem}, or "org/${project}/<stack>"`;
    }
    if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_.-]{1,100}$/.test(p)) || checkStackName(parts[2])) {
        return `expected a stack name ("comp3") or a fully qualified one ("org/${project}/comp3")`;
    }
    if (parts[1] !== project)
        return `names a stack of Pulumi project "${parts[1]}", not of this project "${project}": write "${parts[0]}/${project}/${parts[2]}" or just "${parts[2]}"`;
    return undefined;
}

// ---------------------------------------------------------------- images

// The reference grammar of distribution/reference (reference/regexp.go): an optional
// domain (a host name or IPv4 address, with a port), path components of lowercase
// alphanumerics joined by ".", "_", "__" or dashes, then ":tag" and/or "@digest".
const DOMAIN = String.raw`(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?`;
const COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;
const IMAGE = new RegExp(
    String.raw`^(?:(${DOMAIN})/)?(${COMPONENT}(?:/${COMPONENT})*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$`,
);
/** An exact release tag: major.minor.patch with an optional suffix ("26.4.7", "26.4.7-0"); never "latest" or a moving "26.4". */
const EXACT_TAG = /^v?\d+\.\d+\.\d+(?:[-+._][0-9A-Za-z.-]+)?$/;

/** Registries the lab issuer's image may come from besides the lab registry: Keycloak's own (quay.io/keycloak). */
export const ISSUER_IMAGE_REGISTRIES = ["quay.io"] as const;

/**
 * Upstream repositories a workload of `workloads` may pull from besides the lab registry:
 * the samples' own, which the policy pack's allowed-registries allows too. Anything else
 * comes through the lab registry (mirror it there).
 */
export const WORKLOAD_IMAGE_REPOSITORIES = ["docker.io/curlimages", "docker.io/mccutchen", "registry.istio.io/release"];

/**
 * What is wrong with an image reference, or undefined: it must be well-formed, pinned (a
 * sha256 digest, or an exact release tag), and under one of `allowed` (a registry host,
 * or a repository prefix; an image without a registry is Docker Hub's, `docker.io/...`).
 * `from` says why those, `fix` gives an example.
 */
export function pinnedImageProblem(
    s: string,
    allowed: readonly string[],
    from: string,
    fix: string,
): string | undefined {
    const m = IMAGE.exec(s);
    if (s.startsWith("-") || !m)
        return `expected a container image reference (registry/path:tag or @sha256:digest), ${fix}`;
    const [, first, path, tag, digest] = m;
    // Docker's rule: the first segment is a registry host only with a "." or ":" in it, or "localhost".
    const host = first !== undefined && (/[.:]/.test(first) || first === "localhost");
    const repository = host ? `${first}/${path}` : `docker.io/${first === undefined ? "" : `${first}/`}${path}`;
    if (!allowed.some((p) => repository === p || repository.startsWith(`${p}/`)))
        return `expected an image from ${allowed.map((r) => `"${r}"`).join(" or ")} (${from}), ${fix}`;
    if (digest === undefined && (tag === undefined || !EXACT_TAG.test(tag)))
        return `expected a pinned image: a sha256 digest or an exact release tag (not "${tag ?? "latest"}", which moves), ${fix}`;
    return undefined;
}

/**
 * The lab issuer's image: it runs as root on comp1 with the issuer's TLS key, its
 * client secret and admin password, and its reference becomes an argument of
 * `docker run`. A well-formed reference, pinned (a sha256 digest, or an exact
 * release tag), from Keycloak's registry (quay.io) or the lab registry
 * (`labRegistry`, "host:port").
 */
export function checkIssuerImage(s: string, labRegistry: string): string | undefined {
    return pinnedImageProblem(
        s,
        [...ISSUER_IMAGE_REGISTRIES, labRegistry],
        "Keycloak's registry, or the lab registry: mirror it there",
        `e.g. "quay.io/keycloak/keycloak:26.8.1" or "${labRegistry}/keycloak/keycloak@sha256:<digest>"`,
    );
}

/** A workload's image (`workloads[].image`): pinned, from the lab registry (`labRegistry`, "host:port") or WORKLOAD_IMAGE_REPOSITORIES. */
export function checkWorkloadImage(s: string, labRegistry: string): string | undefined {
    return pinnedImageProblem(
        s,
        [labRegistry, ...WORKLOAD_IMAGE_REPOSITORIES],
        "the lab registry, or an upstream repository the samples use: mirror any other image into the lab registry",
        `e.g. "${labRegistry}/flask-hello:1.0" or "${labRegistry}/flask-hello@sha256:<digest>"`,
    );
}

// ---------------------------------------------------------------- URLs and keys

/** Whether a URL carries credentials (userinfo: "https://user:pass@host/"). */
export function hasUserinfo(s: string): boolean {
    try {
        const u = new URL(s);
        return u.username !== "" || u.password !== "";
    } catch {
        return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(s);
    }
}

/** The message of a URL with credentials in it. */
export const USERINFO_PROBLEM =
    "carries credentials (user:password@): the plan and the stack files are shared; give the URL without them (a mirror or issuer that needs a login is not supported)";

/** A URL with its userinfo hidden, for messages: the credentials are never printed. */
export function redactUserinfo(s: string): string {
    return s.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1***@");
}

/** The host name of a URL, lowercased; undefined when it does not parse. */
export function hostOf(s: string): string | undefined {
    try {
        return new URL(s).hostname.toLowerCase();
    } catch {
        return undefined;
    }
}

/** The PEM header of a private key ("-----BEGIN PRIVATE KEY-----", "... RSA PRIVATE KEY", "... OPENSSH PRIVATE KEY", ...). */
export const PRIVATE_KEY_PEM = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/** The paths ("a.b[0]") of every string in a YAML value that holds a plain private key. */
export function privateKeyPaths(value: unknown, at = ""): string[] {
    if (typeof value === "string") return PRIVATE_KEY_PEM.test(value) ? [at] : [];
    if (Array.isArray(value)) return value.flatMap((v, i) => privateKeyPaths(v, `${at}[${i}]`));
    if (value !== null && typeof value === "object")
        return Object.entries(value).flatMap(([k, v]) => privateKeyPaths(v, at === "" ? k : `${at}.${k}`));
    return [];
}

/** A certificate valid now: undefined, or what is wrong with its dates. */
export function validityProblem(pem: string, now = Date.now()): string | undefined {
    let cert: X509Certificate;
    try {
        cert = new X509Certificate(pem);
    } catch {
        return undefined;
    }
    if (Date.parse(cert.validTo) <= now)
        return `the certificate expired on ${cert.validTo}: give the issuer CA's current certificate`;
    if (Date.parse(cert.validFrom) > now)
        return `the certificate is not valid before ${cert.validFrom}: give one valid now`;
    return undefined;
}

// ---------------------------------------------------------------- egress

/** The longest prefix an egress CIDR may have before it counts as broad: a /16 and wider opens a whole site. */
export const BROAD_EGRESS_PREFIX = 16;

/**
 * Why an entry of `networkPolicy.egressCidrs` opens more than a few outside
 * endpoints, or undefined: a prefix of /16 or shorter (0.0.0.0/0 is every
 * address), or a range holding a lab machine's address (the hosts' SSH and API
 * servers, comp1's registry and issuer), which segmentation keeps pods from.
 */
export function broadEgressReason(cidr: string, machines: Readonly<Record<string, string>>): string | undefined {
    const range = parseCidr(cidr);
    if (!range) return undefined;
    const prefix = Number(cidr.split("/")[1]);
    if (prefix <= BROAD_EGRESS_PREFIX)
        return `a /${prefix} opens egress to ${prefix === 0 ? "every address" : `${2 ** (32 - prefix)} addresses`}`;
    const machine = Object.entries(machines).find(([, ip]) => containsIp(range, ip));
    if (machine) return `it holds the lab machine address ${machine[0]} = "${machine[1]}"`;
    return undefined;
}
