import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ChartRef, helmRelease } from "./chart";
import { TypedCustomResource } from "./crd";

export const METALLB_REPO = "https://metallb.github.io/metallb";
export const METALLB_CHART = "metallb";

type LabelSelector = k8s.types.input.meta.v1.LabelSelector;

// Spec types written from the metallb.io/v1beta1 CRDs of chart 0.14.9 (unchanged in 0.16.1)
// (charts/crds/templates/crds.yaml: ipaddresspools.metallb.io, l2advertisements.metallb.io).

/** `IPAddressPool.spec` (metallb.io/v1beta1). */
export interface IPAddressPoolSpec {
    /** Required. Each entry a CIDR or an explicit "first-last" range. */
    readonly addresses: string[];
    /** Default true; false keeps the pool for Services that ask for it. */
    readonly autoAssign?: boolean;
    /** Default false; true skips addresses ending in .0 and .255. */
    readonly avoidBuggyIPs?: boolean;
    readonly serviceAllocation?: {
        readonly priority?: number;
        readonly namespaces?: string[];
        readonly namespaceSelectors?: LabelSelector[];
        readonly serviceSelectors?: LabelSelector[];
    };
}

/** `L2Advertisement.spec` (metallb.io/v1beta1). With no pool named or selected, it advertises every pool. */
export interface L2AdvertisementSpec {
    /** Pools to advertise, by name. */
    readonly ipAddressPools?: string[];
    readonly ipAddressPoolSelectors?: LabelSelector[];
    /** Interfaces to announce from; all when unset. */
    readonly interfaces?: string[];
    readonly nodeSelectors?: LabelSelector[];
}

/**
 * Annotations that make MetalLB 0.14.9 give a Service this fixed address from
 * this pool. `metallb.io/` is the prefix since 0.14.9 (`metallb.universe.tf/` is
 * deprecated but still read; when both are set the `metallb.io/` one wins,
 * controller/service.go `valueForAnnotation`). MetalLB refuses an address that
 * is not in the named pool. For Istio's gateway chart: `service.annotations`.
 */
export function loadBalancerAnnotations(ip: string, pool: string): Record<string, string> {
    return { "metallb.io/loadBalancerIPs": ip, "metallb.io/address-pool": pool };
}

export interface MetalLBPoolArgs {
    /** Chart version, pinned (`versions.metallb`); 0.14.9 or later for the `metallb.io/` annotations. */
    readonly version: string;
    /** The namespace to create and install into; MetalLB's configuration objects must live there too. */
    readonly namespace: string;
    /** IPAddressPool name: what Services name in `metallb.io/address-pool`. */
    readonly poolName: string;
    /** The pool's ranges ("first-last" or CIDRs), validated by stacks/config/values.ts. */
    readonly addresses: string[];
    /** The CNI release: MetalLB's controller and speaker are pods and need it running. */
    readonly cni: pulumi.Resource;
    /**
     * NICs to answer ARP on for the pool's addresses (validated Linux names). On a
     * host with two NICs, MetalLB otherwise answers on both, and a neighbour on the
     * other network learns a MAC address its traffic cannot reach. Empty: every NIC.
     */
    readonly interfaces?: string[];
}

/**
 * MetalLB in L2 mode: its namespace (privileged pod security, the speaker needs
 * host networking and NET_RAW), the upstream chart at a pinned version, then one
 * IPAddressPool and an L2Advertisement of exactly that pool. The chart is a
 * `helm.v3.Release` (components/chart.ts): its CRDs come from a sub-chart and
 * its webhook must be serving before the pool is created, which a release that
 * waits for readiness gives, and client-side rendering would not.
 */
export class MetalLBPool extends pulumi.ComponentResource {
    public readonly release: k8s.helm.v3.Release;
    public readonly pool: TypedCustomResource<IPAddressPoolSpec>;
    public readonly advertisement: TypedCustomResource<L2AdvertisementSpec>;
    /** The IPAddressPool's name. */
    public readonly poolName: pulumi.Output<string>;
    /** The pool's ranges. */
    public readonly addresses: pulumi.Output<string[]>;

    constructor(name: string, args: MetalLBPoolArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:network:MetalLBPool", name, {}, opts);
        const child = { parent: this };

        // https://metallb.universe.tf/installation/ (Helm): "the namespace MetalLB is deployed to
        // must be labelled" with the privileged level for enforce, audit and warn.
        const privileged = Object.fromEntries(
            ["enforce", "audit", "warn"].map((mode) => [`pod-security.kubernetes.io/${mode}`, "privileged"]),
        );
        const namespace = new k8s.core.v1.Namespace(
            `${name}-ns`,
            { metadata: { name: args.namespace, labels: privileged } },
            child,
        );

        const ref: ChartRef = { chart: METALLB_CHART, repo: METALLB_REPO, version: args.version };
        this.release = helmRelease(
            `${name}-release`,
            {
                ref,
                namespace: namespace.metadata.name,
                values: {
                    // The CRDs come from the chart's `crds` sub-chart (on by default; said here because the pool needs them).
                    crds: { enabled: true },
                    // L2 mode needs no BGP speaker. MetalLB has two: the FRR container in the speaker pod
                    // (`speaker.frr`, on by default in 0.14.9, deprecated and off in 0.16.1) and the frr-k8s
                    // sub-chart with its own DaemonSet and CRDs (`frrk8s`, off in 0.14.9, on by default in
                    // 0.16.1). Both off, at either version; the chart refuses to render with both on.
                    speaker: { frr: { enabled: false } },
                    frrk8s: { enabled: false },
                },
            },
            // No data flows from the CNI to MetalLB, but its pods cannot start without it.
            { ...child, dependsOn: [args.cni] },
        );

        // The pool and advertisement pass MetalLB's validating webhook (failurePolicy Fail), which only
        // answers once the controller runs: the release waits for readiness (skipAwait false), so these
        // depend on it. No data flows from the release to them, hence dependsOn.
        const afterRelease = { ...child, dependsOn: [this.release] };
        this.pool = new TypedCustomResource<IPAddressPoolSpec>(
            `${name}-pool`,
            {
                apiVersion: "metallb.io/v1beta1",
                kind: "IPAddressPool",
                metadata: { name: args.poolName, namespace: namespace.metadata.name },
                spec: { addresses: args.addresses },
            },
            afterRelease,
        );
        this.poolName = this.pool.metadata.name;
        this.addresses = pulumi.output(args.addresses);

        this.advertisement = new TypedCustomResource<L2AdvertisementSpec>(
            `${name}-l2`,
            {
                apiVersion: "metallb.io/v1beta1",
                kind: "L2Advertisement",
                metadata: { name: args.poolName, namespace: namespace.metadata.name },
                // Bound to this pool by name: an advertisement without pools would announce every pool.
                spec: this.poolName.apply((pool): L2AdvertisementSpec => ({
                    ipAddressPools: [pool],
                    ...(args.interfaces && args.interfaces.length > 0 ? { interfaces: args.interfaces } : {}),
                })),
            },
            afterRelease,
        );

        this.registerOutputs({
            release: this.release,
            pool: this.pool,
            advertisement: this.advertisement,
            poolName: this.poolName,
            addresses: this.addresses,
        });
    }
}
