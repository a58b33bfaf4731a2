// Micro-segmentation as the offline plan of the committed lab shows it: a
// default-deny CiliumNetworkPolicy in every namespace that has workloads, the
// flows `verify` relies on allowed, the flow it expects dropped dropped, and
// nothing outside the cluster reachable but the lab's own endpoints and what
// networkPolicy.egressCidrs lists.
import { gatewayRenderedLabels } from "../components/gateway-labels";
import { PlannedResource } from "../offline/engine/record";
import { LabPlan, StackPlan } from "../offline/planner/lab";
import { CiliumPolicyObject, egressCidrs, fromWorld, ingressTargets, Pod, podToPod } from "../offline/simulate/netpol";
import { ConfigError } from "../stacks/config/messages";
import { parseLabConfig } from "../stacks/config/parse";
import { DENIED_FLOW, MESH_CALLS } from "../verify/mesh-calls";
import { labDirWith, planOf, rawConfig, resourcesOfType, stackOf } from "./helpers";

const CNP = "kubernetes:cilium.io/v2:CiliumNetworkPolicy";
const NAMESPACE = "kubernetes:core/v1:Namespace";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const RELEASE = "kubernetes:helm.sh/v3:Release";
/** istiod's pod labels (istiod chart 1.30.3, templates/deployment.yaml). */
const ISTIOD_POD: Pod = { namespace: "istio-system", labels: { app: "istiod", istio: "pilot" } };
const STACKS = ["comp2", "comp3"] as const;
const PEER = { comp2: "comp3", comp3: "comp2" } as const;

const meta = (r: PlannedResource) => r.inputs.metadata as { name: string; namespace?: string };
const policies = (plan: StackPlan): CiliumPolicyObject[] =>
    resourcesOfType(plan, CNP).map((r) => ({
        metadata: meta(r) as { name: string; namespace: string },
        spec: r.inputs.spec as Record<string, unknown>,
    }));

/** Where the plan puts workloads: namespaces it creates, Deployments' and Helm releases' namespaces. */
function workloadNamespaces(plan: StackPlan): string[] {
    const names = [
        ...resourcesOfType(plan, NAMESPACE).map((r) => meta(r).name),
        ...resourcesOfType(plan, DEPLOYMENT).map((r) => meta(r).namespace as string),
        ...resourcesOfType(plan, RELEASE).map((r) => r.inputs.namespace as string),
    ];
    // kube-system: kubeadm's CoreDNS and Cilium itself (host network); docs/zero-trust.md says why it is not segmented.
    return [...new Set(names)].filter((n) => n !== "kube-system").sort();
}

function samplePod(plan: StackPlan, app: string): Pod {
    const d = resourcesOfType(plan, DEPLOYMENT).find(
        (r) => meta(r).namespace === "sample" && (r.inputs.spec as any).template.metadata.labels.app === app,
    );
    if (!d) throw new Error(`${plan.stack}: no sample Deployment with app=${app}`);
    return { namespace: "sample", labels: (d.inputs.spec as any).template.metadata.labels };
}

function gatewayPod(plan: StackPlan, release: string): Pod {
    const values = resourcesOfType(plan, RELEASE).find((r) => r.inputs.name === release)?.inputs.values as any;
    return { namespace: "istio-system", labels: gatewayRenderedLabels({ ...values, name: values.name }).pod };
}

let lab: LabPlan;
beforeAll(async () => {
    lab = await planOf();
});

describe.each(STACKS)("%s: default deny", (stack) => {
    test("every namespace with workloads has a default-deny policy selecting all its pods, both directions", () => {
        const plan = stackOf(lab, stack);
        const namespaces = workloadNamespaces(plan);
        expect(namespaces).toEqual(["istio-system", "metallb-system", "sample", "spire-server", "spire-system"]);
        for (const ns of namespaces) {
            const deny = resourcesOfType(plan, CNP).filter(
                (r) => meta(r).namespace === ns && meta(r).name === "default-deny",
            );
            expect([ns, deny.length]).toEqual([ns, 1]);
            expect(deny[0].inputs.spec).toMatchObject({ endpointSelector: {}, ingress: [{}], egress: [{}] });
        }
    });

    test("the policies wait for Cilium, which registers their CRD", () => {
        const plan = stackOf(lab, stack);
        const cilium = resourcesOfType(plan, RELEASE).find((r) => r.inputs.name === "cilium") as PlannedResource;
        expect(resourcesOfType(plan, CNP).length).toBeGreaterThan(0);
        for (const r of resourcesOfType(plan, CNP)) expect(r.dependsOn).toContain(cilium.urn);
    });
});

describe.each(STACKS)("%s: the flows verify uses", (stack) => {
    test.each(Object.values(MESH_CALLS).map((c) => [c.check, c] as const))(
        "%s: the caller may reach the local target, and the peer's east-west gateway",
        (_id, call) => {
            const plan = stackOf(lab, stack);
            const target =
                call.to.service === "helloworld" ? { app: "helloworld", port: 5000 } : { app: "httpbin", port: 8080 };
            const d = podToPod(policies(plan), samplePod(plan, call.from), samplePod(plan, target.app), target.port);
            expect(d.reason).toMatch(/allowed/);
            expect(d.allowed).toBe(true);
            // Across networks: out to the peer's east-west gateway on 15443, and from this cluster's east-west gateway in.
            const peerEastWest = `${(rawConfig(PEER[stack]).metallb as { eastWestAddress: string }).eastWestAddress}/32`;
            expect(egressCidrs(policies(plan), samplePod(plan, call.from))).toContainEqual({
                cidr: peerEastWest,
                ports: ["15443"],
            });
            expect(fromWorld(policies(plan), gatewayPod(plan, "istio-eastwestgateway"), 15443)).toBe(true);
            expect(
                podToPod(
                    policies(plan),
                    gatewayPod(plan, "istio-eastwestgateway"),
                    samplePod(plan, target.app),
                    target.port,
                ).allowed,
            ).toBe(true);
        },
    );

    test("ingress-jwt: the ingress gateway takes 443 from the lab network and may call httpbin; 80 is closed", () => {
        const plan = stackOf(lab, stack);
        const ingress = gatewayPod(plan, "istio-ingressgateway");
        expect(fromWorld(policies(plan), ingress, 443)).toBe(true);
        expect(fromWorld(policies(plan), ingress, 80)).toBe(false);
        expect(podToPod(policies(plan), ingress, samplePod(plan, "httpbin"), 8080).allowed).toBe(true);
    });

    test(`${DENIED_FLOW.check}: the flow verify expects dropped is dropped`, () => {
        const plan = stackOf(lab, stack);
        const d = podToPod(policies(plan), samplePod(plan, DENIED_FLOW.from), ISTIOD_POD, DENIED_FLOW.to.port);
        expect(d.allowed).toBe(false);
    });

    test("every meshed pod may reach istiod's xDS port, and nothing else in the sample namespace may call sleep or curl", () => {
        const plan = stackOf(lab, stack);
        for (const app of ["helloworld", "httpbin", "sleep", "curl"])
            expect(podToPod(policies(plan), samplePod(plan, app), ISTIOD_POD, 15012).allowed).toBe(true);
        expect(podToPod(policies(plan), samplePod(plan, "curl"), samplePod(plan, "sleep"), 8080).allowed).toBe(false);
        expect(podToPod(policies(plan), samplePod(plan, "sleep"), samplePod(plan, "httpbin"), 8080).allowed).toBe(
            false,
        );
    });
});

describe.each(STACKS)("%s: istiod's xDS port and a pod of a namespace the program does not configure", (stack) => {
    /** A pod in a namespace with no policy of the program: its egress is not enforced, only what it calls decides. */
    const STRAY: Pod = { namespace: "researcher-scratch", labels: { app: "stray" } };

    test("istiod admits 15012 from every pod of the cluster (the `cluster` entity), and nothing else of it so", () => {
        const plan = stackOf(lab, stack);
        const rules = resourcesOfType(plan, CNP).flatMap((r) =>
            (((r.inputs.spec as any).ingress ?? []) as Record<string, any>[])
                .filter((rule) => (rule.fromEntities ?? []).some((e: string) => e === "cluster" || e === "all"))
                .map((rule) => [meta(r).name, rule]),
        );
        expect(rules).toEqual([
            ["allow-istiod", { fromEntities: ["cluster"], toPorts: [{ ports: [{ port: "15012", protocol: "TCP" }] }] }],
        ]);
        expect(podToPod(policies(plan), STRAY, ISTIOD_POD, 15012).allowed).toBe(true);
    });

    test("the stray pod reaches istiod's xDS and no other pod or port any allow policy opens", () => {
        const plan = stackOf(lab, stack);
        const targets = ingressTargets(policies(plan));
        expect(targets.length).toBeGreaterThan(10);
        const reached = targets
            .filter((t) => podToPod(policies(plan), STRAY, t.pod, t.port).allowed)
            .map((t) => `${t.policy}:${t.port}`);
        expect([...new Set(reached)]).toEqual(["istio-system/allow-istiod:15012"]);
    });
});

describe("egress outside the cluster", () => {
    test.each(STACKS)(
        "%s: only the lab's own endpoints (issuer, peer API server and east-west gateway), each on its port",
        (stack) => {
            const plan = stackOf(lab, stack);
            const all = resourcesOfType(plan, CNP).flatMap(
                (r) => ((r.inputs.spec as any).egress ?? []) as Record<string, any>[],
            );
            // No policy opens the world as a whole.
            expect(all.filter((r) => (r.toEntities ?? []).some((e: string) => e === "world" || e === "all"))).toEqual(
                [],
            );
            const cidrs = [
                ...new Set(
                    all.flatMap((r) =>
                        (r.toCIDR ?? []).map(
                            (c: string) =>
                                `${c}:${(r.toPorts ?? []).flatMap((t: any) => t.ports.map((p: any) => p.port)).join(",")}`,
                        ),
                    ),
                ),
            ].sort();
            const peer = rawConfig(PEER[stack]) as any;
            expect(cidrs).toEqual(
                [`10.5.0.2/32:9443`, `${peer.host.address}/32:6443`, `${peer.metallb.eastWestAddress}/32:15443`].sort(),
            );
        },
    );

    test("networkPolicy.egressCidrs opens exactly those CIDRs to every segmented namespace; a bad CIDR is refused naming the key", async () => {
        const opened = await planOf(labDirWith((_s, raw) => (raw.networkPolicy = { egressCidrs: ["192.0.2.0/24"] })));
        const plan = stackOf(opened, "comp2");
        const rules = resourcesOfType(plan, CNP).filter((r) => meta(r).name === "allow-egress-cidrs");
        expect(rules.map((r) => meta(r).namespace).sort()).toEqual([
            "istio-system",
            "metallb-system",
            "sample",
            "spire-server",
            "spire-system",
        ]);
        for (const r of rules)
            expect(r.inputs.spec).toEqual({
                description: "egress to zta-testbed:networkPolicy.egressCidrs",
                endpointSelector: { matchLabels: {} },
                egress: [{ toCIDR: ["192.0.2.0/24"] }],
            });

        const raw = { ...rawConfig("comp2"), networkPolicy: { egressCidrs: ["10.0.0.1/8"] } };
        expect(() => parseLabConfig("comp2", raw, new Set(["sshPrivateKey"]))).toThrow(ConfigError);
        expect(() => parseLabConfig("comp2", raw, new Set(["sshPrivateKey"]))).toThrow(
            /zta-testbed:networkPolicy\.egressCidrs\[0\] = "10\.0\.0\.1\/8": expected an IPv4 CIDR/,
        );
    });
});
