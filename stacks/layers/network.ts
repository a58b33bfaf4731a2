// The cluster network (docs/networking.md): Cilium, then MetalLB with this stack's
// pool, and the flows of MetalLB's pods.
import * as pulumi from "@pulumi/pulumi";
import { apiEndpointOf, CiliumRelease } from "../../components/cilium";
import { MetalLBPool } from "../../components/metallb";
import { ClusterAccess, ClusterNetwork, METALLB_NAMESPACE, METALLB_POOL } from "../../model/lab";
import { METALLB_CONTROLLER } from "../../model/workloads";
import { API_SERVER, dns, LayerFlows, tcp } from "./flows";
import { StackInput } from "./stack";

export interface NetworkInput extends StackInput {
    readonly access: ClusterAccess;
}

/** Cilium, then MetalLB with this stack's pool: what pods and LoadBalancer Services wait for. */
export function clusterNetwork({ cfg, access }: NetworkInput): ClusterNetwork & LayerFlows {
    // Cilium dials the API server directly: on a host, kubeadm's on the management address and
    // its default port; when bringing your own, the kubeconfig's server (its URL is not secret).
    const apiServer = cfg.host
        ? { host: cfg.host.address, port: 6443 }
        : pulumi.unsecret(access.apiServer).apply(apiEndpointOf);
    const cilium = new CiliumRelease(
        `${cfg.stack}-cilium`,
        {
            version: cfg.versions.cilium,
            clusterName: cfg.cluster.name,
            clusterId: cfg.cluster.id,
            kubeProxyReplacement: cfg.cilium.kubeProxyReplacement,
            bgpControlPlane: cfg.cilium.bgpControlPlane,
            apiServer,
            devices: cfg.cilium.devices,
        },
        { provider: access.provider },
    );
    const metallb = new MetalLBPool(
        `${cfg.stack}-metallb`,
        {
            version: cfg.versions.metallb,
            namespace: METALLB_NAMESPACE,
            poolName: METALLB_POOL,
            addresses: cfg.metallb.addresses,
            cni: cilium.release,
            interfaces: cfg.metallb.interfaces,
        },
        { provider: access.provider },
    );
    return {
        cni: cilium.release,
        loadBalancer: [metallb.release, metallb.pool, metallb.advertisement],
        flows: metallbFlows(),
    };
}

function metallbFlows(): LayerFlows["flows"] {
    return [
        {
            name: METALLB_NAMESPACE,
            flows: [
                {
                    name: "allow-api-server",
                    description: "every pod: DNS and the API server",
                    selector: {},
                    ingress: [],
                    egress: [dns(), API_SERVER],
                },
                {
                    name: "allow-controller-webhook",
                    description: "MetalLB controller: its validating webhook, called by the API server",
                    selector: METALLB_CONTROLLER.labels,
                    ingress: [{ fromEntities: ["kube-apiserver"], toPorts: tcp(METALLB_CONTROLLER.ports.webhook) }],
                    egress: [],
                },
            ],
        },
    ];
}
