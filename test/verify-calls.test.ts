// Every call `npm run verify` makes, run through the AuthorizationPolicies of
// the offline plan of the committed lab (shared trust model), of
// examples/federated (federated model) and of examples/workloads (the lab's own
// workloads, whose calls test/workloads.test.ts replays): a check that the policies forbid
// fails here, not on the lab. The calls come from verify itself (MESH_CALLS,
// the ingress URL and default path), the workloads, Services, Gateways and
// VirtualServices from the plan. Each cross-cluster call also passes the mTLS
// handshake's identity checks as istiod configures them (who may serve, which
// trust domains a server accepts, which roots each side holds).
import { gatewayRenderedLabels, GatewayLabelValues } from "../components/gateway-labels";
import { authorize, Decision, PolicyObject, principalVariants, Request, Workload } from "../offline/simulate/authz";
import { PlannedResource } from "../offline/engine/record";
import { LabPlan, StackPlan } from "../offline/planner/lab";
import { MESH_CALLS, MeshCall } from "../verify/mesh-calls";
import { DEFAULTS } from "../verify/cli";
import { ingressUrl } from "../verify/ingress";
import * as path from "path";
import { planOf, REPO, resourcesOfType } from "./helpers";

/** Istio's default meshConfig.rootNamespace: policies there apply to every namespace. */
const ROOT_NAMESPACE = "istio-system";
const SAMPLE_NS = "sample";
const AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy";
const SERVICE = "kubernetes:core/v1:Service";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const GATEWAY = "kubernetes:networking.istio.io/v1:Gateway";
const VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const DESTINATION_RULE = "kubernetes:networking.istio.io/v1:DestinationRule";
const FEDERATED_TRUST_DOMAIN = "kubernetes:spire.spiffe.io/v1alpha1:ClusterFederatedTrustDomain";
/** The pod label Istio's spire template sets and our ClusterSPIFFEID selects (istio.io, SPIRE integration). */
const SPIRE_MANAGED = "spiffe.io/spire-managed-identity";
/** The labs whose plans the calls are replayed on (examples/workloads: the shared model with the lab's own workloads beside the samples). */
const LABS = {
    shared: REPO,
    federated: path.join(REPO, "examples", "federated"),
    workloads: path.join(REPO, "examples", "workloads"),
} as const;
const ISTIO_NAMESPACE = "istio-system";
/** The ingress gateway release (and its service account), as the chart names them. */
const INGRESS_GATEWAY = "istio-ingressgateway";

interface PlannedWorkload extends Workload {
    readonly name: string;
    readonly serviceAccount: string;
    readonly annotations: Record<string, string>;
}

const meta = (r: PlannedResource) =>
    r.inputs.metadata as { name: string; namespace: string; labels?: Record<string, string> };
const spec = (r: PlannedResource) => r.inputs.spec as Record<string, any>;

function policiesOf(plan: StackPlan): PolicyObject[] {
    return resourcesOfType(plan, AUTHZ).map((r) => ({ metadata: meta(r), spec: spec(r) ?? {} }));
}

function releaseValues(plan: StackPlan, releaseName: string): Record<string, any> {
    const found = resourcesOfType(plan, RELEASE).filter((r) => r.inputs.name === releaseName);
    if (found.length !== 1)
        throw new Error(`${plan.stack}: expected one Helm release ${releaseName}, found ${found.length}`);
    return found[0].inputs.values as Record<string, any>;
}

interface MeshConfigValues {
    trustDomain: string;
    trustDomainAliases?: string[];
    caCertificates?: { pem?: string; trustDomains?: string[] }[];
}

const meshConfigOf = (plan: StackPlan) => releaseValues(plan, "istiod").meshConfig as MeshConfigValues;

/** The mesh's trust domain and its aliases, from istiod's values: what authorization expands principals over. */
function trustDomainsOf(plan: StackPlan): string[] {
    const mesh = meshConfigOf(plan);
    return [mesh.trustDomain, ...(mesh.trustDomainAliases ?? [])];
}

/**
 * The trust domains a server's proxy accepts in a client certificate's URI SAN: the
 * trust domain, the aliases and every caCertificates[].trustDomains (Istio 1.30
 * pilot/pkg/networking/plugin/authn/util.go, TrustDomainsForValidation).
 */
function acceptedClientDomains(plan: StackPlan): string[] {
    const mesh = meshConfigOf(plan);
    return [
        mesh.trustDomain,
        ...(mesh.trustDomainAliases ?? []),
        ...(mesh.caCertificates ?? []).flatMap((c) => c.trustDomains ?? []),
    ];
}

/**
 * The URI SANs a caller's proxy accepts from the servers of a Service: a DestinationRule's
 * tls.subjectAltNames when one is planned for the host (cluster_tls.go,
 * buildUpstreamTLSSettings), else the servers' accounts in the caller's own trust
 * domain and its aliases (endpoint_builder.go names every cluster's pods by the local
 * trust domain; push_context.go, addServiceAccounts, adds the aliases).
 */
function acceptedServerSans(
    callerPlan: StackPlan,
    namespace: string,
    service: string,
    serverAccounts: string[],
): string[] {
    const host = `${service}.${namespace}.svc.cluster.local`;
    const rule = resourcesOfType(callerPlan, DESTINATION_RULE).find((r) => spec(r).host === host);
    if (rule) return spec(rule).trafficPolicy.tls.subjectAltNames as string[];
    return trustDomainsOf(callerPlan).flatMap((td) =>
        serverAccounts.map((sa) => `spiffe://${principal(td, namespace, sa)}`),
    );
}

/** Whether a planned pod gets its identity from SPIRE: the label itself, or an injection template list with `spire` (its own, else istiod's default). */
function spireManaged(plan: StackPlan, w: PlannedWorkload): boolean {
    if (w.labels[SPIRE_MANAGED] === "true") return true;
    const own = w.annotations["inject.istio.io/templates"];
    const templates =
        own !== undefined
            ? own.split(",")
            : ((releaseValues(plan, "istiod").sidecarInjectorWebhook?.defaultTemplates as string[] | undefined) ?? [
                  "sidecar",
              ]);
    return templates.includes("spire");
}

/**
 * Why the mTLS handshake of a call from `caller` (in `from`) to `server` (in `to`)
 * would fail, as istiod sets it up; empty when it succeeds. In the shared model both
 * ends hold the one lab root; in the federated model both ends are SPIRE-managed and
 * each SPIRE federates with the other's trust domain (ClusterFederatedTrustDomain).
 */
function handshakeProblems(
    from: StackPlan,
    caller: PlannedWorkload,
    to: StackPlan,
    server: PlannedWorkload,
    service: string,
): string[] {
    const problems: string[] = [];
    const callerDomain = trustDomainsOf(from)[0];
    const serverId = `spiffe://${principal(trustDomainsOf(to)[0], server.namespace, server.serviceAccount)}`;
    const sans = acceptedServerSans(from, server.namespace, service, [server.serviceAccount]);
    if (!sans.includes(serverId))
        problems.push(`${from.stack}'s proxy accepts [${sans.join(", ")}] for ${service}, not ${serverId}`);
    const domains = acceptedClientDomains(to);
    if (!domains.includes(callerDomain))
        problems.push(`${to.stack}'s proxies accept client SANs of [${domains.join(", ")}], not ${callerDomain}`);
    if (callerDomain === trustDomainsOf(to)[0]) {
        if (from.outputs.rootCaCert.value !== to.outputs.rootCaCert.value)
            problems.push(`one trust domain, two roots: ${from.stack} and ${to.stack}`);
    } else {
        for (const [plan, w] of [
            [from, caller],
            [to, server],
        ] as const) {
            if (!spireManaged(plan, w))
                problems.push(`${plan.stack}/${w.name} is not SPIRE-managed: it holds only its own root`);
        }
        for (const [plan, other] of [
            [from, to],
            [to, from],
        ] as const) {
            const federated = resourcesOfType(plan, FEDERATED_TRUST_DOMAIN).some(
                (r) => spec(r).trustDomain === trustDomainsOf(other)[0],
            );
            if (!federated) problems.push(`${plan.stack}'s SPIRE does not federate with ${trustDomainsOf(other)[0]}`);
        }
    }
    return problems;
}

function deployments(plan: StackPlan, namespace: string): PlannedWorkload[] {
    return resourcesOfType(plan, DEPLOYMENT)
        .filter((r) => meta(r).namespace === namespace)
        .map((r) => {
            const pod = spec(r).template;
            return {
                name: meta(r).name,
                namespace,
                labels: pod.metadata.labels,
                annotations: pod.metadata.annotations ?? {},
                serviceAccount: pod.spec.serviceAccountName ?? "default",
            };
        });
}

/** The workloads behind a Service and the port they receive a Service port on. */
function behindService(
    plan: StackPlan,
    namespace: string,
    name: string,
    port: number,
): { workloads: PlannedWorkload[]; targetPort: number } | undefined {
    const svc = resourcesOfType(plan, SERVICE).find((r) => meta(r).namespace === namespace && meta(r).name === name);
    if (!svc) return undefined;
    const p = (spec(svc).ports as { port: number; targetPort?: number }[]).find((x) => x.port === port);
    if (!p) throw new Error(`${plan.stack}: Service ${namespace}/${name} has no port ${port}`);
    const selector = spec(svc).selector as Record<string, string>;
    const workloads = deployments(plan, namespace).filter((w) =>
        Object.entries(selector).every(([k, v]) => w.labels[k] === v),
    );
    return { workloads, targetPort: p.targetPort ?? p.port };
}

function principal(trustDomain: string, namespace: string, serviceAccount: string): string {
    return `${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

function decide(plan: StackPlan, workload: Workload, req: Request): Decision {
    return authorize(policiesOf(plan), workload, req, ROOT_NAMESPACE, trustDomainsOf(plan));
}

/** Every (source stack, destination stack, destination workload) a mesh call can take, with the policies' decision. */
function meshCallDecisions(lab: LabPlan, call: MeshCall): string[] {
    const outcomes: string[] = [];
    for (const source of lab.stacks) {
        const callers = deployments(source, SAMPLE_NS).filter((w) => w.labels.app === call.from);
        if (callers.length === 0)
            throw new Error(
                `${source.stack}: no ${SAMPLE_NS} Deployment with app=${call.from}, the caller of ${call.check}`,
            );
        for (const caller of callers) {
            for (const dest of lab.stacks) {
                const behind = behindService(dest, SAMPLE_NS, call.to.service, call.to.port);
                for (const w of behind?.workloads ?? []) {
                    const d = decide(dest, w, {
                        principal: principal(trustDomainsOf(source)[0], SAMPLE_NS, caller.serviceAccount),
                        namespace: SAMPLE_NS,
                        method: "GET",
                        path: call.to.path,
                        port: behind!.targetPort,
                    });
                    const handshake = handshakeProblems(source, caller, dest, w, call.to.service);
                    const outcome =
                        handshake.length > 0
                            ? `NO HANDSHAKE (${handshake.join("; ")})`
                            : `${d.allowed ? "ALLOW" : "DENY"} (${d.reason})`;
                    outcomes.push(
                        `${call.check}: ${source.stack}/${caller.name} -> ${dest.stack}/${w.name}: ${outcome}`,
                    );
                }
            }
        }
    }
    return outcomes;
}

/** The ingress gateway's pods, as its chart labels them from the planned values. */
function ingressWorkload(plan: StackPlan): PlannedWorkload {
    const values = releaseValues(plan, INGRESS_GATEWAY) as GatewayLabelValues & { serviceAccount?: { name?: string } };
    // The gateway chart names the service account after the release unless serviceAccount.name is set.
    return {
        name: INGRESS_GATEWAY,
        namespace: ISTIO_NAMESPACE,
        labels: gatewayRenderedLabels({ ...values, name: values.name ?? INGRESS_GATEWAY }).pod,
        annotations: {},
        serviceAccount: values.serviceAccount?.name || INGRESS_GATEWAY,
    };
}

/** The destinations the ingress routes a request on `port` to: VirtualServices bound to Gateways that select the ingress pods and serve that port. */
function ingressRoutes(
    plan: StackPlan,
    ingress: Workload,
    port: number,
): { namespace: string; service: string; port: number }[] {
    const gateways = resourcesOfType(plan, GATEWAY).filter((g) => {
        const s = spec(g);
        return (
            Object.entries(s.selector as Record<string, string>).every(([k, v]) => ingress.labels[k] === v) &&
            (s.servers as { port: { number: number } }[]).some((x) => x.port.number === port)
        );
    });
    const names = new Set(gateways.flatMap((g) => [`${meta(g).namespace}/${meta(g).name}`]));
    const routes: { namespace: string; service: string; port: number }[] = [];
    for (const vs of resourcesOfType(plan, VIRTUAL_SERVICE)) {
        const bound = ((spec(vs).gateways as string[] | undefined) ?? []).some((g) =>
            names.has(g.includes("/") ? g : `${meta(vs).namespace}/${g}`),
        );
        if (!bound) continue;
        for (const http of spec(vs).http as {
            route: { destination: { host: string; port?: { number: number } } }[];
        }[]) {
            for (const r of http.route) {
                const [service, namespace] = r.destination.host.split(".");
                routes.push({
                    namespace: namespace ?? meta(vs).namespace,
                    service,
                    port: r.destination.port?.number ?? 80,
                });
            }
        }
    }
    return routes;
}

/** The port and path `verify ingress-jwt` requests, from the URL it builds. */
function ingressRequest(address: string): { port: number; path: string } {
    const url = new URL(ingressUrl(address, DEFAULTS.ingressPath));
    return { port: Number(url.port || (url.protocol === "https:" ? 443 : 80)), path: url.pathname };
}

const labs = {} as Record<keyof typeof LABS, LabPlan>;
beforeAll(async () => {
    // One after the other: the mock runtime is one per process.
    for (const [model, dir] of Object.entries(LABS)) labs[model as keyof typeof LABS] = await planOf(dir);
});

describe.each(Object.keys(LABS) as (keyof typeof LABS)[])(
    "every call verify makes is admitted by the planned AuthorizationPolicies (%s trust model)",
    (model) => {
        test.each(Object.values(MESH_CALLS).map((c) => [c.check, c] as const))("%s", (_id, call) => {
            const outcomes = meshCallDecisions(labs[model], call);
            // The call reaches at least one workload, and no path it can take is denied or fails its handshake.
            expect(outcomes.length).toBeGreaterThan(0);
            expect(outcomes.filter((o) => !/: ALLOW /.test(o))).toEqual([]);
            // Across clusters too: the calls that verify's cross-cluster checks count on.
            expect(outcomes.some((o) => /: (\w+)\/\S+ -> (?!\1\/)\w+\//.test(o))).toBe(true);
        });

        test("ingress-jwt on every stack: a token from the issuer passes the gateway, no token does not, and the gateway may call the route", () => {
            for (const plan of labs[model].stacks) {
                const issuer = (
                    JSON.parse(
                        JSON.stringify(
                            resourcesOfType(plan, "kubernetes:security.istio.io/v1:RequestAuthentication")[0].inputs
                                .spec,
                        ),
                    ) as { jwtRules: { issuer: string }[] }
                ).jwtRules[0].issuer;
                const address = "192.0.2.10";
                const { port, path } = ingressRequest(address);
                const gateway = ingressWorkload(plan);
                const external = { method: "GET", path, port };
                expect(
                    decide(plan, gateway, { ...external, requestPrincipal: `${issuer}/service-account-testbed` })
                        .allowed,
                ).toBe(true);
                expect(decide(plan, gateway, external).allowed).toBe(false);

                const routes = ingressRoutes(plan, gateway, port);
                expect(routes.length).toBeGreaterThan(0);
                for (const route of routes) {
                    const behind = behindService(plan, route.namespace, route.service, route.port);
                    expect(behind?.workloads.length ?? 0).toBeGreaterThan(0);
                    for (const w of behind!.workloads) {
                        const d = decide(plan, w, {
                            principal: principal(trustDomainsOf(plan)[0], ISTIO_NAMESPACE, gateway.serviceAccount),
                            namespace: ISTIO_NAMESPACE,
                            method: "GET",
                            path,
                            port: behind!.targetPort,
                        });
                        expect(
                            `${plan.stack}: ${w.namespace}/${w.name}: ${d.allowed ? "ALLOW" : "DENY"} (${d.reason})`,
                        ).toMatch(/: ALLOW /);
                    }
                }
            }
        });
    },
);

describe("the federated model isolates authorization: a peer's identities are only what the policies name", () => {
    const httpbinOf = (plan: StackPlan) =>
        behindService(plan, SAMPLE_NS, MESH_CALLS.clientIdentity.to.service, MESH_CALLS.clientIdentity.to.port)!;

    test("a peer pod running as istio-system/istio-ingressgateway reaches no httpbin without a JWT, while this cluster's gateway does", () => {
        const lab = labs.federated;
        expect(lab.stacks).toHaveLength(2);
        for (const dest of lab.stacks) {
            const peer = lab.stacks.find((s) => s !== dest) as StackPlan;
            const { workloads, targetPort } = httpbinOf(dest);
            expect(workloads.length).toBeGreaterThan(0);
            const fromGateway = (td: string): Request => ({
                principal: principal(td, ISTIO_NAMESPACE, INGRESS_GATEWAY),
                namespace: ISTIO_NAMESPACE,
                method: "GET",
                path: "/headers",
                port: targetPort,
            });
            for (const w of workloads) {
                expect(trustDomainsOf(peer)[0]).not.toBe(trustDomainsOf(dest)[0]);
                const d = decide(dest, w, fromGateway(trustDomainsOf(peer)[0]));
                expect(
                    `${dest.stack}/${w.name} from ${trustDomainsOf(peer)[0]}'s gateway: ${d.allowed ? "ALLOW" : "DENY"}`,
                ).toMatch(/: DENY$/);
                expect(decide(dest, w, fromGateway(trustDomainsOf(dest)[0])).allowed).toBe(true);
                // With the peer's domain as a trust domain alias (the old federated model) istiod would admit it.
                expect(
                    authorize(policiesOf(dest), w, fromGateway(trustDomainsOf(peer)[0]), ROOT_NAMESPACE, [
                        ...trustDomainsOf(dest),
                        trustDomainsOf(peer)[0],
                    ]).allowed,
                ).toBe(true);
            }
        }
    });

    test("istiod aliases no trust domain; the peers' domains reach it only as caCertificates entries", () => {
        for (const plan of labs.federated.stacks) {
            const peers = labs.federated.stacks.filter((s) => s !== plan).map((s) => trustDomainsOf(s)[0]);
            expect(meshConfigOf(plan).trustDomainAliases).toBeUndefined();
            expect(acceptedClientDomains(plan)).toEqual([trustDomainsOf(plan)[0], ...peers]);
        }
    });

    test("every sample pod of the federated lab gets a SPIRE identity (istio's default templates there include spire)", () => {
        for (const plan of labs.federated.stacks) {
            for (const w of deployments(plan, SAMPLE_NS))
                expect([plan.stack, w.name, spireManaged(plan, w)]).toEqual([plan.stack, w.name, true]);
        }
        // ...while the shared lab's plain sidecars keep istiod's certificates.
        expect(
            deployments(labs.shared.stacks[0], SAMPLE_NS)
                .filter((w) => !spireManaged(labs.shared.stacks[0], w))
                .map((w) => w.name),
        ).toEqual(expect.arrayContaining(["sleep"]));
    });
});

describe("the evaluator follows Istio's rules", () => {
    const ns = (name: string, namespace: string, spec: Record<string, unknown>): PolicyObject => ({
        metadata: { name, namespace },
        spec,
    });
    const httpbin: Workload = { namespace: "sample", labels: { app: "httpbin" } };
    const req = (principal?: string): Request => ({
        principal,
        namespace: "sample",
        method: "GET",
        path: "/headers",
        port: 8080,
    });
    const allowCurl = ns("httpbin-callers", "sample", {
        selector: { matchLabels: { app: "httpbin" } },
        action: "ALLOW",
        rules: [{ from: [{ source: { principals: ["zta.lab/ns/sample/sa/curl"] } }] }],
    });

    test("no policy: allowed; allow-nothing: denied; a matching ALLOW rule admits", () => {
        expect(authorize([], httpbin, req("zta.lab/ns/sample/sa/sleep"), "istio-system", ["zta.lab"]).allowed).toBe(
            true,
        );
        expect(
            authorize([ns("allow-nothing", "sample", {})], httpbin, req("zta.lab/ns/sample/sa/curl"), "istio-system", [
                "zta.lab",
            ]).allowed,
        ).toBe(false);
        expect(
            authorize(
                [ns("allow-nothing", "sample", {}), allowCurl],
                httpbin,
                req("zta.lab/ns/sample/sa/curl"),
                "istio-system",
                ["zta.lab"],
            ).allowed,
        ).toBe(true);
        expect(
            authorize(
                [ns("allow-nothing", "sample", {}), allowCurl],
                httpbin,
                req("zta.lab/ns/sample/sa/sleep"),
                "istio-system",
                ["zta.lab"],
            ).allowed,
        ).toBe(false);
    });

    test("a trust domain alias stands for the local trust domain; DENY wins; unknown fields are refused", () => {
        expect(
            authorize([allowCurl], httpbin, req("peer.lab/ns/sample/sa/curl"), "istio-system", ["zta.lab", "peer.lab"])
                .allowed,
        ).toBe(true);
        expect(
            authorize([allowCurl], httpbin, req("peer.lab/ns/sample/sa/curl"), "istio-system", ["zta.lab"]).allowed,
        ).toBe(false);
        // A principal of a trust domain that is neither the local one nor an alias is kept as written
        // (bundle.go, ReplaceTrustDomainAliases): it admits that domain's account and no other.
        const allowPeerCurl = ns("httpbin-callers", "sample", {
            selector: { matchLabels: { app: "httpbin" } },
            rules: [{ from: [{ source: { principals: ["peer.lab/ns/sample/sa/curl"] } }] }],
        });
        expect(
            authorize([allowPeerCurl], httpbin, req("peer.lab/ns/sample/sa/curl"), "istio-system", ["zta.lab"]).allowed,
        ).toBe(true);
        expect(
            authorize([allowPeerCurl], httpbin, req("zta.lab/ns/sample/sa/curl"), "istio-system", ["zta.lab"]).allowed,
        ).toBe(false);
        expect(principalVariants("peer.lab/ns/sample/sa/curl", ["zta.lab"])).toEqual(["peer.lab/ns/sample/sa/curl"]);
        expect(principalVariants("cluster.local/ns/sample/sa/curl", ["zta.lab", "peer.lab"])).toEqual([
            "zta.lab/ns/sample/sa/curl",
            "peer.lab/ns/sample/sa/curl",
        ]);
        expect(principalVariants("*/ns/sample/sa/curl", ["zta.lab"])).toEqual(["*/ns/sample/sa/curl"]);
        const denyAll = ns("deny-all", "istio-system", { action: "DENY", rules: [{}] });
        expect(
            authorize([allowCurl, denyAll], httpbin, req("zta.lab/ns/sample/sa/curl"), "istio-system", ["zta.lab"])
                .allowed,
        ).toBe(false);
        const unknown = ns("odd", "sample", { rules: [{ from: [{ source: { notPrincipals: ["x"] } }] }] });
        expect(() =>
            authorize([unknown], httpbin, req("zta.lab/ns/sample/sa/curl"), "istio-system", ["zta.lab"]),
        ).toThrow(/notPrincipals/);
    });
});
