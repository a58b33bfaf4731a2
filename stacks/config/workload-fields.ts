// The keys of a `workloads` entry and the checks of their values; workloads.ts holds
// the rules between a workload and the rest of the lab.
import { z } from "zod";
import { integer, key, list, section, text } from "./keys";
import { isIpv4, parseCidr } from "./net";
import { Check, checkClusterName, checkLabel } from "./values";

export const checkWorkloadRef: Check = (s) => {
    const [namespace, name, ...rest] = s.split("/");
    return rest.length === 0 && name !== undefined && !checkLabel(namespace) && !checkLabel(name)
        ? undefined
        : 'expected "<namespace>/<name>" of another workload of zta-testbed:workloads, such as "client/curl"';
};

// A path of letters, digits and "._~-" segments: what a prefix route at the ingress matches on.
const PATH_PREFIX = /^(\/[A-Za-z0-9._~-]+)+\/?$/;
export const checkPathPrefix: Check = (s) =>
    PATH_PREFIX.test(s) && !s.split("/").some((seg) => seg === "." || seg === "..")
        ? undefined
        : 'expected a path below "/" such as "/hello" (segments of letters, digits, ".", "_", "~", "-"); "/" alone would take every request of the ingress';

/** One egress entry: `<IPv4 address or CIDR>:<port>`, as a CIDR and a port; undefined when it does not parse. */
export function parseEgress(s: string): { cidr: string; port: number } | undefined {
    const m = /^([0-9./]+):(\d{1,5})$/.exec(s);
    if (!m) return undefined;
    const port = Number(m[2]);
    if (port < 1 || port > 65535) return undefined;
    if (isIpv4(m[1])) return { cidr: `${m[1]}/32`, port };
    return parseCidr(m[1]) ? { cidr: m[1], port } : undefined;
}
export const checkEgress: Check = (s) =>
    parseEgress(s)
        ? undefined
        : 'expected "<IPv4 address or CIDR>:<port>", such as "192.0.2.10:443" or "192.0.2.0/28:5432" (host bits of a CIDR zero)';

export const workloadFields = {
    namespace: key(
        text(checkLabel),
        "DNS label",
        "its namespace, made with sidecar injection and default deny; not one the program runs in (istio-system, spire-*, metallb-system, sample, kube-*)",
    ),
    name: key(text(checkLabel), "DNS label", "its ServiceAccount, Deployment, Service and `app` label"),
    cluster: key(text(checkClusterName).optional(), "cluster name", "the `cluster.name` it runs in", "every cluster"),
    image: key(
        text(),
        "pinned image reference",
        "its container image: from the lab registry (`registry.host:registry.port`) or a repository the samples use, pinned by a sha256 digest or an exact release tag",
    ),
    port: key(
        integer(1, 65535).optional(),
        "integer 1-65535",
        "the port it serves HTTP on: a Service `<name>.<namespace>:<port>`; not one of the sidecar's (15000-15090); unset: it serves nothing",
    ),
    command: key(
        list(() => undefined, false).optional(),
        "list of strings",
        "its container's command",
        "the image's entrypoint",
    ),
    callers: key(
        list(checkWorkloadRef, true).default([]),
        "list of `<namespace>/<name>`",
        "the other workloads of `workloads` allowed to call it, by SPIFFE identity; one in another cluster calls through the east-west gateway. Needs `port`",
    ),
    ingress: key(
        section({ pathPrefix: key(text(checkPathPrefix), "path", "the path prefix routed to it") }).optional(),
        "`{pathPrefix: /...}`",
        "routed at the ingress gateway under `pathPrefix` (passed on unchanged), a token from `jwt.issuer` required as for every route there. Needs `port`",
    ),
    egress: key(
        list(checkEgress, true).default([]),
        "list of `<IPv4 address or CIDR>:<port>`",
        "what it may reach outside the mesh; a /16 or wider, or a lab machine's address, needs `networkPolicy.allowBroadEgress`",
    ),
};

export const workloadsSchema = z.array(section(workloadFields), {
    error: "expected a list of workloads, each {namespace, name, image, ...} (docs/config.md)",
});
