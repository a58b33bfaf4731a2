import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ClusterNetwork, CROSS_NETWORK_PORT, EAST_WEST_GATEWAY, MeshIdentity } from "../model/lab";
import { TypedCustomResource } from "./crd";
import { gatewayRelease } from "./gateway";
import { gatewaySelectorLabels } from "./gateway-labels";

// networking.istio.io/v1 Gateway spec, the fields we use, from the Istio CRD
// (crd-all.gen.yaml, Gateway v1: servers[].port requires number, protocol, name;
// servers[] requires port and hosts).
export type ServerTlsMode =
    "PASSTHROUGH" | "SIMPLE" | "MUTUAL" | "AUTO_PASSTHROUGH" | "ISTIO_MUTUAL" | "OPTIONAL_MUTUAL";

export interface GatewayPort {
    readonly number: number;
    readonly protocol: string;
    readonly name: string;
    readonly targetPort?: number;
}

export interface GatewayServer {
    readonly port: GatewayPort;
    readonly hosts: string[];
    readonly name?: string;
    readonly bind?: string;
    readonly tls?: {
        readonly mode?: ServerTlsMode;
        readonly credentialName?: string;
        readonly subjectAltNames?: string[];
    };
}

export interface GatewaySpec {
    /** Pod labels of the gateway workload that serves this Gateway. */
    readonly selector: Record<string, string>;
    readonly servers: GatewayServer[];
}

/**
 * istio's samples/multicluster/expose-services.yaml (1.30.3): on 15443 the
 * east-west gateway passes mTLS through by SNI to `*.local` services, so the
 * peer's sidecars reach this network's endpoints with end-to-end mTLS.
 */
export function crossNetworkGatewaySpec(gatewayName: string): GatewaySpec {
    return {
        selector: gatewaySelectorLabels(gatewayName),
        servers: [
            {
                port: { number: CROSS_NETWORK_PORT, name: "tls", protocol: "TLS" },
                tls: { mode: "AUTO_PASSTHROUGH" },
                hosts: ["*.local"],
            },
        ],
    };
}

export interface EastWestGatewayArgs {
    /** Istio chart version. */
    readonly version: string;
    /** istiod's `global.hub` (IstioPrimary.hub): the gateway's proxy image comes from there. */
    readonly hub: string;
    /** istio-system, from IstioPrimary (so the gateway comes after istiod's namespace). */
    readonly namespace: pulumi.Input<string>;
    /** This cluster's network: the chart's `networkGateway`. */
    readonly network: string;
    /** The fixed MetalLB address the peer's proxies dial. */
    readonly address: string;
    /** istiod: injects the gateway's proxy and owns the Gateway CRD. */
    readonly istiod: pulumi.Resource;
    readonly clusterNetwork?: ClusterNetwork;
    /** SPIRE: the gateway mounts its CSI socket. */
    readonly identity?: MeshIdentity;
}

/**
 * This cluster's network gateway (istio.io multi-network install: `helm install
 * istio-eastwestgateway istio/gateway --set name=istio-eastwestgateway --set
 * networkGateway=<network>`). With `networkGateway` the 1.30.3 chart itself
 * labels pods and Service with the network, sets ISTIO_META_REQUESTED_NETWORK_VIEW
 * and exposes 15021/15443/15012/15017 (networkGatewayPorts), so no value here
 * repeats that. The `cross-network-gateway` Gateway selects its pods. The chart
 * is a `helm.v3.Release` like every chart here (components/chart.ts).
 */
export class EastWestGateway extends pulumi.ComponentResource {
    public readonly release: k8s.helm.v3.Release;
    public readonly gateway: TypedCustomResource<GatewaySpec>;

    constructor(name: string, args: EastWestGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:mesh:EastWestGateway", name, {}, opts);

        this.release = gatewayRelease(
            `${name}-release`,
            {
                name: EAST_WEST_GATEWAY,
                version: args.version,
                hub: args.hub,
                namespace: args.namespace,
                address: args.address,
                values: { networkGateway: args.network },
            },
            // No data flows: istiod injects the proxy, MetalLB assigns the address, SPIRE serves the CSI socket.
            {
                parent: this,
                dependsOn: [args.istiod, ...(args.clusterNetwork?.loadBalancer ?? []), ...(args.identity?.ready ?? [])],
            },
        );

        this.gateway = new TypedCustomResource<GatewaySpec>(
            `${name}-cross-network`,
            {
                apiVersion: "networking.istio.io/v1",
                kind: "Gateway",
                metadata: { name: "cross-network-gateway", namespace: args.namespace },
                spec: crossNetworkGatewaySpec(EAST_WEST_GATEWAY),
            },
            // No data flows: the Gateway kind comes from `base`, which istiod follows, and istiod's webhook validates it.
            { parent: this, dependsOn: [args.istiod] },
        );

        this.registerOutputs({ release: this.release, gateway: this.gateway });
    }
}
