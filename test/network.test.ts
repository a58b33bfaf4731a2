// The cluster network in the offline plan: is Cilium the pinned upstream chart
// with this cluster's identity and Istio's settings, and does MetalLB come after
// it with the stack's pool and an advertisement of exactly that pool?
import { apiEndpointOf } from "../components/cilium";
import { loadBalancerAnnotations } from "../components/metallb";
import { PlannedResource } from "../offline/engine/record";
import { LabPlan, StackPlan } from "../offline/planner/lab";
import { byoLabDir, findResource, labDirWith, planOf, rawConfig, resourcesOfType, stackOf } from "./helpers";

// The reference lab: both stacks on bare hosts (bring-your-own is covered below).
const lab = () => planOf();

const RELEASE = "kubernetes:helm.sh/v3:Release";
const POOL = "kubernetes:metallb.io/v1beta1:IPAddressPool";
const L2 = "kubernetes:metallb.io/v1beta1:L2Advertisement";
const STACKS = ["comp2", "comp3"];
const METALLB_NAMESPACE = "metallb-system";
/** The one IPAddressPool the lab declares, which gateways name in metallb.io/address-pool. */
const METALLB_POOL = "lab-pool";

let plan: LabPlan;
beforeAll(async () => {
    plan = await lab();
});

const cilium = (stack: string) => findResource(stackOf(plan, stack), RELEASE, `${stack}-cilium-release`);
const metallb = (stack: string) => findResource(stackOf(plan, stack), RELEASE, `${stack}-metallb-release`);
const pool = (stack: string) => findResource(stackOf(plan, stack), POOL, `${stack}-metallb-pool`);
const l2 = (stack: string) => findResource(stackOf(plan, stack), L2, `${stack}-metallb-l2`);
const values = (r: PlannedResource) => r.inputs.values as Record<string, any>;
const k8sProvider = (stack: string) =>
    findResource(stackOf(plan, stack), "pulumi:providers:kubernetes", `${stack}-k8s`).urn;

describe("each stack declares one CiliumRelease and one MetalLBPool", () => {
    test.each(STACKS)("%s", (stack) => {
        const s: StackPlan = stackOf(plan, stack);
        expect(resourcesOfType(s, "zta:network:CiliumRelease").map((r) => r.name)).toEqual([`${stack}-cilium`]);
        expect(resourcesOfType(s, "zta:network:MetalLBPool").map((r) => r.name)).toEqual([`${stack}-metallb`]);
    });
});

describe("Cilium", () => {
    test.each(STACKS)(
        "%s: the upstream chart from helm.cilium.io at versions.cilium, in kube-system, on the cluster's provider",
        (stack) => {
            const r = cilium(stack);
            expect(r.inputs).toMatchObject({
                chart: "cilium",
                name: "cilium",
                namespace: "kube-system",
                repositoryOpts: { repo: "https://helm.cilium.io" },
            });
            expect(r.inputs.version).toBe("1.20.0");
            expect(r.inputs.version).toBe((rawConfig(stack).versions as any).cilium);
            expect(r.provider).toBe(k8sProvider(stack));
        },
    );

    test("each cluster carries its own cluster.name and cluster.id (1 for comp2, 2 for comp3)", () => {
        expect(values(cilium("comp2")).cluster).toEqual({ name: "cluster1", id: 1 });
        expect(values(cilium("comp3")).cluster).toEqual({ name: "cluster2", id: 2 });
    });

    test.each(STACKS)(
        "%s: pod addresses come from the node's podCIDR (kubeadm's pod CIDR), one operator for one node",
        (stack) => {
            expect(values(cilium(stack)).ipam).toEqual({ mode: "kubernetes" });
            expect(values(cilium(stack)).operator).toEqual({ replicas: 1 });
        },
    );

    test.each(STACKS)(
        "%s: Istio's sidecars see Service traffic: socket LB in the host namespace only, CNI config not exclusive",
        (stack) => {
            const v = values(cilium(stack));
            expect(v.socketLB).toEqual({ hostNamespaceOnly: true });
            expect(v.cni).toEqual({ exclusive: false });
        },
    );

    test.each(STACKS)(
        "%s: MetalLB alone assigns LoadBalancer addresses and announces them (LB-IPAM off, BGP per config)",
        (stack) => {
            const v = values(cilium(stack));
            expect(v.enableLBIPAM).toBe(false);
            expect(v.bgpControlPlane).toEqual({ enabled: false });
            expect(v.l2announcements).toBeUndefined();
        },
    );

    test.each([
        ["comp2", "10.5.0.3"],
        ["comp3", "10.5.0.4"],
    ])(
        "%s: replaces kube-proxy by default and dials the API server on the host's management address",
        (stack, address) => {
            const v = values(cilium(stack));
            expect(v.kubeProxyReplacement).toBe(true);
            expect([v.k8sServiceHost, v.k8sServicePort]).toEqual([address, 6443]);
        },
    );

    test("with a cluster brought along, Cilium dials the API server named in the kubeconfig", async () => {
        const byo = await planOf(byoLabDir());
        const v = findResource(stackOf(byo, "comp2"), RELEASE, "comp2-cilium-release").inputs.values as Record<
            string,
            any
        >;
        // The plan's bring-your-own stand-in kubeconfig names https://byo-cluster.invalid:6443.
        expect([v.k8sServiceHost, v.k8sServicePort]).toEqual(["byo-cluster.invalid", 6443]);
    });

    test("cilium.kubeProxyReplacement and cilium.bgpControlPlane reach the chart", async () => {
        const dir = labDirWith((_stack, raw) => {
            delete raw.host;
            raw.cilium = { kubeProxyReplacement: false, bgpControlPlane: true };
        });
        const v = values(findResource(stackOf(await planOf(dir), "comp2"), RELEASE, "comp2-cilium-release"));
        expect(v.kubeProxyReplacement).toBe(false);
        expect(v.bgpControlPlane).toEqual({ enabled: true });
    });

    test("the API server endpoint of a kubeconfig URL: host and port, 443 when the URL has none", () => {
        expect(apiEndpointOf("https://10.5.0.3:6443")).toEqual({ host: "10.5.0.3", port: 6443 });
        expect(apiEndpointOf("https://api.lab.example")).toEqual({ host: "api.lab.example", port: 443 });
        expect(apiEndpointOf("https://[fd00::3]:6443")).toEqual({ host: "fd00::3", port: 6443 });
    });
});

describe("MetalLB", () => {
    test.each(STACKS)(
        "%s: the upstream chart from metallb.github.io at versions.metallb, with its CRDs, L2 only (neither BGP speaker: no FRR container, no frr-k8s, which 0.16 turns on by default)",
        (stack) => {
            const r = metallb(stack);
            expect(r.inputs).toMatchObject({
                chart: "metallb",
                namespace: METALLB_NAMESPACE,
                repositoryOpts: { repo: "https://metallb.github.io/metallb" },
            });
            expect(r.inputs.version).toBe("0.16.1");
            expect(values(r)).toEqual({
                crds: { enabled: true },
                speaker: { frr: { enabled: false } },
                frrk8s: { enabled: false },
            });
            expect(r.provider).toBe(k8sProvider(stack));
        },
    );

    test.each(STACKS)(
        "%s: metallb-system is labelled privileged for enforce, audit and warn (the speaker needs host networking)",
        (stack) => {
            const ns = findResource(stackOf(plan, stack), "kubernetes:core/v1:Namespace", `${stack}-metallb-ns`);
            expect(ns.inputs.metadata).toEqual({
                name: "metallb-system",
                labels: {
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/audit": "privileged",
                    "pod-security.kubernetes.io/warn": "privileged",
                },
            });
        },
    );

    test.each(STACKS)("%s: MetalLB is installed only after Cilium (its pods need the CNI)", (stack) => {
        expect(metallb(stack).dependsOn).toContain(cilium(stack).urn);
    });

    test.each([
        ["comp2", ["10.5.0.100-10.5.0.120"]],
        ["comp3", ["10.5.0.121-10.5.0.139"]],
    ])(
        "%s: the pool carries the stack's ranges, and the advertisement announces exactly that pool",
        (stack, ranges) => {
            const p = pool(stack);
            const a = l2(stack);
            expect(p.inputs).toMatchObject({
                apiVersion: "metallb.io/v1beta1",
                kind: "IPAddressPool",
                metadata: { name: METALLB_POOL, namespace: METALLB_NAMESPACE },
            });
            expect(p.inputs.spec).toEqual({ addresses: ranges });
            expect(a.inputs).toMatchObject({
                apiVersion: "metallb.io/v1beta1",
                kind: "L2Advertisement",
                metadata: { namespace: METALLB_NAMESPACE },
            });
            // An L2Advertisement without pools would announce every pool of the cluster.
            // (On the lab's two-NIC hosts it answers on the management NIC only: test/nics.test.ts.)
            expect(a.inputs.spec).toEqual({ ipAddressPools: [(p.inputs.metadata as any).name], interfaces: ["eno3"] });
            expect(a.dependsOn).toContain(p.urn);
        },
    );

    test.each(STACKS)(
        "%s: the pool and advertisement wait for the MetalLB release (its webhook validates them)",
        (stack) => {
            for (const r of [pool(stack), l2(stack)]) {
                expect(r.dependsOn).toContain(metallb(stack).urn);
                expect(r.provider).toBe(k8sProvider(stack));
            }
        },
    );

    test.each(STACKS)("%s: a gateway's annotations ask for its configured address from the declared pool", (stack) => {
        const address = (rawConfig(stack).metallb as any).eastWestAddress as string;
        const annotations = loadBalancerAnnotations(address, METALLB_POOL);
        expect(annotations).toEqual({
            "metallb.io/loadBalancerIPs": address,
            "metallb.io/address-pool": (pool(stack).inputs.metadata as any).name,
        });
    });

    test("a pool overlapping the peer's fails the plan with both ranges", async () => {
        const dir = labDirWith((stack, raw) => {
            delete raw.host;
            if (stack === "comp3")
                raw.metallb = {
                    ...raw.metallb,
                    addresses: ["10.5.0.110-10.5.0.139"],
                    ingressAddress: "10.5.0.130",
                    eastWestAddress: "10.5.0.131",
                    federationAddress: "10.5.0.132",
                };
        });
        // comp3 runs first (docs/design.md, "The run order"), so comp2 is the one that finds the overlap.
        await expect(planOf(dir)).rejects.toThrow(
            /"10\.5\.0\.100-10\.5\.0\.120" here overlaps "10\.5\.0\.110-10\.5\.0\.139" in peer stack "comp3"/,
        );
    });

    test("a backwards range stops the plan before anything is declared", async () => {
        const dir = labDirWith((stack, raw) => {
            delete raw.host;
            if (stack === "comp2") raw.metallb.addresses = ["10.5.0.120-10.5.0.100"];
        });
        await expect(planOf(dir)).rejects.toThrow(
            /zta-testbed:metallb\.addresses\[0\] = "10\.5\.0\.120-10\.5\.0\.100": expected an IPv4 range "first-last" with first <= last/,
        );
    });
});
