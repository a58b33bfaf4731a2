// The sample workloads (docs/addons.md): helloworld, sleep, httpbin and curl on the
// mesh, and their flows.
import { gatewaySelectorLabels } from "../../components/gateway-labels";
import { HTTPBIN_TARGET_PORT, Samples, sampleImages } from "../../components/samples";
import {
    ClusterAccess,
    ClusterNetwork,
    EAST_WEST_GATEWAY,
    INGRESS_GATEWAY,
    ISTIO_NAMESPACE,
    MeshIdentity,
    SAMPLE_APPS,
    SAMPLE_NAMESPACE,
    ServiceMesh,
    SPIRE_MANAGED_LABEL,
} from "../../model/lab";
import { inNamespace, LayerFlows, meshed, peerEastWest, tcp } from "./flows";
import { StackInput } from "./stack";

export interface SamplesInput extends StackInput {
    readonly access: ClusterAccess;
    readonly network?: ClusterNetwork;
    readonly identity?: MeshIdentity;
    readonly mesh: ServiceMesh;
}

export interface SampleWorkloads extends LayerFlows {
    readonly samples: Samples;
}

/** The samples, when `samples.enabled`: on the mesh, with SPIRE identities for httpbin and curl. */
export function sampleWorkloads({
    cfg,
    peers,
    access,
    network,
    identity,
    mesh,
}: SamplesInput): SampleWorkloads | undefined {
    if (!cfg.samples.enabled) return undefined;
    const samples = new Samples(
        `${cfg.stack}-samples`,
        {
            namespace: SAMPLE_NAMESPACE,
            // Pods need the CNI and istiod's injection webhook with the `spire` template when they
            // are created, and the SPIRE-managed ones the CSI driver and their ClusterSPIFFEID.
            dependsOn: [...mesh.control, ...(network ? [network.cni] : []), ...(identity?.ready ?? [])],
            helloworldVersion: cfg.samples.helloworldVersion,
            images: sampleImages(
                cfg.samples.imagesFromRegistry ? `${cfg.registry.host}:${cfg.registry.port}` : undefined,
            ),
            spireLabel: SPIRE_MANAGED_LABEL,
            ingressSelector: mesh.ingressSelector,
            // The gateway chart names the gateway's service account after the release.
            ingressServiceAccount: { namespace: ISTIO_NAMESPACE, serviceAccount: INGRESS_GATEWAY },
            ingressTls: mesh.ingressTls,
        },
        { provider: access.provider },
    );
    const { helloworld, httpbin, sleep, curl } = SAMPLE_APPS;
    const eastWest = inNamespace(ISTIO_NAMESPACE, gatewaySelectorLabels(EAST_WEST_GATEWAY));
    const ingress = inNamespace(ISTIO_NAMESPACE, gatewaySelectorLabels(INGRESS_GATEWAY));
    const flows = [
        meshed(cfg, {
            name: `allow-${helloworld.name}`,
            description: "helloworld: called by sleep, and across networks through the east-west gateway",
            selector: { app: helloworld.name },
            ingress: [
                { fromEndpoints: [{ matchLabels: { app: sleep.name } }, eastWest], toPorts: tcp(helloworld.port) },
            ],
            egress: [],
        }),
        meshed(cfg, {
            name: `allow-${httpbin.name}`,
            description: "httpbin: called by curl, the ingress gateway, and across networks",
            selector: { app: httpbin.name },
            ingress: [
                {
                    fromEndpoints: [{ matchLabels: { app: curl.name } }, ingress, eastWest],
                    toPorts: tcp(HTTPBIN_TARGET_PORT),
                },
            ],
            egress: [],
        }),
        meshed(cfg, {
            name: `allow-${sleep.name}`,
            description: "sleep: calls helloworld here and in the peer clusters (through their east-west gateways)",
            selector: { app: sleep.name },
            ingress: [],
            egress: [
                { toEndpoints: [{ matchLabels: { app: helloworld.name } }], toPorts: tcp(helloworld.port) },
                ...peerEastWest(peers),
            ],
        }),
        meshed(cfg, {
            name: `allow-${curl.name}`,
            description: "curl: calls httpbin here and in the peer clusters",
            selector: { app: curl.name },
            ingress: [],
            egress: [
                { toEndpoints: [{ matchLabels: { app: httpbin.name } }], toPorts: tcp(HTTPBIN_TARGET_PORT) },
                ...peerEastWest(peers),
            ],
        }),
    ];
    return { samples, flows: [{ name: SAMPLE_NAMESPACE, flows }] };
}
