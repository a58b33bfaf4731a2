// CiliumNetworkPolicy decisions between two pods, evaluated on planned
// resources, so the tests can run `verify`'s flows through the planned
// segmentation. Cilium's semantics (docs "Policy Enforcement Modes", "Layer 3
// Examples", 1.17), default enforcement mode:
// - a policy selects the pods of its own namespace whose labels match its
//   endpointSelector;
// - a pod selected by a policy with an `egress` (`ingress`) section is in
//   default deny that way; then some rule of a selecting policy must allow;
// - a rule allows a peer when one of its endpoint selectors (restricted to the
//   policy's namespace unless it names `io.kubernetes.pod.namespace`) or the
//   `cluster`/`all` entity matches the peer, and its toPorts (if any) list
//   the port. An empty rule `{}` allows nothing.
// Fields the evaluator does not model are refused, not ignored.

export interface CiliumPolicyObject {
    readonly metadata: { readonly name: string; readonly namespace: string };
    readonly spec: Record<string, unknown>;
}

export interface Pod {
    readonly namespace: string;
    readonly labels: Record<string, string>;
}

export interface FlowDecision {
    readonly allowed: boolean;
    readonly reason: string;
}

const NAMESPACE_KEY = "io.kubernetes.pod.namespace";
const SPEC_FIELDS = new Set(["description", "endpointSelector", "ingress", "egress"]);
const INGRESS_FIELDS = new Set(["fromEndpoints", "fromEntities", "fromCIDR", "toPorts"]);
const EGRESS_FIELDS = new Set(["toEndpoints", "toEntities", "toCIDR", "toFQDNs", "toPorts"]);
/** Entities that include every pod of the cluster. */
const POD_ENTITIES = new Set(["cluster", "all"]);

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: unknown };
type PortRule = { ports: { port: string; protocol: string }[] };

function refuseUnknown(obj: object, known: Set<string>, where: string): void {
    const unknown = Object.keys(obj).filter((k) => !known.has(k));
    if (unknown.length > 0)
        throw new Error(
            `${where}: the evaluator does not model ${unknown.join(", ")}; extend offline/simulate/netpol.ts before relying on it`,
        );
}

/** Cilium accepts a label key with or without its `k8s:` source prefix. */
const bare = (key: string) => key.replace(/^k8s:/, "");

function selects(selector: Selector, pod: Pod, policyNamespace: string, where: string): boolean {
    if (selector.matchExpressions !== undefined)
        throw new Error(`${where}: the evaluator does not model matchExpressions`);
    const labels = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => [bare(k), v] as const);
    const namespace = labels.find(([k]) => k === NAMESPACE_KEY)?.[1] ?? policyNamespace;
    return pod.namespace === namespace && labels.every(([k, v]) => k === NAMESPACE_KEY || pod.labels[k] === v);
}

function portAllowed(toPorts: PortRule[] | undefined, port: number): boolean {
    return (
        toPorts === undefined ||
        toPorts.some((r) => r.ports.some((p) => p.port === String(port) && (p.protocol ?? "TCP") !== "UDP"))
    );
}

function direction(
    policies: CiliumPolicyObject[],
    subject: Pod,
    peer: Pod,
    port: number,
    way: "ingress" | "egress",
): FlowDecision {
    const selecting = policies.filter((p) => {
        refuseUnknown(p.spec, SPEC_FIELDS, `CiliumNetworkPolicy ${p.metadata.namespace}/${p.metadata.name}`);
        return (
            p.metadata.namespace === subject.namespace &&
            selects(p.spec.endpointSelector as Selector, subject, p.metadata.namespace, p.metadata.name)
        );
    });
    const enforcing = selecting.filter((p) => p.spec[way] !== undefined);
    if (enforcing.length === 0)
        return {
            allowed: true,
            reason: `no policy puts ${subject.namespace} ${JSON.stringify(subject.labels)} in default deny at ${way}`,
        };
    const [peers, entities, fields] =
        way === "ingress"
            ? (["fromEndpoints", "fromEntities", INGRESS_FIELDS] as const)
            : (["toEndpoints", "toEntities", EGRESS_FIELDS] as const);
    for (const p of enforcing) {
        const where = `${p.metadata.namespace}/${p.metadata.name}`;
        for (const rule of p.spec[way] as Record<string, unknown>[]) {
            refuseUnknown(rule, fields, where);
            const byEndpoint = ((rule[peers] as Selector[] | undefined) ?? []).some((s) =>
                selects(s, peer, p.metadata.namespace, where),
            );
            const byEntity = ((rule[entities] as string[] | undefined) ?? []).some((e) => POD_ENTITIES.has(e));
            if ((byEndpoint || byEntity) && portAllowed(rule.toPorts as PortRule[] | undefined, port))
                return { allowed: true, reason: `${way} allowed by ${where}` };
        }
    }
    return {
        allowed: false,
        reason: `no ${way} rule of ${enforcing.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(", ")} admits port ${port}`,
    };
}

/** Whether the policies let `src` open a TCP connection to `dst` on `port` (both pods of the same cluster). */
export function podToPod(policies: CiliumPolicyObject[], src: Pod, dst: Pod, port: number): FlowDecision {
    const egress = direction(policies, src, dst, port, "egress");
    if (!egress.allowed) return egress;
    const ingress = direction(policies, dst, src, port, "ingress");
    return ingress.allowed ? { allowed: true, reason: `${egress.reason}; ${ingress.reason}` } : ingress;
}

/** The CIDRs (with ports) the policies selecting `pod` let it reach outside the cluster. */
export function egressCidrs(policies: CiliumPolicyObject[], pod: Pod): { cidr: string; ports: string[] }[] {
    return policies
        .filter(
            (p) =>
                p.metadata.namespace === pod.namespace &&
                selects(p.spec.endpointSelector as Selector, pod, p.metadata.namespace, p.metadata.name),
        )
        .flatMap((p) => (p.spec.egress as Record<string, unknown>[] | undefined) ?? [])
        .flatMap((r) =>
            ((r.toCIDR as string[] | undefined) ?? []).map((cidr) => ({
                cidr,
                ports: ((r.toPorts as PortRule[] | undefined) ?? []).flatMap((t) => t.ports.map((x) => x.port)),
            })),
        );
}

/** Whether a pod may receive from outside the cluster (`world`) on `port`. */
export function fromWorld(policies: CiliumPolicyObject[], pod: Pod, port: number): boolean {
    const selecting = policies.filter(
        (p) =>
            p.metadata.namespace === pod.namespace &&
            selects(p.spec.endpointSelector as Selector, pod, p.metadata.namespace, p.metadata.name),
    );
    if (!selecting.some((p) => p.spec.ingress !== undefined)) return true;
    return selecting
        .flatMap((p) => (p.spec.ingress as Record<string, unknown>[] | undefined) ?? [])
        .some(
            (r) =>
                ((r.fromEntities as string[] | undefined) ?? []).some((e) => e === "world" || e === "all") &&
                portAllowed(r.toPorts as PortRule[] | undefined, port),
        );
}

/**
 * Every pod and port an allow policy opens at ingress: the pod as the policy's
 * endpointSelector labels it, in the policy's namespace, with each port of its
 * ingress rules' toPorts. What a test runs a stray caller against.
 */
export function ingressTargets(policies: CiliumPolicyObject[]): { pod: Pod; port: number; policy: string }[] {
    return policies.flatMap((p) =>
        ((p.spec.ingress as Record<string, unknown>[] | undefined) ?? []).flatMap((rule) =>
            ((rule.toPorts as PortRule[] | undefined) ?? []).flatMap((t) =>
                t.ports.map((x) => ({
                    pod: {
                        namespace: p.metadata.namespace,
                        labels: Object.fromEntries(
                            Object.entries((p.spec.endpointSelector as Selector).matchLabels ?? {}).map(([k, v]) => [
                                bare(k),
                                v,
                            ]),
                        ),
                    },
                    port: Number(x.port),
                    policy: `${p.metadata.namespace}/${p.metadata.name}`,
                })),
            ),
        ),
    );
}
