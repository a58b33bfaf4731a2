// The zero-trust layer as an operator checks it: mTLS STRICT everywhere, a
// token from the lab issuer required at the ingress, the samples' identities,
// and the add-ons wired to each other with their credentials kept secret.
//
// `planFor` evaluates the layers above the mesh (stacks/layers/samples.ts,
// zerotrust.ts, addons.ts) on a stand-in cluster, mesh and peers. To
// re-point these tests at the full plan, make `planFor` return
// `stackOf(await planOf(labDirWith(edit)), stack)`: the assertions only use
// findResource/resourcesOfType on the recorded inputs.
import * as fs from "fs";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { imageFrom, sampleImages } from "../components/samples";
import { issuerPrincipals } from "../components/meshpolicies";
import { evaluateStack } from "../offline/engine/evaluate";
import { PlannedResource, SECRET } from "../offline/engine/record";
import { StackPlan, standInFor } from "../offline/planner/lab";
import { parseLabConfig } from "../stacks/config/parse";
import { ServiceMesh } from "../model/lab";
import { observability } from "../stacks/layers/addons";
import { sampleWorkloads } from "../stacks/layers/samples";
import { zeroTrust } from "../stacks/layers/zerotrust";
import { PeerUse, PeerView } from "../stacks/peer";
import { findResource, rawConfig, resourcesOfType } from "./helpers";

const CR = "kubernetes:security.istio.io/v1";
const PEER_AUTHN = `${CR}:PeerAuthentication`;
const REQUEST_AUTHN = `${CR}:RequestAuthentication`;
const AUTHZ = `${CR}:AuthorizationPolicy`;
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const SECRET_TYPE = "kubernetes:core/v1:Secret";
const STAND_IN_CONTROL = "stand-in-istio-control";
const PROJECT = "zta-testbed";
const ISTIO_NAMESPACE = "istio-system";
const SAMPLE_NAMESPACE = "sample";
const INGRESS_GATEWAY = "istio-ingressgateway";
const SPIRE_MANAGED_LABEL = "spiffe.io/spire-managed-identity";
/** The images of Istio 1.30.3's samples (samples/helloworld, curl, httpbin). */
const UPSTREAM_IMAGES = {
    helloworldV1: "registry.istio.io/release/examples-helloworld-v1:1.0",
    helloworldV2: "registry.istio.io/release/examples-helloworld-v2:1.0",
    curl: "docker.io/curlimages/curl:8.16.0@sha256:463eaf6072688fe96ac64fa623fe73e1dbe25d8ad6c34404a669ad3ce1f104b6",
    httpbin: "docker.io/mccutchen/go-httpbin:v2.15.0",
};

/** The labels Istio's gateway chart gives a gateway's pods from its release name (gateway/templates/_helpers.tpl). */
function gatewayChartLabels(release: string): Record<string, string> {
    return { istio: release.replace(/^istio-/, ""), app: release };
}

/** One stack's zero-trust layer on a stand-in cluster (a kubeconfig provider) and mesh (a namespace as the control plane). */
async function planFor(
    stack: string,
    edit: (raw: Record<string, any>) => void = () => {},
    peerTrustDomains: string[] = [],
): Promise<StackPlan> {
    const raw = JSON.parse(JSON.stringify(rawConfig(stack))) as Record<string, any>;
    edit(raw);
    const cfg = parseLabConfig(stack, raw, new Set(["sshPrivateKey"]));
    const evaluation = await evaluateStack({
        project: PROJECT,
        stack,
        config: {},
        secretKeys: [],
        program: async () => {
            const provider = new k8s.Provider(`${stack}-k8s`, {
                kubeconfig: pulumi.secret(standInFor(`${PROJECT}:kubeconfig`)),
            });
            const control = new k8s.core.v1.Namespace(
                STAND_IN_CONTROL,
                { metadata: { name: ISTIO_NAMESPACE } },
                { provider },
            );
            const mesh: ServiceMesh = {
                control: [control],
                ingressSelector: gatewayChartLabels(INGRESS_GATEWAY),
                ingressTls: { credentialName: "ingress-tls", credential: control, plainHttp: "off" },
            };
            // Stand-in peers: the layers read only the trust domain each one's identity exports.
            const peers = peerTrustDomains.map(
                (trustDomain, i) =>
                    ({
                        stack: `peer${i}`,
                        clusterName: `peer${i}`,
                        identity: { trustDomain },
                        available: new Set(),
                    }) as unknown as PeerView,
            );
            const onMesh = {
                cfg,
                peers,
                used: new PeerUse(peers),
                access: { provider, apiServer: pulumi.output("https://byo-cluster.invalid:6443") },
                mesh,
            };
            const samples = sampleWorkloads(onMesh);
            zeroTrust({ ...onMesh, samples });
            const { grafanaAdminPassword } = observability(onMesh);
            return grafanaAdminPassword ? { grafanaAdminPassword } : {};
        },
    });
    return { ...evaluation, standIns: [] };
}

const spec = (r: PlannedResource) => r.inputs.spec as Record<string, any>;
const meta = (r: PlannedResource) => r.inputs.metadata as Record<string, any>;
const byName = (plan: StackPlan, type: string, name: string, namespace: string) => {
    const found = resourcesOfType(plan, type).filter((r) => meta(r).name === name && meta(r).namespace === namespace);
    if (found.length !== 1) throw new Error(`expected one ${type} ${namespace}/${name}, found ${found.length}`);
    return found[0];
};

let comp2: StackPlan;
let comp3: StackPlan;
beforeAll(async () => {
    comp2 = await planFor("comp2");
    comp3 = await planFor("comp3");
});

describe("mesh-wide mTLS and JWT at the ingress", () => {
    test("mTLS is STRICT for the whole mesh: PeerAuthentication 'default' in the root namespace, no selector", () => {
        const pa = resourcesOfType(comp2, PEER_AUTHN);
        expect(pa).toHaveLength(1);
        expect(meta(pa[0])).toEqual({ name: "default", namespace: ISTIO_NAMESPACE });
        expect(spec(pa[0])).toEqual({ mtls: { mode: "STRICT" } });
    });

    test("the JWT rule and the token requirement select the ingress gateway's pods by the labels its chart gives them", () => {
        const labels = gatewayChartLabels(INGRESS_GATEWAY);
        expect(labels).toEqual({ istio: "ingressgateway", app: "istio-ingressgateway" });
        const ra = byName(comp2, REQUEST_AUTHN, "ingress-jwt", ISTIO_NAMESPACE);
        const ap = byName(comp2, AUTHZ, "ingress-require-jwt", ISTIO_NAMESPACE);
        expect(spec(ra).selector).toEqual({ matchLabels: labels });
        expect(spec(ap).selector).toEqual({ matchLabels: labels });
    });

    test("the JWT rule's issuer and JWKS URI are the configured ones; the lab issuer's client is the audience by default", async () => {
        const plan = await planFor("comp2", (raw) => {
            raw.jwt = {
                issuer: "https://idp.example:8443/realms/other",
                jwksUri: "https://idp.example:8443/realms/other/certs",
                caCert: fs.readFileSync(path.join(__dirname, "fixtures/verify/other-root.pem"), "utf8"),
                allowAnyAudience: true,
            };
        });
        // An external issuer without audiences (the opt-in jwt.allowAnyAudience): any audience.
        expect(spec(byName(plan, REQUEST_AUTHN, "ingress-jwt", ISTIO_NAMESPACE)).jwtRules).toEqual([
            { issuer: "https://idp.example:8443/realms/other", jwksUri: "https://idp.example:8443/realms/other/certs" },
        ]);
        const cfg = rawConfig("comp2").jwt as { issuer: string; jwksUri: string };
        expect(spec(byName(comp2, REQUEST_AUTHN, "ingress-jwt", ISTIO_NAMESPACE)).jwtRules).toEqual([
            { issuer: cfg.issuer, jwksUri: cfg.jwksUri, audiences: ["zta-testbed"] },
        ]);
    });

    test("jwt.audiences, when set, restricts the ingress to tokens issued for those audiences", async () => {
        const plan = await planFor("comp2", (raw) => {
            raw.jwt = { ...raw.jwt, audiences: ["zta-ingress"] };
        });
        const cfg = rawConfig("comp2").jwt as { issuer: string; jwksUri: string };
        expect(spec(byName(plan, REQUEST_AUTHN, "ingress-jwt", ISTIO_NAMESPACE)).jwtRules).toEqual([
            { issuer: cfg.issuer, jwksUri: cfg.jwksUri, audiences: ["zta-ingress"] },
        ]);
    });

    test("only requests with a principal from the configured issuer pass the ingress", () => {
        const issuer = (rawConfig("comp2").jwt as { issuer: string }).issuer;
        const ap = spec(byName(comp2, AUTHZ, "ingress-require-jwt", ISTIO_NAMESPACE));
        expect(ap.action).toBe("ALLOW");
        const principals = ap.rules.flatMap((r: any) => r.from.flatMap((f: any) => f.source.requestPrincipals ?? []));
        expect(principals).toEqual([`${issuer}/*`]);
        expect(principals.every((p: string) => p.startsWith(`${issuer}/`))).toBe(true);
        // No rule admits anything without a request principal.
        expect(
            ap.rules.every((r: any) => r.from.every((f: any) => (f.source.requestPrincipals ?? []).length > 0)),
        ).toBe(true);
        expect(issuerPrincipals("https://a/realms/x")).toBe("https://a/realms/x/*");
    });

    test("every policy waits for Istio's control plane and uses the cluster's provider", () => {
        const control = comp2.resources.find((r) => r.name === STAND_IN_CONTROL)?.urn;
        const provider = comp2.resources.find((r) => r.type === "pulumi:providers:kubernetes")?.urn;
        const policies = comp2.resources.filter((r) => r.type.startsWith(CR));
        expect(policies.length).toBeGreaterThanOrEqual(5);
        for (const p of policies) {
            expect(p.dependsOn).toContain(control);
            expect(p.provider).toBe(provider);
            expect(p.parent).toBe(findResource(comp2, "zta:policy:MeshPolicies", "comp2-mesh-policies").urn);
        }
    });
});

describe("the sample namespace denies by default", () => {
    test("allow-nothing, then only sleep -> helloworld and curl or the ingress gateway -> httpbin, by mTLS principal", () => {
        expect(spec(byName(comp2, AUTHZ, "allow-nothing", SAMPLE_NAMESPACE))).toEqual({});
        const td = (rawConfig("comp2").mesh as { trustDomain: string }).trustDomain;
        const callers = (name: string) => {
            const s = spec(byName(comp2, AUTHZ, name, SAMPLE_NAMESPACE));
            expect(s.action).toBe("ALLOW");
            return {
                selector: s.selector,
                principals: s.rules.flatMap((r: any) => r.from.flatMap((f: any) => f.source.principals)),
            };
        };
        expect(callers("helloworld-callers")).toEqual({
            selector: { matchLabels: { app: "helloworld" } },
            principals: [`${td}/ns/sample/sa/sleep`],
        });
        expect(callers("httpbin-callers")).toEqual({
            selector: { matchLabels: { app: "httpbin" } },
            principals: [`${td}/ns/sample/sa/curl`, `${td}/ns/${ISTIO_NAMESPACE}/sa/${INGRESS_GATEWAY}`],
        });
    });

    test("shared model: no DestinationRule, secure naming stays Istio's default (one trust domain)", () => {
        expect(resourcesOfType(comp2, "kubernetes:networking.istio.io/v1:DestinationRule")).toEqual([]);
    });

    test("federated model: each peer caller is named by its own trust domain, the ingress gateway only in this one, and each mesh Service's servers in every domain", async () => {
        const plan = await planFor(
            "comp2",
            (raw) => {
                raw.mesh.trustModel = "federated";
                raw.cluster.trustDomain = "cluster1.zta.lab";
            },
            ["cluster2.zta.lab", "cluster3.zta.lab"],
        );
        const principals = (name: string) =>
            spec(byName(plan, AUTHZ, name, SAMPLE_NAMESPACE)).rules.flatMap((r: any) =>
                r.from.flatMap((f: any) => f.source.principals),
            );
        expect(principals("helloworld-callers")).toEqual([
            "cluster1.zta.lab/ns/sample/sa/sleep",
            "cluster2.zta.lab/ns/sample/sa/sleep",
            "cluster3.zta.lab/ns/sample/sa/sleep",
        ]);
        expect(principals("httpbin-callers")).toEqual([
            "cluster1.zta.lab/ns/sample/sa/curl",
            "cluster2.zta.lab/ns/sample/sa/curl",
            "cluster3.zta.lab/ns/sample/sa/curl",
            "cluster1.zta.lab/ns/istio-system/sa/istio-ingressgateway",
        ]);
        const rules = resourcesOfType(plan, "kubernetes:networking.istio.io/v1:DestinationRule").map((r) => [
            meta(r).namespace,
            spec(r).host,
            spec(r).trafficPolicy.tls,
        ]);
        expect(rules).toEqual(
            ["helloworld", "httpbin"].map((app) => [
                SAMPLE_NAMESPACE,
                `${app}.sample.svc.cluster.local`,
                {
                    mode: "ISTIO_MUTUAL",
                    subjectAltNames: ["cluster1", "cluster2", "cluster3"].map(
                        (c) => `spiffe://${c}.zta.lab/ns/sample/sa/${app}`,
                    ),
                },
            ]),
        );
        // The Services' pods run as these accounts.
        for (const app of ["helloworld-v1", "httpbin"])
            expect(spec(byName(plan, DEPLOYMENT, app, SAMPLE_NAMESPACE)).template.spec.serviceAccountName).toBe(
                app.replace("-v1", ""),
            );
    });

    test("the allowed callers are the service accounts the client pods run as", () => {
        for (const client of ["sleep", "curl"]) {
            const d = byName(comp2, DEPLOYMENT, client, SAMPLE_NAMESPACE);
            expect(spec(d).template.spec.serviceAccountName).toBe(client);
            byName(comp2, "kubernetes:core/v1:ServiceAccount", client, SAMPLE_NAMESPACE);
        }
    });
});

describe("sample workloads", () => {
    test("the namespace is labelled for sidecar injection", () => {
        const ns = byName(comp2, "kubernetes:core/v1:Namespace", SAMPLE_NAMESPACE, undefined as unknown as string);
        expect(meta(ns).labels).toEqual({ "istio-injection": "enabled" });
    });

    test.each(["httpbin", "curl"])(
        "%s gets its identity from SPIRE: the SPIRE label and Istio's spire template",
        (app) => {
            const pod = spec(byName(comp2, DEPLOYMENT, app, SAMPLE_NAMESPACE)).template.metadata;
            expect(pod.labels[SPIRE_MANAGED_LABEL]).toBe("true");
            expect(pod.annotations).toEqual({ "inject.istio.io/templates": "sidecar,spire" });
        },
    );

    test("sleep and helloworld keep Istio's own identities", () => {
        for (const name of ["sleep", "helloworld-v1"]) {
            const pod = spec(byName(comp2, DEPLOYMENT, name, SAMPLE_NAMESPACE)).template.metadata;
            expect(pod.labels[SPIRE_MANAGED_LABEL]).toBeUndefined();
            expect(pod.annotations).toBeUndefined();
        }
    });

    test("helloworld v1 runs in comp2 and v2 in comp3, behind the same Service on port 5000", () => {
        const versions = (plan: StackPlan) =>
            resourcesOfType(plan, DEPLOYMENT)
                .filter((d) => meta(d).labels.app === "helloworld")
                .map((d) => [
                    meta(d).name,
                    spec(d).template.metadata.labels.version,
                    spec(d).template.spec.containers[0].image,
                ]);
        expect(versions(comp2)).toEqual([["helloworld-v1", "v1", UPSTREAM_IMAGES.helloworldV1]]);
        expect(versions(comp3)).toEqual([["helloworld-v2", "v2", UPSTREAM_IMAGES.helloworldV2]]);
        const services = [comp2, comp3].map((p) =>
            spec(byName(p, "kubernetes:core/v1:Service", "helloworld", SAMPLE_NAMESPACE)),
        );
        expect(services[0]).toEqual(services[1]);
        // The selector leaves the version out, so either cluster's Service reaches both versions.
        expect(services[0]).toEqual({
            selector: { app: "helloworld" },
            ports: [{ name: "http", port: 5000, targetPort: 5000 }],
        });
    });

    test("httpbin is published on the ingress gateway, whose policy requires the token", () => {
        const gw = spec(
            byName(comp2, "kubernetes:networking.istio.io/v1:Gateway", "httpbin-gateway", SAMPLE_NAMESPACE),
        );
        expect(gw.selector).toEqual(
            spec(byName(comp2, REQUEST_AUTHN, "ingress-jwt", ISTIO_NAMESPACE)).selector.matchLabels,
        );
        const vs = spec(
            byName(comp2, "kubernetes:networking.istio.io/v1:VirtualService", "httpbin-ingress", SAMPLE_NAMESPACE),
        );
        expect(vs.gateways).toEqual(["httpbin-gateway"]);
        const svc = spec(byName(comp2, "kubernetes:core/v1:Service", "httpbin", SAMPLE_NAMESPACE));
        expect(vs.http[0].route[0].destination).toEqual({
            host: "httpbin.sample.svc.cluster.local",
            port: { number: svc.ports[0].port },
        });
        const pod = spec(byName(comp2, DEPLOYMENT, "httpbin", SAMPLE_NAMESPACE)).template.spec;
        expect(pod.containers[0].ports).toEqual([{ containerPort: svc.ports[0].targetPort }]);
    });

    test("with imagesFromRegistry every sample image comes from the lab registry", async () => {
        const plan = await planFor("comp2", (raw) => (raw.samples.imagesFromRegistry = true));
        const images = resourcesOfType(plan, DEPLOYMENT).map((d) => spec(d).template.spec.containers[0].image);
        expect(images).toHaveLength(4);
        for (const image of images) expect(image).toMatch(/^10\.5\.0\.2:8443\//);
        expect(images).toContain("10.5.0.2:8443/release/examples-helloworld-v1:1.0");
    });

    test("samples off: no sample namespace, workloads or namespace policies; the ingress and mesh policies stay", async () => {
        const plan = await planFor("comp2", (raw) => (raw.samples = { enabled: false }));
        expect(
            plan.resources.filter((r) => r.type.startsWith("zta:samples:") || r.type.startsWith("kubernetes:apps/")),
        ).toEqual([]);
        expect(resourcesOfType(plan, AUTHZ).map((r) => meta(r).name)).toEqual(["ingress-require-jwt"]);
        expect(resourcesOfType(plan, PEER_AUTHN)).toHaveLength(1);
    });
});

describe("image references", () => {
    test.each([
        ["registry.istio.io/release/examples-helloworld-v1:1.0", "10.5.0.2:8443/release/examples-helloworld-v1:1.0"],
        ["docker.io/curlimages/curl:8.16.0", "10.5.0.2:8443/curlimages/curl:8.16.0"],
        ["curlimages/curl:8.16.0", "10.5.0.2:8443/curlimages/curl:8.16.0"],
        // A digest stays: the mirror holds the same index, so the same digest pulls from it.
        ["docker.io/curlimages/curl:8.16.0@sha256:463eaf60", "10.5.0.2:8443/curlimages/curl:8.16.0@sha256:463eaf60"],
        ["localhost:5000/x:1", "10.5.0.2:8443/x:1"],
    ])("%s from the lab registry is %s", (upstream, expected) => {
        expect(imageFrom(upstream, "10.5.0.2:8443")).toBe(expected);
    });

    test("without a registry the images are Istio's upstream ones", () => {
        expect(sampleImages()).toEqual(UPSTREAM_IMAGES);
    });
});

describe("observability add-ons", () => {
    const release = (plan: StackPlan, chart: string) => {
        const found = resourcesOfType(plan, RELEASE).filter((r) => r.inputs.chart === chart);
        if (found.length !== 1) throw new Error(`expected one release of ${chart}, found ${found.length}`);
        return found[0];
    };
    const values = (r: PlannedResource) => r.inputs.values as Record<string, any>;

    test("pinned upstream charts in istio-system, at the configured versions", () => {
        const versions = rawConfig("comp2").versions as Record<string, string>;
        const got = resourcesOfType(comp2, RELEASE).map((r) => [
            r.inputs.chart,
            r.inputs.repositoryOpts,
            r.inputs.version,
            r.inputs.namespace,
        ]);
        expect(got).toEqual(
            expect.arrayContaining([
                [
                    "prometheus",
                    { repo: "https://prometheus-community.github.io/helm-charts" },
                    versions.prometheus,
                    ISTIO_NAMESPACE,
                ],
                [
                    "grafana",
                    { repo: "https://grafana-community.github.io/helm-charts" },
                    versions.grafana,
                    ISTIO_NAMESPACE,
                ],
                ["kiali-server", { repo: "https://kiali.org/helm-charts" }, versions.kiali, ISTIO_NAMESPACE],
            ]),
        );
        expect(got).toHaveLength(3);
    });

    test("Kiali and Grafana read the Service Prometheus' chart creates, and nothing asks for a PVC", () => {
        const prom = values(release(comp2, "prometheus"));
        const url = `http://${prom.server.fullnameOverride}.${ISTIO_NAMESPACE}:${prom.server.service.servicePort}`;
        expect(values(release(comp2, "kiali-server")).external_services.prometheus).toEqual({ url });
        expect(values(release(comp2, "grafana")).datasources["datasources.yaml"].datasources[0]).toMatchObject({
            type: "prometheus",
            url,
            isDefault: true,
        });
        expect(prom.server.persistentVolume).toEqual({ enabled: false });
        expect(prom.alertmanager).toEqual({ enabled: false });
    });

    test("Grafana's admin password is generated, kept in a Secret the chart uses, and secret in inputs and stack output", () => {
        findResource(comp2, "random:index/randomPassword:RandomPassword", "comp2-addons-grafana-admin");
        const secret = byName(comp2, SECRET_TYPE, "grafana-admin", ISTIO_NAMESPACE);
        expect(secret.inputs.stringData).toEqual(SECRET);
        expect(values(release(comp2, "grafana")).admin).toEqual({ existingSecret: "grafana-admin" });
        expect(comp2.outputs.grafanaAdminPassword.secret).toBe(true);
        expect(comp2.outputs.grafanaAdminPassword.value).toMatch(/^MOCK-PASSWORD\(/);
        expect(JSON.stringify(comp2.resources)).not.toMatch(/MOCK-PASSWORD/);
    });

    test("Kiali logs in to Grafana with that Secret and signs tokens with a generated key from its own Secret", () => {
        const kiali = values(release(comp2, "kiali-server"));
        expect(kiali.external_services.grafana).toMatchObject({
            enabled: true,
            internal_url: `http://grafana.${ISTIO_NAMESPACE}:80`,
            auth: { type: "basic", username: "admin", password: "secret:grafana-admin:admin-password" },
        });
        expect(kiali.login_token).toEqual({ signing_key: "secret:kiali-signing-key:key" });
        expect(byName(comp2, SECRET_TYPE, "kiali-signing-key", ISTIO_NAMESPACE).inputs.stringData).toEqual(SECRET);
        findResource(comp2, "random:index/randomPassword:RandomPassword", "comp2-addons-kiali-signing-key");
    });

    test("add-ons off: nothing is declared and there is no password output", async () => {
        const plan = await planFor(
            "comp2",
            (raw) => (raw.addons = { prometheus: false, kiali: false, grafana: false }),
        );
        expect(
            plan.resources.filter(
                (r) => r.type.startsWith("zta:addons:") || r.type === RELEASE || r.type.startsWith("random:"),
            ),
        ).toEqual([]);
        expect(resourcesOfType(plan, SECRET_TYPE)).toEqual([]);
        expect(plan.outputs.grafanaAdminPassword).toBeUndefined();
    });

    test("Kiali alone does not point at add-ons that are not there", async () => {
        const plan = await planFor("comp2", (raw) => (raw.addons = { prometheus: false, kiali: true, grafana: false }));
        expect(resourcesOfType(plan, RELEASE).map((r) => r.inputs.chart)).toEqual(["kiali-server"]);
        const es = values(release(plan, "kiali-server")).external_services;
        expect([es.prometheus, es.grafana]).toEqual([{ enabled: false }, { enabled: false }]);
    });
});
