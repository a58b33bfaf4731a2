// Guards on what operators (and anyone who edits a stack file) type: values that
// would switch zero trust off, reach a shell or a root container, become a path,
// or carry credentials and keys into files meant to be shared (issue 27). Pure
// functions over plain values; stacks/config.ts calls them and names the file.
import { X509Certificate } from "crypto";
import { containsIp, parseCidr } from "./net";

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
    if (parts[1] !== project) return `names a stack of Pulumi project "${parts[1]}", not of this project "${project}": write "${parts[0]}/${project}/${parts[2]}" or just "${parts[2]}"`;
    return undefined;
}

// ---------------------------------------------------------------- images

// The reference grammar of distribution/reference (reference/regexp.go): an optional
// domain (a host name or IPv4 address, with a port), path components of lowercase
// alphanumerics joined by ".", "_", "__" or dashes, then ":tag" and/or "@digest".
const DOMAIN = String.raw`(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?`;
const COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;
const IMAGE = new RegExp(String.raw`^(?:(${DOMAIN})/)?(${COMPONENT}(?:/${COMPONENT})*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$`);
/** An exact release tag: major.minor.patch with an optional suffix ("26.4.7", "26.4.7-0"); never "latest" or a moving "26.4". */
const EXACT_TAG = /^v?\d+\.\d+\.\d+(?:[-+._][0-9A-Za-z.-]+)?$/;

/** Registries the lab issuer's image may come from besides the lab registry: Keycloak's own (quay.io/keycloak). */
export const ISSUER_IMAGE_REGISTRIES = ["quay.io"] as const;

/**
 * The lab issuer's image: it runs as root on comp1 with the issuer's TLS key, its
 * client secret and admin password, and its reference becomes an argument of
 * `docker run`. A well-formed reference, pinned (a sha256 digest, or an exact
 * release tag), from Keycloak's registry (quay.io) or the lab registry
 * (`labRegistry`, "host:port").
 */
export function checkIssuerImage(s: string, labRegistry: string): string | undefined {
    const fix = `e.g. "quay.io/keycloak/keycloak:26.8.1" or "${labRegistry}/keycloak/keycloak@sha256:<digest>"`;
    const m = IMAGE.exec(s);
    if (s.startsWith("-") || !m) return `expected a container image reference (registry/path:tag or @sha256:digest), ${fix}`;
    const [, domain, , tag, digest] = m;
    const allowed = [...ISSUER_IMAGE_REGISTRIES, labRegistry];
    if (domain === undefined || !allowed.includes(domain)) {
        return `expected an image from ${allowed.map((r) => `"${r}"`).join(" or ")} (Keycloak's registry, or the lab registry: mirror it there), ${fix}`;
    }
    if (digest === undefined && (tag === undefined || !EXACT_TAG.test(tag))) {
        return `expected a pinned image: a sha256 digest or an exact release tag (not "${tag ?? "latest"}", which moves), ${fix}`;
    }
    return undefined;
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
export const USERINFO_PROBLEM = "carries credentials (user:password@): the plan and the stack files are shared; give the URL without them (a mirror or issuer that needs a login is not supported)";

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
    if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => privateKeyPaths(v, at === "" ? k : `${at}.${k}`));
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
    if (Date.parse(cert.validTo) <= now) return `the certificate expired on ${cert.validTo}: give the issuer CA's current certificate`;
    if (Date.parse(cert.validFrom) > now) return `the certificate is not valid before ${cert.validFrom}: give one valid now`;
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
    if (prefix <= BROAD_EGRESS_PREFIX) return `a /${prefix} opens egress to ${prefix === 0 ? "every address" : `${2 ** (32 - prefix)} addresses`}`;
    const machine = Object.entries(machines).find(([, ip]) => containsIp(range, ip));
    if (machine) return `it holds the lab machine address ${machine[0]} = "${machine[1]}"`;
    return undefined;
}
