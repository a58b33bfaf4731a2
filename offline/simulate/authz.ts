// Istio's AuthorizationPolicy decision, evaluated on planned resources: does a
// request from one workload to another pass the policies a plan declares? The
// tests run every call `verify` makes through it, so a check the policies
// forbid fails in `npm test`, not on the lab.
//
// The semantics are Istio's (istio.io "Authorization Policy" reference, 1.30):
// - a policy applies to a workload when it is in the workload's namespace or in
//   the root namespace, and its selector (if any) matches the workload's labels;
// - DENY policies first: a matching DENY rule denies;
// - then ALLOW: if no ALLOW policy applies, the request is allowed; otherwise
//   one rule of one applicable ALLOW policy must match. An ALLOW policy without
//   rules matches nothing ("allow-nothing").
// - a rule matches when its `from` (any source), `to` (any operation) and
//   `when` all match; fields within a source or operation must all match;
// - principals and requestPrincipals match exactly or with one leading or
//   trailing `*`;
// - trust domain aliases as istiod applies them (pilot/pkg/security/trustdomain/bundle.go,
//   ReplaceTrustDomainAliases): a principal whose trust domain is the local one,
//   an alias or `cluster.local` stands for the same principal in the local domain
//   and every alias; a principal of any other trust domain is kept as written, and
//   one with trust domain `*` matches every domain.
// Fields this evaluator does not know (notPrincipals, ipBlocks, when, ...) are
// refused, not ignored: an unknown field must not read as "allowed".

export interface PolicyObject {
    readonly metadata: { readonly name: string; readonly namespace: string };
    readonly spec: Record<string, unknown>;
}

/** The receiving workload. */
export interface Workload {
    readonly namespace: string;
    readonly labels: Record<string, string>;
}

/** What the receiving proxy knows about a request. */
export interface Request {
    /** The caller's mTLS principal (`<trust domain>/ns/<ns>/sa/<sa>`), absent for a plain-text or external caller. */
    readonly principal?: string;
    /** The JWT principal `<iss>/<sub>`, absent without a valid token. */
    readonly requestPrincipal?: string;
    /** The caller's namespace (from its principal). */
    readonly namespace?: string;
    readonly method: string;
    readonly path: string;
    /** The port the workload receives on (the container port, not the Service port). */
    readonly port: number;
}

export interface Decision {
    readonly allowed: boolean;
    /** Why, naming the policy that decided. */
    readonly reason: string;
}

const SOURCE_FIELDS = new Set(["principals", "requestPrincipals", "namespaces"]);
const OPERATION_FIELDS = new Set(["methods", "paths", "ports"]);
const RULE_FIELDS = new Set(["from", "to"]);
const SPEC_FIELDS = new Set(["selector", "action", "rules"]);

/** Istio's string match: exact, `*`, `prefix*` or `*suffix`. */
export function matchesPattern(pattern: string, value: string): boolean {
    if (pattern === "*") return true;
    if (pattern.endsWith("*")) return value.startsWith(pattern.slice(0, -1));
    if (pattern.startsWith("*")) return value.endsWith(pattern.slice(1));
    return pattern === value;
}

function refuseUnknown(fields: object, known: Set<string>, where: string): void {
    const unknown = Object.keys(fields).filter((k) => !known.has(k));
    if (unknown.length > 0)
        throw new Error(
            `${where}: the evaluator does not model ${unknown.join(", ")}; extend offline/simulate/authz.ts before relying on it`,
        );
}

/**
 * The principals istiod writes into Envoy's RBAC for one policy principal, given the
 * local trust domain and its aliases (`trustDomains`, local first): Istio's
 * ReplaceTrustDomainAliases (pilot/pkg/security/trustdomain/bundle.go). Only a
 * principal of the form `<td>/ns/<ns>/sa/<sa>` whose `<td>` is one of `trustDomains`
 * or "cluster.local" is rewritten, into the same principal in each of them.
 */
export function principalVariants(principal: string, trustDomains: string[]): string[] {
    const parts = principal.split("/");
    if (parts.length !== 5 || parts[0] === "*") return [principal];
    if (!trustDomains.includes(parts[0]) && parts[0] !== "cluster.local") return [principal];
    const rest = parts.slice(1).join("/");
    return [...new Set(trustDomains.map((td) => `${td}/${rest}`))];
}

function sourceMatches(source: Record<string, unknown>, req: Request, trustDomains: string[], where: string): boolean {
    refuseUnknown(source, SOURCE_FIELDS, where);
    const principals = source.principals as string[] | undefined;
    const requestPrincipals = source.requestPrincipals as string[] | undefined;
    const namespaces = source.namespaces as string[] | undefined;
    if (principals) {
        if (req.principal === undefined) return false;
        const candidates = principals.flatMap((p) => principalVariants(p, trustDomains));
        if (!candidates.some((p) => matchesPattern(p, req.principal as string))) return false;
    }
    if (
        requestPrincipals &&
        (req.requestPrincipal === undefined ||
            !requestPrincipals.some((p) => matchesPattern(p, req.requestPrincipal as string)))
    )
        return false;
    if (
        namespaces &&
        (req.namespace === undefined || !namespaces.some((n) => matchesPattern(n, req.namespace as string)))
    )
        return false;
    return true;
}

function operationMatches(op: Record<string, unknown>, req: Request, where: string): boolean {
    refuseUnknown(op, OPERATION_FIELDS, where);
    const methods = op.methods as string[] | undefined;
    const paths = op.paths as string[] | undefined;
    const ports = op.ports as string[] | undefined;
    if (methods && !methods.includes(req.method)) return false;
    if (paths && !paths.some((p) => matchesPattern(p, req.path))) return false;
    if (ports && !ports.includes(String(req.port))) return false;
    return true;
}

function ruleMatches(rule: Record<string, unknown>, req: Request, trustDomains: string[], where: string): boolean {
    refuseUnknown(rule, RULE_FIELDS, where);
    const from = rule.from as { source: Record<string, unknown> }[] | undefined;
    const to = rule.to as { operation: Record<string, unknown> }[] | undefined;
    if (from && !from.some((f) => sourceMatches(f.source ?? {}, req, trustDomains, where))) return false;
    if (to && !to.some((t) => operationMatches(t.operation ?? {}, req, where))) return false;
    return true;
}

function applies(policy: PolicyObject, workload: Workload, rootNamespace: string): boolean {
    const ns = policy.metadata.namespace;
    if (ns !== workload.namespace && ns !== rootNamespace) return false;
    const selector = (policy.spec.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {};
    return Object.entries(selector).every(([k, v]) => workload.labels[k] === v);
}

/**
 * Whether `policies` admit `req` at `workload`. `trustDomains` are the
 * receiving mesh's trust domain and its aliases.
 */
export function authorize(
    policies: PolicyObject[],
    workload: Workload,
    req: Request,
    rootNamespace: string,
    trustDomains: string[],
): Decision {
    const applicable = policies.filter((p) => applies(p, workload, rootNamespace));
    for (const p of applicable)
        refuseUnknown(p.spec, SPEC_FIELDS, `AuthorizationPolicy ${p.metadata.namespace}/${p.metadata.name}`);
    const rulesOf = (p: PolicyObject) => (p.spec.rules as Record<string, unknown>[] | undefined) ?? [];
    const name = (p: PolicyObject) => `${p.metadata.namespace}/${p.metadata.name}`;
    const action = (p: PolicyObject) => (p.spec.action as string | undefined) ?? "ALLOW";

    for (const p of applicable.filter((p) => action(p) === "DENY")) {
        if (rulesOf(p).some((r) => ruleMatches(r, req, trustDomains, name(p))))
            return { allowed: false, reason: `denied by DENY policy ${name(p)}` };
    }
    const allows = applicable.filter((p) => action(p) === "ALLOW");
    if (allows.length === 0) return { allowed: true, reason: "no ALLOW policy applies" };
    const admitting = allows.find((p) => rulesOf(p).some((r) => ruleMatches(r, req, trustDomains, name(p))));
    if (admitting) return { allowed: true, reason: `allowed by ${name(admitting)}` };
    return { allowed: false, reason: `no rule of the ALLOW policies ${allows.map(name).join(", ")} matches` };
}
