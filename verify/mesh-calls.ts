// The calls verify makes inside the mesh, and the one flow it must see dropped:
// the checks build their commands from these, the tests run them through the
// planned policies.
import { ISTIO_NAMESPACE, SAMPLE_APPS, SAMPLE_NAMESPACE } from "../model/lab";
import { ISTIOD } from "../model/workloads";

// The samples as the samples layer declares them: `app` labels, containers named after the app, Service ports.
const { helloworld, httpbin, sleep, curl } = SAMPLE_APPS;

/**
 * A call `verify` makes inside the mesh: from a sample pod (by its `app` label;
 * its container has the app's name and a curl binary) to a sample Service.
 * The checks build their commands from these, and test/verify-calls.test.ts
 * runs each one through the planned AuthorizationPolicies, so a check the
 * policies forbid fails in `npm test`.
 */
export interface MeshCall {
    /** The id of the check that makes the call. */
    readonly check: string;
    /** The calling pod's `app` label (and container name). */
    readonly from: string;
    readonly to: { readonly service: string; readonly port: number; readonly path: string };
}

export const MESH_CALLS = {
    crossCluster: {
        check: "cross-cluster-traffic",
        from: sleep.name,
        to: { service: helloworld.name, port: helloworld.port, path: "/hello" },
    },
    // curl, not sleep: the sample namespace is default-deny and httpbin admits only curl and the ingress gateway.
    clientIdentity: {
        check: "mtls-client-identity",
        from: curl.name,
        to: { service: httpbin.name, port: httpbin.port, path: "/headers" },
    },
    // Federated model only: the same call, answered by the peer cluster's httpbin.
    crossDomain: {
        check: "cross-domain-identity",
        from: curl.name,
        to: { service: httpbin.name, port: httpbin.port, path: "/headers" },
    },
} as const satisfies Record<string, MeshCall>;

/**
 * A flow the network policies must drop: a sample pod to istiod's monitoring
 * port, which only Prometheus and Kiali may reach. istiod has no sidecar, so
 * no AuthorizationPolicy covers it: only the CiliumNetworkPolicies can stop
 * this call. The allowed flow beside it is MESH_CALLS.crossCluster's.
 */
export const DENIED_FLOW = {
    check: "network-segmentation",
    from: sleep.name,
    to: { namespace: ISTIO_NAMESPACE, service: ISTIOD.service, port: ISTIOD.ports.monitoring, path: "/version" },
} as const;

export function meshCallUrl(call: MeshCall): string {
    return `http://${call.to.service}.${SAMPLE_NAMESPACE}:${call.to.port}${call.to.path}`;
}

/** The calling pod of a mesh call: its label selector and container. */
export function callerOf(call: { readonly from: string }): { selector: string; container: string } {
    return { selector: `app=${call.from}`, container: call.from };
}

export const SAMPLE = {
    curl: { selector: `app=${curl.name}` },
    helloworldUrl: meshCallUrl(MESH_CALLS.crossCluster),
    httpbinHeadersUrl: meshCallUrl(MESH_CALLS.clientIdentity),
    /** helloworld-v1 runs in cluster1, helloworld-v2 in cluster2. */
    versions: ["v1", "v2"],
} as const;
