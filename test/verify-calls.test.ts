// Every call `npm run verify` makes, run through the AuthorizationPolicies of
// the offline plan of the committed lab: a check that the policies forbid
// fails here, not on the lab. The calls come from verify itself (MESH_CALLS,
// the ingress URL and default path), the workloads, Services, Gateways and
// VirtualServices from the plan.
import { gatewayRenderedLabels, GatewayLabelValues } from "../components/gateway-labels";
import { authorize, Decision, PolicyObject, Request, Workload } from "../offline/authz";
import { PlannedResource } from "../offline/evaluate";
import { LabPlan, StackPlan } from "../offline/lab";
import { MESH_CALLS, MeshCall } from "../verify/checks";
import { DEFAULTS } from "../verify/cli";
import { ingressUrl } from "../verify/ingress";
import { planOf, resourcesOfType } from "./helpers";

/** Istio's default meshConfig.rootNamespace: policies there apply to every namespace. */
const ROOT_NAMESPACE = "istio-system";
const SAMPLE_NS = "sample";
const AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy";
const SERVICE = "kubernetes:core/v1:Service";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const GATEWAY = "kubernetes:networking.istio.io/v1:Gateway";
const VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const ISTIO_NAMESPACE = "istio-system";
/** The ingress gateway release (and its service account), as the chart names them. */
const INGRESS_GATEWAY = "istio-ingressgateway";

interface PlannedWorkload extends Workload {
    readonly name: string;
    readonly serviceAccount: string;
}

const meta = (r: PlannedResource) => r.inputs.metadata as { name: string; namespace: string; labels?: Record<string, string> };
const spec = (r: PlannedResource) => r.inputs.spec as Record<string, any>;

function policiesOf(plan: StackPlan): PolicyObject[] {
    return resourcesOfType(plan, AUTHZ).map((r) => ({ metadata: meta(r), spec: spec(r) ?? {} }));
}

function releaseValues(plan: StackPlan, releaseName: string): Record<string, any> {
    const found = resourcesOfType(plan, RELEASE).filter((r) => r.inputs.name === releaseName);
    if (found.length !== 1) throw new Error(`${plan.stack}: expected one Helm release ${releaseName}, found ${found.length}`);
    return found[0].inputs.values as Record<string, any>;
}

/** The mesh's trust domain and its aliases, from istiod's values. */
function trustDomainsOf(plan: StackPlan): string[] {
    const mesh = releaseValues(plan, "istiod").meshConfig as { trustDomain: string; trustDomainAliases?: string[] };
    return [mesh.trustDomain, ...(mesh.trustDomainAliases ?? [])];
}

function deployments(plan: StackPlan, namespace: string): PlannedWorkload[] {
    return resourcesOfType(plan, DEPLOYMENT)
        .filter((r) => meta(r).namespace === namespace)
        .map((r) => {
            const pod = spec(r).template;
            return { name: meta(r).name, namespace, labels: pod.metadata.labels, serviceAccount: pod.spec.serviceAccountName ?? "default" };
        });
}

/** The workloads behind a Service and the port they receive a Service port on. */
function behindService(plan: StackPlan, namespace: string, name: string, port: number): { workloads: PlannedWorkload[]; targetPort: number } | undefined {
    const svc = resourcesOfType(plan, SERVICE).find((r) => meta(r).namespace === namespace && meta(r).name === name);
    if (!svc) return undefined;
    const p = (spec(svc).ports as { port: number; targetPort?: number }[]).find((x) => x.port === port);
    if (!p) throw new Error(`${plan.stack}: Service ${namespace}/${name} has no port ${port}`);
    const selector = spec(svc).selector as Record<string, string>;
    const workloads = deployments(plan, namespace).filter((w) => Object.entries(selector).every(([k, v]) => w.labels[k] === v));
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
        if (callers.length === 0) throw new Error(`${source.stack}: no ${SAMPLE_NS} Deployment with app=${call.from}, the caller of ${call.check}`);
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
                    outcomes.push(`${call.check}: ${source.stack}/${caller.name} -> ${dest.stack}/${w.name}: ${d.allowed ? "ALLOW" : "DENY"} (${d.reason})`);
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
    return { name: INGRESS_GATEWAY, namespace: ISTIO_NAMESPACE, labels: gatewayRenderedLabels({ ...values, name: values.name ?? INGRESS_GATEWAY }).pod, serviceAccount: values.serviceAccount?.name || INGRESS_GATEWAY };
}

/** The destinations the ingress routes a request on `port` to: VirtualServices bound to Gateways that select the ingress pods and serve that port. */
function ingressRoutes(plan: StackPlan, ingress: Workload, port: number): { namespace: string; service: string; port: number }[] {
    const gateways = resourcesOfType(plan, GATEWAY).filter((g) => {
        const s = spec(g);
        return Object.entries(s.selector as Record<string, string>).every(([k, v]) => ingress.labels[k] === v) && (s.servers as { port: { number: number } }[]).some((x) => x.port.number === port);
    });
    const names = new Set(gateways.flatMap((g) => [`${meta(g).namespace}/${meta(g).name}`]));
    const routes: { namespace: string; service: string; port: number }[] = [];
    for (const vs of resourcesOfType(plan, VIRTUAL_SERVICE)) {
        const bound = ((spec(vs).gateways as string[] | undefined) ?? []).some((g) => names.has(g.includes("/") ? g : `${meta(vs).namespace}/${g}`));
        if (!bound) continue;
        for (const http of spec(vs).http as { route: { destination: { host: string; port?: { number: number } } }[] }[]) {
            for (const r of http.route) {
                const [service, namespace] = r.destination.host.split(".");
                routes.push({ namespace: namespace ?? meta(vs).namespace, service, port: r.destination.port?.number ?? 80 });
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

let lab: LabPlan;
beforeAll(async () => {
    lab = await planOf();
});

describe("every call verify makes is admitted by the planned AuthorizationPolicies", () => {
    test.each(Object.values(MESH_CALLS).map((c) => [c.check, c] as const))("%s", (_id, call) => {
        const outcomes = meshCallDecisions(lab, call);
        // The call reaches at least one workload, and no path it can take is denied.
        expect(outcomes.length).toBeGreaterThan(0);
        expect(outcomes.filter((o) => o.includes(": DENY "))).toEqual([]);
    });

    test.each(["comp2", "comp3"])("ingress-jwt on %s: a token from the issuer passes the gateway, no token does not, and the gateway may call the route", (stack) => {
        const plan = lab.stacks.find((s) => s.stack === stack) as StackPlan;
        const issuer = (JSON.parse(JSON.stringify(resourcesOfType(plan, "kubernetes:security.istio.io/v1:RequestAuthentication")[0].inputs.spec)) as { jwtRules: { issuer: string }[] }).jwtRules[0].issuer;
        const address = "192.0.2.10";
        const { port, path } = ingressRequest(address);
        const gateway = ingressWorkload(plan);
        const external = { method: "GET", path, port };
        expect(decide(plan, gateway, { ...external, requestPrincipal: `${issuer}/service-account-testbed` }).allowed).toBe(true);
        expect(decide(plan, gateway, external).allowed).toBe(false);

        const routes = ingressRoutes(plan, gateway, port);
        expect(routes.length).toBeGreaterThan(0);
        for (const route of routes) {
            const behind = behindService(plan, route.namespace, route.service, route.port);
            expect(behind?.workloads.length ?? 0).toBeGreaterThan(0);
            for (const w of behind!.workloads) {
                const d = decide(plan, w, { principal: principal(trustDomainsOf(plan)[0], ISTIO_NAMESPACE, gateway.serviceAccount), namespace: ISTIO_NAMESPACE, method: "GET", path, port: behind!.targetPort });
                expect(`${w.namespace}/${w.name}: ${d.allowed ? "ALLOW" : "DENY"} (${d.reason})`).toMatch(/: ALLOW /);
            }
        }
    });
});

describe("the evaluator follows Istio's rules", () => {
    const ns = (name: string, namespace: string, spec: Record<string, unknown>): PolicyObject => ({ metadata: { name, namespace }, spec });
    const httpbin: Workload = { namespace: "sample", labels: { app: "httpbin" } };
    const req = (principal?: string): Request => ({ principal, namespace: "sample", method: "GET", path: "/headers", port: 8080 });
    const allowCurl = ns("httpbin-callers", "sample", { selector: { matchLabels: { app: "httpbin" } }, action: "ALLOW", rules: [{ from: [{ source: { principals: ["zta.lab/ns/sample/sa/curl"] } }] }] });

    test("no policy: allowed; allow-nothing: denied; a matching ALLOW rule admits", () => {
        expect(authorize([], httpbin, req("zta.lab/ns/sample/sa/sleep"), "istio-system", ["zta.lab"]).allowed).toBe(true);
        expect(authorize([ns("allow-nothing", "sample", {})], httpbin, req("zta.lab/ns/sample/sa/curl"), "istio-system", ["zta.lab"]).allowed).toBe(false);
        expect(authorize([ns("allow-nothing", "sample", {}), allowCurl], httpbin, req("zta.lab/ns/sample/sa/curl"), "istio-system", ["zta.lab"]).allowed).toBe(true);
        expect(authorize([ns("allow-nothing", "sample", {}), allowCurl], httpbin, req("zta.lab/ns/sample/sa/sleep"), "istio-system", ["zta.lab"]).allowed).toBe(false);
    });

    test("a trust domain alias stands for the local trust domain; DENY wins; unknown fields are refused", () => {
        expect(authorize([allowCurl], httpbin, req("peer.lab/ns/sample/sa/curl"), "istio-system", ["zta.lab", "peer.lab"]).allowed).toBe(true);
        expect(authorize([allowCurl], httpbin, req("peer.lab/ns/sample/sa/curl"), "istio-system", ["zta.lab"]).allowed).toBe(false);
        const denyAll = ns("deny-all", "istio-system", { action: "DENY", rules: [{}] });
        expect(authorize([allowCurl, denyAll], httpbin, req("zta.lab/ns/sample/sa/curl"), "istio-system", ["zta.lab"]).allowed).toBe(false);
        const unknown = ns("odd", "sample", { rules: [{ from: [{ source: { notPrincipals: ["x"] } }] }] });
        expect(() => authorize([unknown], httpbin, req("zta.lab/ns/sample/sa/curl"), "istio-system", ["zta.lab"])).toThrow(/notPrincipals/);
    });
});
