import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { TypedCustomResource } from "./crd";
import { IngressTls } from "../model/lab";
import { GatewaySpec, ingressServers, SPIRE_TEMPLATES_ANNOTATION, VirtualServiceSpec } from "./samples";

/** A workload that runs in this cluster: its pods, and its Service when it serves. */
export interface RunningWorkload {
    /** Its ServiceAccount, Deployment, Service and `app` label. */
    readonly name: string;
    readonly image: string;
    /** The port it serves HTTP on: its container port and its Service's. */
    readonly port?: number;
    readonly command?: readonly string[];
    /** Routed at the ingress Gateway under this path prefix (needs `port`). */
    readonly pathPrefix?: string;
}

/** The Service of a workload that runs in another cluster, for its callers here. */
export interface RemoteService {
    readonly name: string;
    readonly port: number;
}

export interface WorkloadNamespaceArgs {
    /** The namespace, labelled for sidecar injection. */
    readonly namespace: string;
    /** What the pods need first: istiod's injection webhook, the CNI, SPIRE and its ClusterSPIFFEIDs. No data flows from them. */
    readonly dependsOn: pulumi.Resource[];
    /** The workloads of the namespace that run in this cluster. */
    readonly running: readonly RunningWorkload[];
    /** The Services of the namespace's workloads that run elsewhere and are called from here. */
    readonly remote: readonly RemoteService[];
    /** Pod label that makes SPIRE issue a pod's identity (SPIRE_MANAGED_LABEL). */
    readonly spireLabel: string;
    /** The ingress Gateway the routes are bound to, `<namespace>/<name>`. */
    readonly gateway: string;
}

/**
 * One namespace of the lab's own workloads (`workloads`): the Namespace with
 * sidecar injection; for each workload that runs here its ServiceAccount, a
 * Deployment whose pods get their identity from SPIRE (Istio's `spire` injection
 * template and the SPIRE label, as the samples' httpbin and curl), its Service
 * when it serves, and its route on the ingress Gateway; and the Service of each
 * workload that runs in another cluster and is called from here: Istio resolves a
 * name only where its Service exists ("namespace sameness"), and takes the
 * endpoints from every cluster. The policies are the layers' (stacks/layers/workloads.ts).
 */
export class WorkloadNamespace extends pulumi.ComponentResource {
    /** The namespace's name, once it exists. */
    public readonly namespace: pulumi.Output<string>;

    constructor(name: string, args: WorkloadNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:workloads:WorkloadNamespace", name, {}, opts);
        const child = { parent: this };

        const namespace = new k8s.core.v1.Namespace(
            `${name}-ns`,
            { metadata: { name: args.namespace, labels: { "istio-injection": "enabled" } } },
            { ...child, dependsOn: args.dependsOn },
        );
        this.namespace = namespace.metadata.name;
        const ns = this.namespace;

        const service = (app: string, port: number) =>
            new k8s.core.v1.Service(
                `${name}-${app}`,
                {
                    metadata: { name: app, namespace: ns, labels: { app, service: app } },
                    // Port name "http": Istio's protocol selection by name.
                    spec: { selector: { app }, ports: [{ name: "http", port, targetPort: port }] },
                },
                child,
            );

        for (const w of args.running) {
            const labels = { app: w.name };
            const sa = new k8s.core.v1.ServiceAccount(
                `${name}-${w.name}-sa`,
                { metadata: { name: w.name, namespace: ns } },
                child,
            );
            new k8s.apps.v1.Deployment(
                `${name}-${w.name}`,
                {
                    metadata: { name: w.name, namespace: ns, labels },
                    spec: {
                        replicas: 1,
                        selector: { matchLabels: labels },
                        template: {
                            metadata: {
                                labels: { ...labels, [args.spireLabel]: "true" },
                                annotations: SPIRE_TEMPLATES_ANNOTATION,
                            },
                            spec: {
                                serviceAccountName: sa.metadata.name,
                                containers: [
                                    {
                                        name: w.name,
                                        image: w.image,
                                        imagePullPolicy: "IfNotPresent",
                                        command: w.command ? [...w.command] : undefined,
                                        ports: w.port ? [{ containerPort: w.port }] : undefined,
                                    },
                                ],
                            },
                        },
                    },
                },
                child,
            );
            if (w.port === undefined) continue;
            service(w.name, w.port);
            if (w.pathPrefix === undefined) continue;
            // Any host, this path: the ingress gateway's RequestAuthentication and its "token required"
            // AuthorizationPolicy apply to every route there (components/meshpolicies.ts).
            new TypedCustomResource<VirtualServiceSpec>(
                `${name}-${w.name}-ingress`,
                {
                    apiVersion: "networking.istio.io/v1",
                    kind: "VirtualService",
                    metadata: { name: `${w.name}-ingress`, namespace: ns },
                    spec: {
                        hosts: ["*"],
                        gateways: [args.gateway],
                        http: [
                            {
                                match: [{ uri: { prefix: w.pathPrefix } }],
                                route: [
                                    {
                                        destination: {
                                            host: `${w.name}.${args.namespace}.svc.cluster.local`,
                                            port: { number: w.port },
                                        },
                                    },
                                ],
                            },
                        ],
                    },
                },
                child,
            );
        }
        for (const remote of args.remote) service(remote.name, remote.port);

        this.registerOutputs({ namespace: this.namespace });
    }
}

export interface WorkloadGatewayArgs {
    /** Istio's CRDs and istiod (ServiceMesh.control): the Gateway waits for them. */
    readonly control: pulumi.Resource[];
    /** The ingress gateway's namespace, where its TLS credential is. */
    readonly namespace: string;
    /** Pod labels of the ingress gateway (ServiceMesh.ingressSelector). */
    readonly ingressSelector: Record<string, string>;
    /** The ingress gateway's TLS credential (ServiceMesh.ingressTls). */
    readonly ingressTls: IngressTls;
}

/**
 * The ingress Gateway for the workloads' routes when the samples, whose Gateway they
 * use otherwise, are off: the same servers (HTTPS on 443 with the lab's credential;
 * port 80 off or a redirect), in the gateway's namespace.
 */
export class WorkloadGateway extends pulumi.ComponentResource {
    /** The Gateway as a VirtualService names it: `<namespace>/<name>`. */
    public readonly gateway: string;

    constructor(name: string, args: WorkloadGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:workloads:WorkloadGateway", name, {}, opts);
        const gatewayName = "workloads-gateway";
        new TypedCustomResource<GatewaySpec>(
            `${name}-gateway`,
            {
                apiVersion: "networking.istio.io/v1",
                kind: "Gateway",
                metadata: { name: gatewayName, namespace: args.namespace },
                spec: { selector: args.ingressSelector, servers: ingressServers(args.ingressTls) },
            },
            { parent: this, dependsOn: [...args.control, args.ingressTls.credential] },
        );
        this.gateway = `${args.namespace}/${gatewayName}`;
        this.registerOutputs({ gateway: this.gateway });
    }
}
