// What a remote secret's token may and may not do on the cluster it opens, asked
// of that cluster's API server (SelfSubjectAccessReviews made with the token):
// `npm run verify`'s remote-secret-scope check and the engine tier's check-lab.
// The expectations are stated here from istiod 1.30.3's source, apart from the
// role that grants them (components/remotesecret.ts), so the two can disagree.
import { ISTIO_NAMESPACE, SPIRE_SERVER_NAMESPACE } from "../model/lab";

/** One question to the API server: may this token do `verb` on this resource? */
export interface AccessProbe {
    readonly verb: string;
    /** API group; "" for the core group. */
    readonly group: string;
    readonly resource: string;
    readonly subresource?: string;
    /** Absent: all namespaces (or a cluster-scoped resource). */
    readonly namespace?: string;
    readonly name?: string;
}

/** Asks the API server whether the token may do what the probe says. */
export type AccessReview = (probe: AccessProbe) => Promise<boolean>;

const READ = ["list", "watch"];
const WRITE = ["create", "update", "patch", "delete", "deletecollection"];

/** The objects a peer's istiod watches here: its informers list and watch each one. */
const ISTIOD_READS: readonly Omit<AccessProbe, "verb">[] = [
    // pilot/pkg/serviceregistry/kube/controller/controller.go NewController, pkg/kube/multicluster/cluster.go buildClusterCollections
    { group: "", resource: "namespaces" },
    { group: "", resource: "services" },
    { group: "", resource: "pods" },
    { group: "", resource: "nodes" },
    // controller/endpointslice.go
    { group: "discovery.k8s.io", resource: "endpointslices" },
    // controller/multicluster.go createWleConfigStore (PILOT_ENABLE_CROSS_CLUSTER_WORKLOAD_ENTRY)
    { group: "networking.istio.io", resource: "workloadentries" },
    // cluster.go buildClusterCollections, controller/network.go (PILOT_MULTI_NETWORK_DISCOVER_GATEWAY_API)
    { group: "gateway.networking.k8s.io", resource: "gateways" },
    // pkg/kube/kclient/crdwatcher.go
    { group: "apiextensions.k8s.io", resource: "customresourcedefinitions" },
    // controller/multicluster.go NewMulticluster: the mesh ConfigMap, by name (pkg/config/mesh/kubemesh)
    { group: "", resource: "configmaps", namespace: ISTIO_NAMESPACE, name: "istio" },
];

/** The CA keys of a cluster: istiod's plugged-in CA and SPIRE's upstream authority (components/istio.ts, components/spire.ts). */
const CA_SECRETS = [
    { namespace: ISTIO_NAMESPACE, name: "cacerts" },
    { namespace: SPIRE_SERVER_NAMESPACE, name: "spire-upstream-ca" },
];

/** Every read a peer's istiod needs: each must be allowed. */
export const MUST_ALLOW: readonly AccessProbe[] = ISTIOD_READS.flatMap((target) =>
    READ.map((verb) => ({ verb, ...target })),
);

/** What the token must not do, in groups: read a CA key or any Secret, read other ConfigMaps, write anything, mint tokens or escalate. */
const DENY_GROUPS: readonly (readonly AccessProbe[])[] = [
    CA_SECRETS.flatMap(({ namespace, name }) => [
        { verb: "get", group: "", resource: "secrets", namespace, name },
        { verb: "list", group: "", resource: "secrets", namespace },
    ]),
    [
        { verb: "list", group: "", resource: "secrets" },
        { verb: "watch", group: "", resource: "secrets" },
        { verb: "list", group: "", resource: "configmaps", namespace: ISTIO_NAMESPACE },
    ],
    [...ISTIOD_READS, { group: "", resource: "secrets", namespace: ISTIO_NAMESPACE }].flatMap((target) =>
        WRITE.map((verb) => ({ verb, ...target })),
    ),
    [
        { verb: "create", group: "", resource: "serviceaccounts", subresource: "token", namespace: ISTIO_NAMESPACE },
        { verb: "create", group: "", resource: "pods", subresource: "exec", namespace: ISTIO_NAMESPACE },
        { verb: "impersonate", group: "", resource: "serviceaccounts" },
        { verb: "bind", group: "rbac.authorization.k8s.io", resource: "clusterroles" },
        { verb: "escalate", group: "rbac.authorization.k8s.io", resource: "clusterroles" },
    ],
];

/** Everything the token must be denied. */
export const MUST_DENY: readonly AccessProbe[] = DENY_GROUPS.flat();

/** `list secrets spire-server`, `get secrets istio-system/cacerts`, `watch pods`, `create pods/exec istio-system`. */
export function describeProbe(p: AccessProbe): string {
    const resource = `${p.resource}${p.group ? `.${p.group}` : ""}${p.subresource ? `/${p.subresource}` : ""}`;
    const where =
        p.namespace === undefined
            ? p.name === undefined
                ? ""
                : ` ${p.name}`
            : ` ${p.namespace}${p.name === undefined ? "" : `/${p.name}`}`;
    return `${p.verb} ${resource}${where}`;
}

/**
 * The probes as readable phrases, in order: the verbs on one object together
 * ("list,watch secrets"), and objects that share several verbs together
 * ("create,update,patch,delete,deletecollection services, pods").
 */
function phrases(probes: readonly AccessProbe[]): string[] {
    const byObject = new Map<string, string[]>();
    for (const p of probes) {
        const object = describeProbe({ ...p, verb: "" }).trim();
        byObject.set(object, [...(byObject.get(object) ?? []), p.verb]);
    }
    const out = new Map<string, string[]>();
    for (const [object, verbs] of byObject) {
        const key = verbs.length > 1 ? verbs.join(",") : `${verbs[0]} ${object}`;
        out.set(key, [...(out.get(key) ?? []), object]);
    }
    return [...out].map(([key, objects]) => (key.includes(" ") ? key : `${key} ${objects.join(", ")}`));
}

/** What the token may do and what it may not, in one line. */
export function scopeSummary(): string {
    return `may ${phrases(MUST_ALLOW).join("; ")}; may not ${DENY_GROUPS.flatMap(phrases).join("; ")}`;
}

/** Each probe whose answer is not the expected one: a denied read istiod needs, or an allowed read of a key or write. */
export function scopeProblems(answers: readonly { probe: AccessProbe; allowed: boolean }[]): string[] {
    const expectAllowed = new Set(MUST_ALLOW);
    const problems: string[] = [];
    const denied = answers.filter((a) => expectAllowed.has(a.probe) && !a.allowed).map((a) => describeProbe(a.probe));
    const allowed = answers.filter((a) => !expectAllowed.has(a.probe) && a.allowed).map((a) => describeProbe(a.probe));
    if (denied.length > 0) problems.push(`denied what a peer's istiod reads: ${denied.join(", ")}`);
    if (allowed.length > 0) problems.push(`allowed what it must not be: ${allowed.join(", ")}`);
    return problems;
}

/** Asks every probe of MUST_ALLOW and MUST_DENY, one after the other, and returns what is wrong (empty: the scope is right). */
export async function reviewScope(review: AccessReview): Promise<string[]> {
    const answers: { probe: AccessProbe; allowed: boolean }[] = [];
    for (const probe of [...MUST_ALLOW, ...MUST_DENY]) answers.push({ probe, allowed: await review(probe) });
    return scopeProblems(answers);
}
