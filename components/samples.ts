import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { TypedCustomResource } from "./crd";
import { IngressTls, SAMPLE_APPS } from "../model/lab";
import { Caller, DefaultDenyNamespace, ServiceAccountRef } from "./meshpolicies";

/**
 * The images Istio's samples use at 1.30.3 (samples/helloworld, sleep, curl, httpbin).
 * curl is pinned by the digest of its multi-platform index as eight unrelated public
 * repositories pin 8.16.0 (read 2026-12-07); a digest is the content's own hash, so a
 * wrong one makes the pull fail, it can never bring other content. helloworld and
 * httpbin stay by tag: none of them is a Docker official image (whose digests
 * docker-library/repo-info records), and no public source lists their digests. Pin
 * them by mirroring them into the lab registry (`samples.imagesFromRegistry`), whose
 * pushes need the push account.
 */
export const UPSTREAM_IMAGES = {
    helloworldV1: "registry.istio.io/release/examples-helloworld-v1:1.0",
    helloworldV2: "registry.istio.io/release/examples-helloworld-v2:1.0",
    curl: "docker.io/curlimages/curl:8.16.0@sha256:463eaf6072688fe96ac64fa623fe73e1dbe25d8ad6c34404a669ad3ce1f104b6",
    httpbin: "docker.io/mccutchen/go-httpbin:v2.15.0",
} as const;

export type SampleImages = { readonly [K in keyof typeof UPSTREAM_IMAGES]: string };

/**
 * An upstream image moved to `registry` (`host:port`): the upstream registry
 * host is replaced, the repository path and tag are kept, so a mirror made with
 * `crane copy <upstream> <registry>/<path>:<tag>` serves it.
 */
export function imageFrom(upstream: string, registry: string): string {
    const [first, ...rest] = upstream.split("/");
    // A first segment with a dot or a colon is a registry host (Docker's rule), anything else a Docker Hub path.
    const path = rest.length > 0 && /[.:]/.test(first) ? rest.join("/") : upstream;
    return `${registry}/${path}`;
}

/** The sample images: upstream, or all from one registry. */
export function sampleImages(registry?: string): SampleImages {
    const images = { ...UPSTREAM_IMAGES } as Record<keyof SampleImages, string>;
    if (registry)
        for (const key of Object.keys(images) as (keyof SampleImages)[]) images[key] = imageFrom(images[key], registry);
    return images;
}

// Istio networking.istio.io/v1 specs (Istio 1.24 crd-all.gen.yaml), only the fields set here.
export interface GatewaySpec {
    readonly selector: Record<string, string>;
    readonly servers: GatewayServer[];
}

export interface GatewayServer {
    readonly port: { readonly number: number; readonly name: string; readonly protocol: string };
    readonly hosts: string[];
    readonly tls?: { readonly mode?: "SIMPLE"; readonly credentialName?: string; readonly httpsRedirect?: boolean };
}

export interface VirtualServiceSpec {
    readonly hosts: string[];
    readonly gateways?: string[];
    readonly http: {
        /** Any of them matches; none: every request. */
        readonly match?: { readonly uri: { readonly prefix: string } }[];
        readonly route: {
            readonly destination: { readonly host: string; readonly port?: { readonly number: number } };
        }[];
    }[];
}

export interface SamplesArgs {
    /** The sample namespace, labelled for sidecar injection. */
    readonly namespace: string;
    /** What the pods need first: istiod's injection webhook (or pods start without sidecars), the CNI. No data flows from them. */
    readonly dependsOn: pulumi.Resource[];
    /** The helloworld Deployment this cluster runs behind the shared `helloworld` Service. */
    readonly helloworldVersion: "v1" | "v2";
    readonly images: SampleImages;
    /** Pod label that makes SPIRE issue a pod's identity (SPIRE_MANAGED_LABEL). */
    readonly spireLabel: string;
    /** Pod labels of the ingress gateway (ServiceMesh.ingressSelector): httpbin is published on it. */
    readonly ingressSelector: Record<string, string>;
    /** The ingress gateway's service account: the only caller of httpbin from outside the namespace. */
    readonly ingressServiceAccount: ServiceAccountRef;
    /** The ingress gateway's TLS credential (ServiceMesh.ingressTls): httpbin is served over HTTPS with it. */
    readonly ingressTls: IngressTls;
}

const { helloworld, httpbin, sleep, curl } = SAMPLE_APPS;
/** httpbin's container port (go-httpbin listens on 8080): its Service's targetPort, and what the network policies open. */
export const HTTPBIN_TARGET_PORT = 8080;
const GATEWAY_NAME = "httpbin-gateway";
/**
 * The ingress Gateway's servers: HTTPS on 443, TLS terminated at the gateway
 * (SIMPLE) with the credential chaining to the lab root, so bearer tokens
 * never cross the lab network in clear. Port 80 has no server unless
 * `ingress.plainHttp` is "redirect", and then it only answers 301 to https.
 */
export function ingressServers(ingressTls: IngressTls): GatewayServer[] {
    const https: GatewayServer = {
        port: { number: 443, name: "https", protocol: "HTTPS" },
        hosts: ["*"],
        tls: { mode: "SIMPLE", credentialName: ingressTls.credentialName },
    };
    if (ingressTls.plainHttp === "off") return [https];
    return [
        { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"], tls: { httpsRedirect: true } },
        https,
    ];
}

/** Pod annotation that adds Istio's `spire` injection template to the default sidecar. */
export const SPIRE_TEMPLATES_ANNOTATION = { "inject.istio.io/templates": "sidecar,spire" };

/**
 * The lab guide's sample workloads, as our own typed objects (not a chart):
 * - `helloworld` v1 or v2 (one per cluster) behind one Service `helloworld:5000`,
 *   so a `sleep` pod in either cluster reaches both versions across the mesh;
 * - `sleep`, a client with Istio's default identity;
 * - `httpbin` and its client `curl`, both with SPIRE identities (Istio's
 *   `spire` injection template and the SPIRE label);
 * - httpbin published on the ingress gateway, where MeshPolicies requires a
 *   JWT from the lab issuer.
 *
 * `traffic` lists who calls whom, for a default-deny namespace in MeshPolicies.
 */
export class Samples extends pulumi.ComponentResource {
    /** The namespace's name, once it exists. */
    public readonly namespace: pulumi.Output<string>;
    /** The namespace with the only calls its workloads expect. */
    public readonly traffic: DefaultDenyNamespace;
    /** The ingress Gateway httpbin is routed on, as a VirtualService elsewhere names it: `<namespace>/<name>`. */
    public readonly gateway: string;

    constructor(name: string, args: SamplesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:samples:Samples", name, {}, opts);
        const child = { parent: this };

        const namespace = new k8s.core.v1.Namespace(
            `${name}-ns`,
            { metadata: { name: args.namespace, labels: { "istio-injection": "enabled" } } },
            { ...child, dependsOn: args.dependsOn },
        );
        this.namespace = namespace.metadata.name;
        const ns = this.namespace;

        const app = (
            app: string,
            opts: { version?: string; image: string; port?: number; command?: string[]; spire?: boolean },
        ): k8s.apps.v1.Deployment => {
            const suffix = opts.version ? `${app}-${opts.version}` : app;
            const sa = new k8s.core.v1.ServiceAccount(
                `${name}-${app}-sa`,
                { metadata: { name: app, namespace: ns } },
                child,
            );
            const labels = { app, ...(opts.version && { version: opts.version }) };
            return new k8s.apps.v1.Deployment(
                `${name}-${suffix}`,
                {
                    metadata: { name: suffix, namespace: ns, labels },
                    spec: {
                        replicas: 1,
                        selector: { matchLabels: labels },
                        template: {
                            metadata: {
                                labels: { ...labels, ...(opts.spire && { [args.spireLabel]: "true" }) },
                                annotations: opts.spire ? SPIRE_TEMPLATES_ANNOTATION : undefined,
                            },
                            spec: {
                                serviceAccountName: sa.metadata.name,
                                containers: [
                                    {
                                        name: app,
                                        image: opts.image,
                                        imagePullPolicy: "IfNotPresent",
                                        command: opts.command,
                                        ports: opts.port ? [{ containerPort: opts.port }] : undefined,
                                    },
                                ],
                            },
                        },
                    },
                },
                child,
            );
        };
        const service = (app: string, port: number, targetPort: number) =>
            new k8s.core.v1.Service(
                `${name}-${app}`,
                {
                    metadata: { name: app, namespace: ns, labels: { app, service: app } },
                    // Port name "http": Istio's protocol selection by name.
                    spec: { selector: { app }, ports: [{ name: "http", port, targetPort }] },
                },
                child,
            );
        const sleepForever = ["/bin/sleep", "infinity"];

        const helloworldImage = args.helloworldVersion === "v1" ? args.images.helloworldV1 : args.images.helloworldV2;
        service(helloworld.name, helloworld.port, helloworld.port);
        app(helloworld.name, { version: args.helloworldVersion, image: helloworldImage, port: helloworld.port });
        app(sleep.name, { image: args.images.curl, command: sleepForever });
        service(httpbin.name, httpbin.port, HTTPBIN_TARGET_PORT);
        app(httpbin.name, { image: args.images.httpbin, port: HTTPBIN_TARGET_PORT, spire: true });
        app(curl.name, { image: args.images.curl, command: sleepForever, spire: true });

        this.gateway = `${args.namespace}/${GATEWAY_NAME}`;
        // httpbin on the ingress gateway, any host: the path to show JWT enforcement end to end.
        new TypedCustomResource<GatewaySpec>(
            `${name}-httpbin-gateway`,
            {
                apiVersion: "networking.istio.io/v1",
                kind: "Gateway",
                metadata: { name: GATEWAY_NAME, namespace: ns },
                spec: { selector: args.ingressSelector, servers: ingressServers(args.ingressTls) },
            },
            { ...child, dependsOn: [args.ingressTls.credential] },
        );
        new TypedCustomResource<VirtualServiceSpec>(
            `${name}-httpbin-ingress`,
            {
                apiVersion: "networking.istio.io/v1",
                kind: "VirtualService",
                metadata: { name: "httpbin-ingress", namespace: ns },
                spec: {
                    hosts: ["*"],
                    gateways: [GATEWAY_NAME],
                    http: [
                        {
                            route: [
                                {
                                    destination: {
                                        host: `${httpbin.name}.${args.namespace}.svc.cluster.local`,
                                        port: { number: httpbin.port },
                                    },
                                },
                            ],
                        },
                    ],
                },
            },
            child,
        );

        // sleep and curl call helloworld and httpbin in every cluster (the samples' Service accounts are
        // named after their apps); the ingress gateway calls only its own cluster's httpbin.
        const peersToo = (serviceAccount: string): Caller => ({
            namespace: args.namespace,
            serviceAccount,
            fromPeers: true,
        });
        this.traffic = {
            name: args.namespace,
            namespace: ns,
            allows: [
                {
                    name: `${helloworld.name}-callers`,
                    workload: { app: helloworld.name },
                    callers: [peersToo(sleep.name)],
                },
                {
                    name: `${httpbin.name}-callers`,
                    workload: { app: httpbin.name },
                    callers: [peersToo(curl.name), args.ingressServiceAccount],
                },
            ],
            meshServices: [
                { service: helloworld.name, serviceAccount: helloworld.name },
                { service: httpbin.name, serviceAccount: httpbin.name },
            ],
        };

        this.registerOutputs({ namespace: this.namespace });
    }
}
