// Issue 26: the lab's own workloads, replayed on the offline plan of examples/workloads
// (flask-hello in cluster1, routed at the ingress on /hello and called by client/curl in
// cluster2). Every call the config states, as `verify workload-flows` makes it, passes
// both layers: the CiliumNetworkPolicies (offline/simulate/netpol.ts) and the
// AuthorizationPolicies (offline/simulate/authz.ts); a caller it does not state is
// refused; an injected pod of a configured namespace reaches istiod's xDS, and a pod of
// a namespace nobody configured reaches nothing else.
import * as path from "path";
import { PlannedResource } from "../offline/engine/record";
import { LabPlan, StackPlan } from "../offline/planner/lab";
import { authorize, PolicyObject } from "../offline/simulate/authz";
import { CiliumPolicyObject, egressCidrs, fromWorld, ingressTargets, Pod, podToPod } from "../offline/simulate/netpol";
import { statedCalls, unstatedCalls, WorkloadCall } from "../verify/checks/workload-flows";
import { gatewayRenderedLabels } from "../components/gateway-labels";
import { LabWorkload } from "../model/lab";
import { parseLabConfig } from "../stacks/config/parse";
import { optInWarnings } from "../stacks/config/cross-field";
import { labDirWith, planOf, rawConfig, REPO, resourcesOfType, stackOf } from "./helpers";

const EXAMPLE = path.join(REPO, "examples", "workloads");
const CNP = "kubernetes:cilium.io/v2:CiliumNetworkPolicy";
const AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const NAMESPACE = "kubernetes:core/v1:Namespace";
const VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService";
const GATEWAY = "kubernetes:networking.istio.io/v1:Gateway";
const DESTINATION_RULE = "kubernetes:networking.istio.io/v1:DestinationRule";
const RELEASE = "kubernetes:helm.sh/v3:Release";
/** istiod's pod labels (istiod chart 1.30.3, templates/deployment.yaml). */
const ISTIOD_POD: Pod = { namespace: "istio-system", labels: { app: "istiod", istio: "pilot" } };
/** The east-west gateways' cross-network port (AUTO_PASSTHROUGH). */
const CROSS_NETWORK = 15443;

const meta = (r: PlannedResource) => r.inputs.metadata as { name: string; namespace: string; labels?: any };
const spec = (r: PlannedResource) => r.inputs.spec as Record<string, any>;
const cnps = (plan: StackPlan): CiliumPolicyObject[] =>
    resourcesOfType(plan, CNP).map((r) => ({ metadata: meta(r), spec: spec(r) }));
const authzPolicies = (plan: StackPlan): PolicyObject[] =>
    resourcesOfType(plan, AUTHZ).map((r) => ({ metadata: meta(r), spec: spec(r) ?? {} }));
const trustDomainOf = (plan: StackPlan) =>
    (resourcesOfType(plan, RELEASE).find((r) => r.inputs.name === "istiod")?.inputs.values as any).meshConfig
        .trustDomain as string;

/** The pod of a planned Deployment with `app`, in `namespace`, as its template labels it; undefined when it does not run there. */
function podOf(plan: StackPlan, namespace: string, app: string): (Pod & { serviceAccount: string }) | undefined {
    const d = resourcesOfType(plan, DEPLOYMENT).find(
        (r) => meta(r).namespace === namespace && spec(r).template.metadata.labels.app === app,
    );
    if (!d) return undefined;
    const template = spec(d).template;
    return { namespace, labels: template.metadata.labels, serviceAccount: template.spec.serviceAccountName };
}

function gatewayPod(plan: StackPlan, release: string): Pod {
    const values = resourcesOfType(plan, RELEASE).find((r) => r.inputs.name === release)?.inputs.values as any;
    return { namespace: "istio-system", labels: gatewayRenderedLabels({ ...values, name: values.name }).pod };
}

/**
 * A call from `from`'s pod to the workload's Service, through both layers: in the same
 * cluster pod to pod; across clusters out to the server cluster's east-west gateway (the
 * caller's egress), into it from the lab network, and on to the workload. The Service must
 * exist in the caller's cluster (Istio resolves only names whose Service is there).
 */
function replay(lab: LabPlan, from: StackPlan, call: WorkloadCall): string[] {
    const caller = podOf(from, call.from.namespace, call.from.name);
    if (!caller) throw new Error(`${from.stack}: no pod of ${call.from.namespace}/${call.from.name}`);
    const outcomes: string[] = [];
    const named = resourcesOfType(from, SERVICE).some(
        (r) => meta(r).namespace === call.to.namespace && meta(r).name === call.to.name,
    );
    for (const to of lab.stacks) {
        const server = podOf(to, call.to.namespace, call.to.name);
        if (!server) continue;
        let network;
        if (to === from) network = podToPod(cnps(from), caller, server, call.to.port);
        else {
            const eastWest = `${(rawConfig(to.stack, EXAMPLE_DIRS.get(lab) as string).metallb as any).eastWestAddress}/32`;
            const out = egressCidrs(cnps(from), caller).some(
                (e) => e.cidr === eastWest && e.ports.includes(String(CROSS_NETWORK)),
            );
            const gateway = gatewayPod(to, "istio-eastwestgateway");
            const on = podToPod(cnps(to), gateway, server, call.to.port);
            network = {
                allowed: out && fromWorld(cnps(to), gateway, CROSS_NETWORK) && on.allowed,
                reason: out ? on.reason : `no egress to ${eastWest}:${CROSS_NETWORK}`,
            };
        }
        const authz = authorize(
            authzPolicies(to),
            server,
            {
                principal: `${trustDomainOf(from)}/ns/${caller.namespace}/sa/${caller.serviceAccount}`,
                namespace: caller.namespace,
                method: "GET",
                path: call.to.path,
                port: call.to.port,
            },
            "istio-system",
            [trustDomainOf(to)],
        );
        outcomes.push(
            `${from.stack}/${call.from.name} -> ${to.stack}/${call.to.name}: network ${network.allowed ? "ALLOW" : "DENY"}, authz ${authz.allowed ? "ALLOW" : "DENY"}${named ? "" : ", NO SERVICE in the caller's cluster"}`,
        );
    }
    return outcomes;
}

/** Which lab directory each plan came from (the replay reads its stack files). */
const EXAMPLE_DIRS = new Map<LabPlan, string>();
async function plan(dir: string): Promise<LabPlan> {
    const lab = await planOf(dir);
    EXAMPLE_DIRS.set(lab, dir);
    return lab;
}
/** The workloads as the program reads them from a lab's files (defaults filled in). */
const workloadsOf = (dir: string, stack: string): readonly LabWorkload[] =>
    parseLabConfig(stack, rawConfig(stack, dir), new Set(["sshPrivateKey"])).workloads;
const clusterOf = (plan: StackPlan) => (plan.outputs.identity.value as { clusterName: string }).clusterName;

let lab: LabPlan;
beforeAll(async () => {
    lab = await plan(EXAMPLE);
});

describe("npm run plan -- --config-dir examples/workloads plans the app's namespace, identity, policies and route", () => {
    test("cluster1 runs flask-hello: its namespace with injection, its account, a SPIRE-managed pod, its Service, its /hello route", () => {
        const comp2 = stackOf(lab, "comp2");
        const ns = resourcesOfType(comp2, NAMESPACE).find((r) => meta(r).name === "flask") as PlannedResource;
        expect(meta(ns).labels).toEqual({ "istio-injection": "enabled" });
        const pod = spec(
            resourcesOfType(comp2, DEPLOYMENT).find((r) => meta(r).namespace === "flask") as PlannedResource,
        ).template;
        // Istio's spire template and the label our ClusterSPIFFEID selects: the identity comes from SPIRE.
        expect(pod.metadata.annotations).toEqual({ "inject.istio.io/templates": "sidecar,spire" });
        expect(pod.metadata.labels).toEqual({ app: "flask-hello", "spiffe.io/spire-managed-identity": "true" });
        expect(pod.spec.serviceAccountName).toBe("flask-hello");
        expect(pod.spec.containers[0]).toMatchObject({
            name: "flask-hello",
            image: "10.5.0.2:8443/flask-hello:1.0.0",
            ports: [{ containerPort: 5000 }],
        });
        const svc = resourcesOfType(comp2, SERVICE).find((r) => meta(r).namespace === "flask") as PlannedResource;
        expect(spec(svc)).toEqual({
            selector: { app: "flask-hello" },
            ports: [{ name: "http", port: 5000, targetPort: 5000 }],
        });
        const vs = resourcesOfType(comp2, VIRTUAL_SERVICE).find(
            (r) => meta(r).namespace === "flask",
        ) as PlannedResource;
        expect(spec(vs)).toEqual({
            hosts: ["*"],
            gateways: ["sample/httpbin-gateway"],
            http: [
                {
                    match: [{ uri: { prefix: "/hello" } }],
                    route: [{ destination: { host: "flask-hello.flask.svc.cluster.local", port: { number: 5000 } } }],
                },
            ],
        });
        // The Gateway it names exists and selects the ingress gateway's pods.
        const gateway = resourcesOfType(comp2, GATEWAY).find(
            (r) => `${meta(r).namespace}/${meta(r).name}` === "sample/httpbin-gateway",
        ) as PlannedResource;
        const ingress = gatewayPod(comp2, "istio-ingressgateway");
        expect(Object.entries(spec(gateway).selector).every(([k, v]) => ingress.labels[k] === v)).toBe(true);
        // Nothing of curl's runs here.
        expect(podOf(comp2, "client", "curl")).toBeUndefined();
    });

    test("cluster2 runs curl, and has flask-hello's namespace and Service for it, without its pods", () => {
        const comp3 = stackOf(lab, "comp3");
        expect(podOf(comp3, "client", "curl")).toMatchObject({
            labels: { app: "curl", "spiffe.io/spire-managed-identity": "true" },
            serviceAccount: "curl",
        });
        expect(podOf(comp3, "flask", "flask-hello")).toBeUndefined();
        expect(
            resourcesOfType(comp3, SERVICE)
                .filter((r) => meta(r).namespace === "flask")
                .map((r) => [meta(r).name, spec(r)]),
        ).toEqual([
            [
                "flask-hello",
                { selector: { app: "flask-hello" }, ports: [{ name: "http", port: 5000, targetPort: 5000 }] },
            ],
        ]);
        expect(resourcesOfType(comp3, VIRTUAL_SERVICE).filter((r) => meta(r).namespace === "flask")).toEqual([]);
    });

    test("both namespaces in both clusters are under default deny: a default-deny CiliumNetworkPolicy and allow-nothing", () => {
        for (const [stack, namespaces] of [
            ["comp2", ["flask"]],
            ["comp3", ["client", "flask"]],
        ] as const) {
            const plan = stackOf(lab, stack);
            for (const ns of namespaces) {
                const deny = resourcesOfType(plan, CNP).find(
                    (r) => meta(r).namespace === ns && meta(r).name === "default-deny",
                );
                expect([stack, ns, deny && spec(deny)]).toMatchObject([
                    stack,
                    ns,
                    { endpointSelector: {}, ingress: [{}], egress: [{}] },
                ]);
                const nothing = resourcesOfType(plan, AUTHZ).find(
                    (r) => meta(r).namespace === ns && meta(r).name === "allow-nothing",
                );
                expect([stack, ns, nothing && spec(nothing)]).toEqual([stack, ns, {}]);
            }
        }
    });

    test("flask-hello admits exactly curl and this cluster's ingress gateway, by SPIFFE principal", () => {
        const policy = resourcesOfType(stackOf(lab, "comp2"), AUTHZ).find(
            (r) => meta(r).namespace === "flask" && meta(r).name === "flask-hello-callers",
        ) as PlannedResource;
        expect(spec(policy)).toEqual({
            selector: { matchLabels: { app: "flask-hello" } },
            action: "ALLOW",
            rules: [
                {
                    from: [
                        {
                            source: {
                                principals: [
                                    "zta.lab/ns/client/sa/curl",
                                    "zta.lab/ns/istio-system/sa/istio-ingressgateway",
                                ],
                            },
                        },
                    ],
                },
            ],
        });
    });
});

describe("the calls verify makes, replayed through both layers of the plan", () => {
    test.each(["comp2", "comp3"])(
        "%s: every stated call whose caller runs here is allowed by the network policies and the AuthorizationPolicies",
        (stack) => {
            const from = stackOf(lab, stack);
            const calls = statedCalls(workloadsOf(EXAMPLE, stack), clusterOf(from));
            expect(calls.length).toBe(stack === "comp3" ? 1 : 0);
            for (const call of calls) {
                const outcomes = replay(lab, from, call);
                expect(outcomes).toEqual(["comp3/curl -> comp2/flask-hello: network ALLOW, authz ALLOW"]);
            }
        },
    );

    test("the ingress gateway may call flask-hello at both layers, and passes nothing without a token", () => {
        const comp2 = stackOf(lab, "comp2");
        const server = podOf(comp2, "flask", "flask-hello") as Pod;
        const ingress = gatewayPod(comp2, "istio-ingressgateway");
        expect(podToPod(cnps(comp2), ingress, server, 5000).allowed).toBe(true);
        const request = { method: "GET", path: "/hello", port: 5000 };
        expect(
            authorize(
                authzPolicies(comp2),
                server,
                { ...request, principal: "zta.lab/ns/istio-system/sa/istio-ingressgateway", namespace: "istio-system" },
                "istio-system",
                ["zta.lab"],
            ).allowed,
        ).toBe(true);
        // At the gateway itself: the lab's "token required" policy applies to every route, /hello too.
        const atGateway = { method: "GET", path: "/hello", port: 443 };
        expect(authorize(authzPolicies(comp2), ingress, atGateway, "istio-system", ["zta.lab"]).allowed).toBe(false);
        expect(
            authorize(
                authzPolicies(comp2),
                ingress,
                { ...atGateway, requestPrincipal: "https://10.5.0.2:9443/realms/zta/service-account-testbed" },
                "istio-system",
                ["zta.lab"],
            ).allowed,
        ).toBe(true);
    });

    test("the unstated caller verify tries (the samples' sleep) is refused: in cluster1 at both layers, from cluster2 by the AuthorizationPolicy", () => {
        const workloads = workloadsOf(EXAMPLE, "comp2");
        for (const stack of ["comp2", "comp3"]) {
            const from = stackOf(lab, stack);
            const [call] = unstatedCalls(workloads, clusterOf(from));
            expect(call.from).toEqual({ namespace: "sample", name: "sleep" });
            const outcomes = replay(lab, from, call);
            // Behind the east-west gateway the network policy sees the gateway, not the caller: only the
            // AuthorizationPolicy, which reads the caller's SPIFFE identity, can tell callers apart there.
            expect(outcomes).toEqual([
                stack === "comp2"
                    ? "comp2/sleep -> comp2/flask-hello: network DENY, authz DENY"
                    : "comp3/sleep -> comp2/flask-hello: network ALLOW, authz DENY",
            ]);
        }
    });

    test("curl, a configured workload, reaches nothing it was not given: the samples' httpbin beside it is refused at both layers", () => {
        const comp3 = stackOf(lab, "comp3");
        const curl = podOf(comp3, "client", "curl") as Pod;
        const httpbin = podOf(comp3, "sample", "httpbin") as Pod;
        expect(podToPod(cnps(comp3), curl, httpbin, 8080).allowed).toBe(false);
        const request = { method: "GET", path: "/headers", port: 8080, namespace: "client" };
        expect(
            authorize(
                authzPolicies(comp3),
                httpbin,
                { ...request, principal: "zta.lab/ns/client/sa/curl" },
                "istio-system",
                ["zta.lab"],
            ).allowed,
        ).toBe(false);
    });
});

describe("istiod's xDS for the workloads' pods, and nothing for a namespace nobody configured", () => {
    test.each(["comp2", "comp3"])(
        "%s: each injected workload pod reaches istiod on 15012; a stray pod reaches that and nothing else",
        (stack) => {
            const plan = stackOf(lab, stack);
            const pods = [podOf(plan, "flask", "flask-hello"), podOf(plan, "client", "curl")].filter(
                (p): p is Pod & { serviceAccount: string } => p !== undefined,
            );
            expect(pods).toHaveLength(1);
            for (const pod of pods) expect(podToPod(cnps(plan), pod, ISTIOD_POD, 15012).allowed).toBe(true);
            const stray: Pod = { namespace: "scratch", labels: { app: "stray" } };
            const reached = ingressTargets(cnps(plan))
                .filter((t) => podToPod(cnps(plan), stray, t.pod, t.port).allowed)
                .map((t) => `${t.policy}:${t.port}`);
            expect([...new Set(reached)]).toEqual(["istio-system/allow-istiod:15012"]);
        },
    );
});

describe("a second workload that is no caller, in the caller's cluster of the first", () => {
    test("client/wget in cluster1 is refused by flask-hello at both layers, and may itself reach only its own endpoint outside", async () => {
        const dir = labDirWith((_s, raw) => {
            raw.workloads.push({
                namespace: "client",
                name: "wget",
                cluster: "cluster1",
                image: "docker.io/curlimages/curl:8.16.0",
                command: ["/bin/sleep", "infinity"],
                egress: ["192.0.2.10:443"],
            });
        }, EXAMPLE);
        const variant = await plan(dir);
        const comp2 = stackOf(variant, "comp2");
        const wget = podOf(comp2, "client", "wget") as Pod & { serviceAccount: string };
        const flask = podOf(comp2, "flask", "flask-hello") as Pod;
        expect(podToPod(cnps(comp2), wget, flask, 5000).allowed).toBe(false);
        expect(
            authorize(
                authzPolicies(comp2),
                flask,
                {
                    principal: "zta.lab/ns/client/sa/wget",
                    namespace: "client",
                    method: "GET",
                    path: "/hello",
                    port: 5000,
                },
                "istio-system",
                ["zta.lab"],
            ).allowed,
        ).toBe(false);
        expect(egressCidrs(cnps(comp2), wget)).toEqual([{ cidr: "192.0.2.10/32", ports: ["443"] }]);
        // It is among the unstated callers verify tries after the samples' sleep.
        const calls = unstatedCalls(workloadsOf(dir, "comp2"), "cluster1");
        expect(calls.map((c) => `${c.from.namespace}/${c.from.name}`)).toEqual(["sample/sleep", "client/wget"]);
    });
});

describe("the federated model: each caller by its own cluster's trust domain", () => {
    test("flask-hello in cluster-a admits curl of cluster-b as bravo.fed.lab's, and both clusters name who may serve it", async () => {
        const dir = labDirWith(
            (_s, raw) => {
                raw.workloads = [
                    {
                        namespace: "flask",
                        name: "flask-hello",
                        cluster: "cluster-a",
                        image: "10.20.0.10:8443/flask-hello:1.0.0",
                        port: 5000,
                        callers: ["client/curl"],
                    },
                    {
                        namespace: "client",
                        name: "curl",
                        cluster: "cluster-b",
                        image: "docker.io/curlimages/curl:8.16.0",
                        command: ["/bin/sleep", "infinity"],
                    },
                ];
            },
            path.join(REPO, "examples", "federated"),
        );
        const fed = await plan(dir);
        const alpha = stackOf(fed, "alpha");
        const policy = resourcesOfType(alpha, AUTHZ).find(
            (r) => meta(r).name === "flask-hello-callers",
        ) as PlannedResource;
        expect(spec(policy).rules[0].from[0].source.principals).toEqual(["bravo.fed.lab/ns/client/sa/curl"]);
        const [call] = statedCalls(workloadsOf(dir, "alpha"), "cluster-b");
        expect(replay(fed, stackOf(fed, "bravo"), call)).toEqual([
            "bravo/curl -> alpha/flask-hello: network ALLOW, authz ALLOW",
        ]);
        for (const stack of fed.stacks) {
            const rule = resourcesOfType(stack, DESTINATION_RULE).find(
                (r) => spec(r).host === "flask-hello.flask.svc.cluster.local",
            ) as PlannedResource;
            expect([stack.stack, spec(rule).trafficPolicy.tls.subjectAltNames.sort()]).toEqual([
                stack.stack,
                ["spiffe://alpha.fed.lab/ns/flask/sa/flask-hello", "spiffe://bravo.fed.lab/ns/flask/sa/flask-hello"],
            ]);
        }
    });
});

describe("without the samples, the workloads' routes get a Gateway of their own", () => {
    test("istio-system/workloads-gateway serves 443 with the lab's credential on the ingress pods, and /hello is bound to it", async () => {
        const dir = labDirWith((_s, raw) => (raw.samples = { enabled: false }), EXAMPLE);
        const bare = await plan(dir);
        const comp2 = stackOf(bare, "comp2");
        /** The Gateways that select a stack's ingress gateway pods (the east-west one has its own). */
        const ingressGateways = (plan: StackPlan) => {
            const ingress = gatewayPod(plan, "istio-ingressgateway");
            return resourcesOfType(plan, GATEWAY).filter((g) =>
                Object.entries(spec(g).selector as Record<string, string>).every(([k, v]) => ingress.labels[k] === v),
            );
        };
        const gateways = ingressGateways(comp2);
        expect(gateways.map((g) => `${meta(g).namespace}/${meta(g).name}`)).toEqual(["istio-system/workloads-gateway"]);
        expect(spec(gateways[0]).servers).toEqual([
            {
                port: { number: 443, name: "https", protocol: "HTTPS" },
                hosts: ["*"],
                tls: { mode: "SIMPLE", credentialName: "ingress-tls" },
            },
        ]);
        const vs = resourcesOfType(comp2, VIRTUAL_SERVICE);
        expect(vs.map((v) => spec(v).gateways)).toEqual([["istio-system/workloads-gateway"]]);
        // cluster2 routes nothing, so it gets no Gateway.
        expect(ingressGateways(stackOf(bare, "comp3"))).toEqual([]);
    });
});

describe("broad egress of a workload, with its stack's opt-in", () => {
    test("is let through with networkPolicy.allowBroadEgress in the stack where the workload runs, and warned at every preview", () => {
        const raw = (stack: string, allow: boolean) => {
            const r = JSON.parse(JSON.stringify(rawConfig(stack, EXAMPLE)));
            r.workloads[0].egress = ["0.0.0.0/0:443"];
            r.networkPolicy = { allowBroadEgress: allow };
            return r;
        };
        // flask-hello runs in cluster1: comp2's opt-in decides; comp3 does not declare its egress.
        expect(() => parseLabConfig("comp2", raw("comp2", false), new Set(["sshPrivateKey"]))).toThrow(
            /zta-testbed:workloads\[0\]\.egress\[0\] = "0\.0\.0\.0\/0:443": a \/0 opens egress to every address/,
        );
        expect(() => parseLabConfig("comp3", raw("comp3", false), new Set(["sshPrivateKey"]))).not.toThrow();
        const cfg = parseLabConfig("comp2", raw("comp2", true), new Set(["sshPrivateKey"]));
        expect(optInWarnings(cfg)).toContain(
            "zta-testbed:networkPolicy.allowBroadEgress is true: workloads of zta-testbed:workloads may reach 0.0.0.0/0:443",
        );
    });
});
