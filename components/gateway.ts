// What the ingress and east-west gateways share: the upstream `gateway` chart as
// a release (its labels are mirrored in gateway-labels.ts), the SPIFFE CSI
// socket, and the fixed MetalLB address.
import * as pulumi from "@pulumi/pulumi";
import { METALLB_POOL, SPIFFE_CSI_DRIVER } from "../model/lab";
import { ChartRef, helmRelease } from "./chart";
import { loadBalancerAnnotations } from "./metallb";

export const ISTIO_CHARTS = "https://istio-release.storage.googleapis.com/charts";

export function istioChart(chart: "base" | "istiod" | "gateway", version: string): ChartRef {
    return { chart, repo: ISTIO_CHARTS, version };
}

/**
 * Where the proxy looks for the SPIRE Workload API socket. pilot-agent reads
 * `./var/run/secrets/workload-spiffe-uds/socket` (pkg/security/security.go at
 * 1.30.3); /var/run is a link to /run in the proxy image, and istio.io's SPIRE
 * task mounts at this path.
 */
export const WORKLOAD_SOCKET_DIR = "/run/secrets/workload-spiffe-uds";
/** The socket file: the spire chart's agent links `socket` to its real socket (socketAlternate.names). */
export const WORKLOAD_SOCKET = `${WORKLOAD_SOCKET_DIR}/socket`;
/** Volume name the injection templates give the socket; the chart's volume of that name replaces their emptyDir. */
export const WORKLOAD_SOCKET_VOLUME = "workload-socket";

/**
 * Gateway chart values that give the gateway its SPIRE identity: the CSI volume
 * under the name the injection template uses, the proxy's mount of it, and an
 * init container that holds the proxy back until the SPIRE agent's socket is
 * there (as istio.io's SPIRE task does). Since istio#56217 (1.27) the gateway
 * template's `workload-socket` is a null emptyDir, so this csi volume survives
 * injection (istio#46988: before, admission failed with "may not specify more
 * than 1 volume type").
 *
 * The gateways take the socket from these values, not from the `spire`
 * injection template: the chart's istio-proxy is always a regular container,
 * whereas the `spire` template follows the sidecar layout (see spireTemplate).
 * `waitImage` is Istio's own proxy image at the pinned version, from the hub istiod
 * runs and injects from (proxyImage), which has a shell; no extra image to pin.
 */
export function spiffeSocketValues(waitImage: string): Record<string, unknown> {
    return {
        volumes: [{ name: WORKLOAD_SOCKET_VOLUME, csi: { driver: SPIFFE_CSI_DRIVER, readOnly: true } }],
        volumeMounts: [{ name: WORKLOAD_SOCKET_VOLUME, mountPath: WORKLOAD_SOCKET_DIR, readOnly: true }],
        initContainers: [
            {
                name: "wait-for-spire-socket",
                image: waitImage,
                command: [
                    "sh",
                    "-c",
                    `until [ -S ${WORKLOAD_SOCKET} ]; do echo "waiting for ${WORKLOAD_SOCKET}"; sleep 2; done`,
                ],
                volumeMounts: [{ name: WORKLOAD_SOCKET_VOLUME, mountPath: WORKLOAD_SOCKET_DIR, readOnly: true }],
                securityContext: {
                    allowPrivilegeEscalation: false,
                    capabilities: { drop: ["ALL"] },
                    runAsNonRoot: true,
                    runAsUser: 1337,
                },
            },
        ],
    };
}

/**
 * Istio's image hub, set as istiod's `global.hub`: the published istiod chart's own
 * default at 1.30.3 (istiod-1.30.3.tgz, istiod/values.yaml `_internal_defaults_do_not_set.global.hub`).
 */
export const ISTIO_HUB = "registry.istio.io/release";

/** Istio's proxy image at a chart version from a hub: what istiod injects (`<global.hub>/proxyv2:<global.tag>`, the tag defaulting to the version). */
export function proxyImage(hub: string, version: string): string {
    return `${hub}/proxyv2:${version}`;
}

export interface GatewayReleaseArgs {
    /** Release and gateway name: the chart derives labels, Deployment, Service and ServiceAccount names from it. */
    readonly name: string;
    readonly version: string;
    /** istiod's `global.hub` (IstioPrimary.hub): the socket wait runs the proxy image from there. */
    readonly hub: string;
    readonly namespace: pulumi.Input<string>;
    /** The fixed MetalLB address of the gateway's LoadBalancer Service. */
    readonly address: string;
    /** Extra values (networkGateway, service ports...). */
    readonly values?: Record<string, unknown>;
}

/** The `gateway` chart as a LoadBalancer at a fixed address, on the SPIFFE socket. */
export function gatewayRelease(resourceName: string, args: GatewayReleaseArgs, opts: pulumi.CustomResourceOptions) {
    const { service, ...rest } = (args.values ?? {}) as { service?: Record<string, unknown> };
    return helmRelease(
        resourceName,
        {
            ref: istioChart("gateway", args.version),
            namespace: args.namespace,
            releaseName: args.name,
            values: {
                name: args.name,
                service: {
                    type: "LoadBalancer",
                    annotations: loadBalancerAnnotations(args.address, METALLB_POOL),
                    // Cluster, not Local: with Cilium's kube-proxy replacement, Local on an L2
                    // MetalLB address drops traffic arriving at a node without a gateway pod (cilium#31333).
                    externalTrafficPolicy: "Cluster",
                    ...service,
                },
                ...spiffeSocketValues(proxyImage(args.hub, args.version)),
                ...rest,
            },
        },
        opts,
    );
}
