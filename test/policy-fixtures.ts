// A compliant stack for the policy tests, in the shapes the components
// declare: each test mutates one resource and expects one message.
import { DEFAULT_OPTIONS, PlannedResource, SECRET } from "../offline/engine/record";
import { checkResources, ConfigFile, Violation } from "../offline/simulate/policy-plan";

const STACK = "urn:pulumi:comp2::zta-testbed::";

export function urnOf(type: string, name: string): string {
    return `${STACK}${type}::${name}`;
}

export function resource(
    type: string,
    name: string,
    inputs: Record<string, unknown>,
    extra: Partial<PlannedResource> = {},
): PlannedResource {
    return {
        ...DEFAULT_OPTIONS,
        type,
        name,
        urn: urnOf(type, name),
        parent: null,
        dependsOn: [],
        provider: null,
        custom: true,
        inputs,
        ...extra,
    };
}

const release = (name: string, chart: string, values: Record<string, unknown>, namespace = "istio-system") =>
    resource("kubernetes:helm.sh/v3:Release", name, {
        name,
        chart,
        version: "1.27.3",
        repositoryOpts: { repo: "https://istio-release.storage.googleapis.com/charts" },
        namespace,
        values,
    });

const istio = (kind: string, name: string, namespace: string, spec: Record<string, unknown>) =>
    resource(`kubernetes:security.istio.io/v1:${kind}`, `${namespace}-${name}`, {
        apiVersion: "security.istio.io/v1",
        kind,
        metadata: { name, namespace },
        spec,
    });

export const INGRESS_LABELS = { istio: "ingressgateway", app: "istio-ingressgateway" };
export const LAB_REGISTRY = "10.5.0.2:8443";

/** Everything the policies look at, each as it should be. */
export function compliantStack(): PlannedResource[] {
    const rootKey = resource(
        "tls:index/privateKey:PrivateKey",
        "comp2-pki-root-key",
        { algorithm: "RSA", rsaBits: 4096 },
        { protect: true },
    );
    const rootCert = resource(
        "tls:index/selfSignedCert:SelfSignedCert",
        "comp2-pki-root-cert",
        { isCaCertificate: true, privateKeyPem: SECRET },
        { protect: true, dependsOn: [rootKey.urn] },
    );
    return [
        rootKey,
        rootCert,
        release("istiod", "istiod", {
            global: { hub: "docker.io/istio" },
            meshConfig: { trustDomain: "zta.lab" },
            pilot: { image: "pilot" },
        }),
        release(
            "spire",
            "spire",
            {
                global: { spire: { trustDomain: "zta.lab", image: { registry: "ghcr.io" } } },
                "spire-server": { image: { registry: "ghcr.io", repository: "spiffe/spire-server" } },
            },
            "spire-server",
        ),
        release("istio-ingressgateway", "gateway", { name: "istio-ingressgateway" }),
        release("istio-eastwestgateway", "gateway", { name: "istio-eastwestgateway", networkGateway: "network1" }),
        release(
            "cilium",
            "cilium",
            { image: { repository: "quay.io/cilium/cilium", useDigest: false } },
            "kube-system",
        ),
        istio("PeerAuthentication", "default", "istio-system", { mtls: { mode: "STRICT" } }),
        istio("RequestAuthentication", "ingress-jwt", "istio-system", {
            selector: { matchLabels: INGRESS_LABELS },
            jwtRules: [
                {
                    issuer: "https://10.5.0.2:8443/realms/zta",
                    jwksUri: "https://10.5.0.2:8443/realms/zta/protocol/openid-connect/certs",
                },
            ],
        }),
        istio("AuthorizationPolicy", "ingress-require-jwt", "istio-system", {
            selector: { matchLabels: INGRESS_LABELS },
            action: "ALLOW",
            rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }],
        }),
        resource("kubernetes:spire.spiffe.io/v1alpha1:ClusterSPIFFEID", "comp2-gateways", {
            apiVersion: "spire.spiffe.io/v1alpha1",
            kind: "ClusterSPIFFEID",
            metadata: { name: "istio-gateways" },
            spec: {
                className: "spire-server-spire",
                spiffeIDTemplate:
                    "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}",
            },
        }),
        resource("kubernetes:core/v1:Secret", "comp2-cacerts", {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "cacerts", namespace: "istio-system" },
            data: SECRET,
        }),
        resource("kubernetes:core/v1:Secret", "comp2-remote", {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "istio-remote-secret-cluster2", namespace: "istio-system" },
            stringData: { cluster2: SECRET },
        }),
        resource("command:remote:Command", "comp2-kubeadm-init", {
            connection: { host: "10.5.0.3", user: "ubuntu", privateKey: SECRET },
            create: "sudo kubeadm init",
        }),
        resource("pulumi:providers:kubernetes", "comp2-k8s", { kubeconfig: SECRET }),
        resource("kubernetes:apps/v1:Deployment", "comp2-httpbin", {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "httpbin", namespace: "samples" },
            spec: {
                template: {
                    spec: {
                        containers: [{ name: "httpbin", image: `${LAB_REGISTRY}/samples/httpbin:2.15` }],
                        initContainers: [{ name: "wait", image: "docker.io/istio/proxyv2:1.27.3" }],
                    },
                },
            },
        }),
    ];
}

/** The stack with `edit` applied to the inputs of the resource named `name` (a deep copy: fixtures stay untouched). */
export function withEdit(
    name: string,
    edit: (inputs: Record<string, any>, r: { protect: boolean }) => void,
    stack = compliantStack(),
): PlannedResource[] {
    const copy = JSON.parse(JSON.stringify(stack)) as PlannedResource[];
    const target = copy.find((r) => r.name === name);
    if (!target) throw new Error(`no fixture named ${name}`);
    edit(target.inputs as Record<string, any>, target as { protect: boolean });
    return copy;
}

/** The pack config of the fixture stack, as `npm run plan` writes it for comp2 of a two-cluster lab. */
export const PACK_CONFIG = {
    "allowed-registries": { labRegistry: LAB_REGISTRY },
    "single-root-ca": { trustModel: "shared", peers: [{ stack: "comp3", pkiRole: "peer" }] },
};

/** The violations one policy reports on a stack, with `config` as the pack config. */
export async function violationsOf(
    policy: string,
    resources: PlannedResource[],
    config: ConfigFile = PACK_CONFIG,
): Promise<Violation[]> {
    return (await checkResources(resources, config)).filter((v) => v.policy === policy);
}
