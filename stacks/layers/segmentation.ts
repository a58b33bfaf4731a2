// Micro-segmentation of one cluster (docs/zero-trust.md): every namespace a layer
// declares flows for goes under default deny, with exactly the flows of its
// workloads (each layer's module lists its own); components/segmentation.ts
// declares the policies.
import { Segmentation, SegmentedNamespace, WorkloadFlows } from "../../components/segmentation";
import { ClusterAccess, ClusterNetwork, MeshIdentity } from "../../model/lab";
import { LabConfig } from "../config/lab-config";
import { Observability } from "./addons";
import { LayerFlows } from "./flows";
import { IstioMesh } from "./mesh";
import { SampleWorkloads } from "./samples";
import { StackInput } from "./stack";
import { LabWorkloads } from "./workloads";

export interface SegmentationInput extends StackInput {
    readonly access: ClusterAccess;
    readonly network: ClusterNetwork & LayerFlows;
    readonly identity?: MeshIdentity & LayerFlows;
    readonly mesh: IstioMesh;
    readonly observability?: Observability;
    readonly samples?: SampleWorkloads;
    readonly workloads?: LabWorkloads;
}

/** Declares the segmentation of one cluster once its layers are declared. */
export function segmentation({
    cfg,
    access,
    network,
    identity,
    mesh,
    observability,
    samples,
    workloads,
}: SegmentationInput): Segmentation {
    return new Segmentation(
        `${cfg.stack}-segmentation`,
        {
            dependsOn: [
                network.cni,
                ...network.loadBalancer,
                ...(mesh.serviceMesh?.control ?? []),
                ...(identity?.ready ?? []),
                ...(samples ? [samples.samples] : []),
                ...(workloads?.namespaces ?? []),
            ],
            namespaces: segmentedNamespaces(cfg, [samples, mesh, observability, identity, network, workloads]),
        },
        { provider: access.provider },
    );
}

/**
 * The namespaces with workloads this program puts there, each under default
 * deny with its workloads' flows, in the order the layers are given (top first).
 * kube-system is left alone: it holds kubeadm's CoreDNS and Cilium itself (host
 * network), which this program does not run as workloads of its own.
 */
function segmentedNamespaces(cfg: LabConfig, layers: (LayerFlows | undefined)[]): SegmentedNamespace[] {
    const byName = new Map<string, WorkloadFlows[]>();
    for (const ns of layers.flatMap((layer) => layer?.flows ?? []))
        byName.set(ns.name, [...(byName.get(ns.name) ?? []), ...ns.flows]);
    /** Lab-wide: egress to the CIDRs networkPolicy.egressCidrs lists, for every pod of the namespace. */
    const egressCidrs = cfg.networkPolicy.egressCidrs;
    const configured: WorkloadFlows[] =
        egressCidrs.length > 0
            ? [
                  {
                      name: "allow-egress-cidrs",
                      description: "egress to zta-testbed:networkPolicy.egressCidrs",
                      selector: {},
                      ingress: [],
                      egress: [{ toCIDR: [...egressCidrs] }],
                  },
              ]
            : [];
    return [...byName].map(([name, flows]) => ({ name, flows: [...flows, ...configured] }));
}
