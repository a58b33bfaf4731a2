// The whole verify command on a fake cluster (every check's real decision logic,
// no cluster), and the fail-fast path against a real client-node on loopback.
import { createHash, X509Certificate } from "crypto";
import { readdirSync, readFileSync } from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import { EXIT, helpText, main, VerifyDeps } from "../verify/cli";
import { CHECKS } from "../verify/catalog";
import { VerifyTarget } from "../verify/check";
import {
    Cluster,
    ExecResult,
    KubeCluster,
    PodInfo,
    ScopedReview,
    selfAccessReview,
    ServiceInfo,
} from "../verify/cluster";
import { HttpGet, IssuerClient, TokenFetch } from "../verify/ingress";
import { Report } from "../verify/runner";
import { ISTIOD_REMOTE_READS, MESH_CONFIG_READ, rbacAllows, RbacGrant } from "./rbac";

const fixture = (name: string) => readFileSync(path.join(__dirname, "fixtures", "verify", name), "utf8");
const TOKEN =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImxhYiJ9.eyJpc3MiOiJodHRwczovLzEwLjUuMC4yL3JlYWxtcy96dGEiLCJzdWIiOiJvcGVyYXRvciJ9.c2lnbmF0dXJlLW9mLXRoZS1pc3N1ZXI";

/** The workloads of examples/workloads: flask-hello in cluster1, routed at /hello and called by client/curl in cluster2. */
const WORKLOADS: VerifyTarget["workloads"] = [
    {
        namespace: "flask",
        name: "flask-hello",
        cluster: "cluster1",
        image: "10.5.0.2:8443/flask-hello:1.0.0",
        port: 5000,
        callers: ["client/curl"],
        ingress: { pathPrefix: "/hello" },
        egress: [],
    },
    {
        namespace: "client",
        name: "curl",
        cluster: "cluster2",
        image: "docker.io/curlimages/curl:8.16.0",
        command: ["/bin/sleep", "infinity"],
        callers: [],
        egress: [],
    },
];

const target: VerifyTarget = {
    stack: "comp2",
    clusterName: "cluster1",
    trustDomain: "zta.lab",
    ingressAddress: "10.5.0.100",
    eastWestAddress: "10.5.0.101",
    rootCaCert: fixture("lab-root.pem"),
    trustModel: "shared",
    peers: [
        {
            stack: "comp3",
            clusterName: "cluster2",
            eastWestAddress: "10.5.0.122",
            trustDomain: "zta.lab",
            rootCaCert: fixture("lab-root.pem"),
        },
    ],
    workloads: WORKLOADS,
};

/** The same stack in the federated model: the peer has its own trust domain and its own root. */
const federatedTarget: VerifyTarget = {
    ...target,
    trustModel: "federated",
    peers: [{ ...target.peers[0], trustDomain: "cluster2.zta.lab", rootCaCert: fixture("other-root.pem") }],
};

/** SHA-256 of the curl SVID's DER, as Envoy puts it in XFCC `Hash=`. */
const CURL_HASH = createHash("sha256")
    .update(new X509Certificate(fixture("curl-leaf.pem")).raw)
    .digest("hex");

type ExecHandler = (pod: PodInfo, container: string, command: string[]) => ExecResult | Promise<ExecResult>;

/** A cluster in memory: pods, services, secrets, and what exec answers. */
class FakeCluster implements Cluster {
    readonly endpoint = "https://10.5.0.3:6443";
    readonly execs: string[] = [];
    constructor(
        public pods: PodInfo[],
        public services: ServiceInfo[],
        public secrets: string[],
        public onExec: ExecHandler,
    ) {}
    async probe(): Promise<void> {}
    async listPods(namespace: string, labelSelector?: string): Promise<PodInfo[]> {
        const wanted = (labelSelector ?? "")
            .split(",")
            .filter((s) => s !== "")
            .map((s) => s.split("="));
        return this.pods.filter((p) => p.namespace === namespace && wanted.every(([k, v]) => p.labels[k] === v));
    }
    async getService(namespace: string, name: string): Promise<ServiceInfo | undefined> {
        return this.services.find((s) => s.namespace === namespace && s.name === name);
    }
    async hasSecret(namespace: string, name: string): Promise<boolean> {
        return this.secrets.includes(`${namespace}/${name}`);
    }
    /** A remote secret holds, under its cluster's name, a kubeconfig (here a stand-in the fake reviewer reads). */
    async secretData(namespace: string, name: string): Promise<Record<string, string> | undefined> {
        if (!this.secrets.includes(`${namespace}/${name}`)) return undefined;
        const peer = /^istio-remote-secret-(.+)$/.exec(name)?.[1];
        return peer === undefined ? {} : { [peer]: `kubeconfig of ${peer}` };
    }
    async exec(namespace: string, pod: string, container: string, command: string[]): Promise<ExecResult> {
        this.execs.push(`${namespace}/${pod}/${container}: ${command.join(" ")}`);
        const p = this.pods.find((x) => x.namespace === namespace && x.name === pod);
        if (p === undefined || !p.containers.includes(container))
            return { stdout: "", stderr: `container ${container} not found`, code: -1 };
        return this.onExec(p, container, command);
    }
}

const pod = (
    namespace: string,
    name: string,
    labels: Record<string, string>,
    containers: string[],
    serviceAccount = "default",
): PodInfo => ({
    name,
    namespace,
    phase: "Running",
    ready: true,
    serviceAccount,
    labels,
    containers,
    notReadyContainers: [],
});

const ok = (stdout: string): ExecResult => ({ stdout, stderr: "", code: 0 });
const hello = (v: string) => `Hello version: ${v}, instance: helloworld-${v}-6d65866976-jb6qc\n`;

/** The testbed as it looks when everything works (stack comp2, cluster1). */
function healthyCluster(): FakeCluster {
    const pods = [
        pod("kube-system", "kube-apiserver-comp2", { component: "kube-apiserver" }, ["kube-apiserver"]),
        pod("kube-system", "cilium-7xk2p", { "k8s-app": "cilium" }, ["cilium-agent"], "cilium"),
        pod(
            "metallb-system",
            "metallb-controller-5f9bb77dcd-hx2lq",
            { app: "metallb" },
            ["controller"],
            "metallb-controller",
        ),
        pod("metallb-system", "metallb-speaker-4jz7d", { app: "metallb" }, ["speaker"], "metallb-speaker"),
        pod("istio-system", "istiod-6c9f8d7b5-q2w9x", { app: "istiod", istio: "pilot" }, ["discovery"], "istiod"),
        pod(
            "istio-system",
            "istio-ingressgateway-7f6d9c8b4-abcde",
            { app: "istio-ingressgateway", istio: "ingressgateway" },
            ["istio-proxy"],
            "istio-ingressgateway",
        ),
        pod(
            "istio-system",
            "istio-eastwestgateway-58c7b9f6d-fghij",
            { app: "istio-eastwestgateway", istio: "eastwestgateway" },
            ["istio-proxy"],
            "istio-eastwestgateway",
        ),
        pod(
            "spire-server",
            "spire-server-0",
            { "app.kubernetes.io/name": "server" },
            ["spire-server", "spire-controller-manager"],
            "spire-server",
        ),
        pod("spire-system", "spire-agent-9kq4z", { "app.kubernetes.io/name": "agent" }, ["spire-agent"], "spire-agent"),
        pod("spire-system", "spiffe-csi-driver-l8m2n", { "app.kubernetes.io/name": "spiffe-csi-driver" }, [
            "spiffe-csi-driver",
        ]),
        pod("sample", "sleep-868c754c4b-zkx7m", { app: "sleep" }, ["sleep", "istio-proxy"], "sleep"),
        pod(
            "sample",
            "curl-5b7d8f9c6-p4r5s",
            { app: "curl", "spiffe.io/spire-managed-identity": "true" },
            ["curl", "istio-proxy"],
            "curl",
        ),
        pod("sample", "httpbin-6f4b8c7d9-t6u7v", { app: "httpbin" }, ["httpbin", "istio-proxy"], "httpbin"),
        // examples/workloads' flask-hello, which runs in cluster1 with a SPIRE identity.
        pod(
            "flask",
            "flask-hello-5c6d7f8b9-k3l4m",
            { app: "flask-hello", "spiffe.io/spire-managed-identity": "true" },
            ["flask-hello", "istio-proxy"],
            "flask-hello",
        ),
        pod(
            "sample",
            "helloworld-v1-6d65866976-jb6qc",
            { app: "helloworld", version: "v1" },
            ["helloworld", "istio-proxy"],
            "helloworld",
        ),
    ];
    const gateway = (name: string, ip: string): ServiceInfo => ({
        name,
        namespace: "istio-system",
        type: "LoadBalancer",
        selector: { app: name, istio: name.replace(/^istio-/, "") },
        loadBalancerIps: [ip],
    });
    const services = [gateway("istio-ingressgateway", "10.5.0.100"), gateway("istio-eastwestgateway", "10.5.0.101")];
    const spireEntry = (p: string) => ({
        id: p,
        spiffe_id: { trust_domain: "zta.lab", path: p },
        parent_id: { trust_domain: "zta.lab", path: "/spire/agent/k8s_psat/cluster1/node" },
        selectors: [],
    });
    return new FakeCluster(pods, services, ["istio-system/istio-remote-secret-cluster2"], (p, container, command) => {
        const cmd = command.join(" ");
        if (container === "discovery" && cmd === "pilot-discovery request GET /debug/clusterz") {
            return ok(
                JSON.stringify([
                    { id: "cluster1", secretName: "", syncStatus: "synced" },
                    { id: "cluster2", secretName: "istio-system/istio-remote-secret-cluster2", syncStatus: "synced" },
                ]),
            );
        }
        if (container === "discovery" && cmd === "pilot-discovery request GET /debug/networkz") {
            return ok(
                JSON.stringify([
                    { Network: "network1", Cluster: "cluster1", Addr: "10.5.0.101", Port: 15443, HBONEPort: 0 },
                    { Network: "network2", Cluster: "cluster2", Addr: "10.5.0.122", Port: 15443, HBONEPort: 0 },
                ]),
            );
        }
        if (container === "spire-server" && cmd === "/opt/spire/bin/spire-server entry show -output json") {
            const paths = [
                "/ns/istio-system/sa/istio-ingressgateway",
                "/ns/istio-system/sa/istio-eastwestgateway",
                "/ns/sample/sa/curl",
                "/ns/sample/sa/sleep",
                "/ns/flask/sa/flask-hello",
            ];
            return ok(JSON.stringify({ entries: paths.map(spireEntry), next_page_token: "" }));
        }
        if (
            p.name.startsWith("curl-") &&
            container === "istio-proxy" &&
            cmd === "pilot-agent request GET config_dump?resource=dynamic_active_secrets"
        ) {
            return ok(fixture("envoy-secrets-spire.json"));
        }
        if (
            p.name.startsWith("sleep-") &&
            container === "sleep" &&
            command[0] === "curl" &&
            command.includes("\\n%{http_code}")
        ) {
            const url = command[command.length - 1];
            if (url === "http://helloworld.sample:5000/hello") return ok(`${hello("v1")}\n200`);
            // The network policy drops the SYN: curl gives up with no HTTP status.
            if (url === "http://istiod.istio-system:15014/version") return { stdout: "\n000", stderr: "", code: 28 };
            // sleep may not call flask-hello (only client/curl may): its own egress policy drops it.
            if (url === "http://flask-hello.flask:5000/hello") return { stdout: "\n000", stderr: "", code: 28 };
        }
        if (p.name.startsWith("sleep-") && container === "sleep" && command[0] === "sh") {
            const n = Number(/seq 1 (\d+)/.exec(cmd)?.[1]);
            return ok(Array.from({ length: n }, (_, i) => hello(i % 2 === 0 ? "v1" : "v2")).join(""));
        }
        if (
            p.name.startsWith("curl-") &&
            container === "curl" &&
            command[0] === "curl" &&
            command.includes("http://httpbin.sample:8000/headers")
        ) {
            const xfcc =
                'By=spiffe://zta.lab/ns/sample/sa/httpbin;Hash=2f1e0d9c8b7a;Subject="";URI=spiffe://zta.lab/ns/sample/sa/curl';
            return ok(
                JSON.stringify({
                    headers: { Accept: ["*/*"], Host: ["httpbin.sample:8000"], "X-Forwarded-Client-Cert": [xfcc] },
                }),
            );
        }
        if (
            p.name.startsWith("curl-") &&
            container === "curl" &&
            command[0] === "sh" &&
            cmd.includes("http://httpbin.sample:8000/headers")
        ) {
            // Answered by this cluster's httpbin, then by the peer's, whose trust domain is cluster2.zta.lab.
            const reply = (by: string) =>
                JSON.stringify({
                    headers: {
                        "X-Forwarded-Client-Cert": [
                            `By=${by};Hash=${CURL_HASH};Subject="";URI=spiffe://zta.lab/ns/sample/sa/curl`,
                        ],
                    },
                });
            return ok(
                `${reply("spiffe://zta.lab/ns/sample/sa/httpbin")}\n----zta-verify-reply----\n${reply("spiffe://cluster2.zta.lab/ns/sample/sa/httpbin")}\n----zta-verify-reply----\n`,
            );
        }
        return { stdout: "", stderr: `unexpected command: ${cmd}`, code: 127 };
    });
}

/** An ingress that enforces JWT: 200 for TOKEN, 403 without a token, 401 for any other token. */
const enforcingIngress: HttpGet = async (url, headers, _timeout, ca) => {
    if (url !== "https://10.5.0.100/headers") return 404;
    // The gateway's certificate is validated against the stack's root and nothing else.
    if (ca !== target.rootCaCert) throw new Error("self-signed certificate in certificate chain");
    const auth = headers.Authorization;
    if (auth === undefined) return 403;
    return auth === `Bearer ${TOKEN}` ? 200 : 401;
};

const LAB_CLIENT: IssuerClient = {
    tokenUrl: "https://10.5.0.2:9443/realms/zta/protocol/openid-connect/token",
    clientId: "zta-testbed",
    clientSecret: "client-secret-of-the-fake",
};
/** The lab issuer's second client: its tokens carry another audience. */
const OTHER_CLIENT: IssuerClient = {
    ...LAB_CLIENT,
    clientId: "zta-testbed-other-audience",
    clientSecret: "other-secret-of-the-fake",
};
/** A token of the same issuer, signed as well as TOKEN, for the other audience. */
const OTHER_AUDIENCE_TOKEN =
    "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ6dGEtdGVzdGJlZC1vdGhlci1hdWRpZW5jZSJ9.b3RoZXItYXVkaWVuY2U";

/** The lab issuer: TOKEN for the lab client, OTHER_AUDIENCE_TOKEN for the second client, over TLS trusting the lab root; nothing for anyone else. */
const labIssuer: TokenFetch = async (client, ca) => {
    if (ca !== target.rootCaCert) throw new Error("self-signed certificate in certificate chain");
    for (const [known, token] of [
        [LAB_CLIENT, TOKEN],
        [OTHER_CLIENT, OTHER_AUDIENCE_TOKEN],
    ] as const) {
        if (
            client.tokenUrl === known.tokenUrl &&
            client.clientId === known.clientId &&
            client.clientSecret === known.clientSecret
        )
            return token;
    }
    throw new Error("the token endpoint answered HTTP 401 (unauthorized_client)");
};

// The reader a remote secret's token acts as, with the rules istiod 1.30.3 needs of a peer (list and watch of
// its informers' objects, the mesh ConfigMap by name), as the peer's RBAC would grant them.
const READER_GRANTS: RbacGrant[] = [
    { rules: ISTIOD_REMOTE_READS },
    { namespace: "istio-system", rules: MESH_CONFIG_READ },
];

const CHART_READER_GRANTS: RbacGrant[] = [
    {
        rules: [
            {
                apiGroups: [
                    "config.istio.io",
                    "security.istio.io",
                    "networking.istio.io",
                    "authentication.istio.io",
                    "rbac.istio.io",
                    "telemetry.istio.io",
                    "extensions.istio.io",
                ],
                resources: ["*"],
                verbs: ["get", "list", "watch"],
            },
            {
                apiGroups: [""],
                resources: [
                    "endpoints",
                    "pods",
                    "services",
                    "nodes",
                    "replicationcontrollers",
                    "namespaces",
                    "secrets",
                    "configmaps",
                ],
                verbs: ["get", "list", "watch"],
            },
            {
                apiGroups: ["networking.x-k8s.io", "gateway.networking.k8s.io"],
                resources: ["gateways"],
                verbs: ["get", "watch", "list"],
            },
            {
                apiGroups: ["apiextensions.k8s.io"],
                resources: ["customresourcedefinitions"],
                verbs: ["get", "list", "watch"],
            },
            { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
        ],
    },
];

/** A peer API server that answers SelfSubjectAccessReviews for the token in `kubeconfig of <cluster>` with these grants. */
function peerApi(grants: RbacGrant[]): (kubeconfig: string) => ScopedReview {
    return (kubeconfig) => {
        const peer = /^kubeconfig of (.+)$/.exec(kubeconfig)?.[1];
        if (peer === undefined) throw new Error("it does not parse as a kubeconfig");
        return { server: `https://${peer}.api:6443`, review: async (probe) => rbacAllows(grants, probe) };
    };
}

function depsFor(
    cluster: Cluster,
    http: HttpGet = enforcingIngress,
    stackTarget: VerifyTarget = target,
    accessReview = peerApi(READER_GRANTS),
) {
    const out: string[] = [];
    const progress: string[] = [];
    const deps: VerifyDeps = {
        readStack: async (stack) => {
            if (stack !== "comp2") throw new Error(`no stack named '${stack}' found`);
            return { target: stackTarget, kubeconfig: "unused by the fake" };
        },
        makeCluster: () => cluster,
        accessReview,
        http,
        fetchToken: labIssuer,
        readFile: (file) =>
            file === "token.jwt"
                ? `${TOKEN}\n`
                : (() => {
                      throw new Error(`ENOENT: ${file}`);
                  })(),
        out: (t) => void out.push(t),
        progress: (t) => void progress.push(t),
        now: () => new Date("2030-01-01T00:00:00Z"),
    };
    return { deps, out: () => out.join(""), progress: () => progress.join("") };
}

const lines = (text: string) => text.split("\n").filter((l) => /^(PASS|FAIL|SKIP) /.test(l));

describe("verify on a healthy testbed", () => {
    test("every check passes (the cross-domain one SKIPs in the shared model, saying why) and the exit code is 0", async () => {
        const { deps, out, progress } = depsFor(healthyCluster());
        const code = await main(["--stack", "comp2", "--token", TOKEN], deps);
        const expected = (id: string) => (id === "cross-domain-identity" ? "SKIP" : "PASS");
        expect(lines(out())).toEqual(
            CHECKS.map((c) => expect.stringMatching(new RegExp(`^${expected(c.id)}  ${c.id}  `))),
        );
        expect(out()).toMatch(/SKIP  cross-domain-identity  .*skipped: shared trust model/);
        expect(out()).toContain('verify: stack "comp2": all checks passed');
        expect(code).toBe(EXIT.ok);
        expect(progress()).toContain("[1/13] pods-ready: every pod Ready ...");
    });

    test("federated: curl's own-domain identity reaches the peer's httpbin, chained to this stack's root; every check passes", async () => {
        const { deps, out } = depsFor(healthyCluster(), enforcingIngress, federatedTarget);
        const code = await main(["--stack", "comp2", "--token", TOKEN], deps);
        expect(lines(out())).toEqual(CHECKS.map((c) => expect.stringMatching(new RegExp(`^PASS  ${c.id}  `))));
        expect(out()).toMatch(
            /PASS  cross-domain-identity  .*spiffe:\/\/zta\.lab\/ns\/sample\/sa\/curl seen by the peer's httpbin in cluster2\.zta\.lab/,
        );
        expect(code).toBe(EXIT.ok);
    });

    test("federated, but the peer exports the same root: cross-domain-identity FAILs", async () => {
        const shared = {
            ...federatedTarget,
            peers: [{ ...federatedTarget.peers[0], rootCaCert: fixture("lab-root.pem") }],
        };
        const { deps, out } = depsFor(healthyCluster(), enforcingIngress, shared);
        expect(await main(["--stack", "comp2", "--only", "cross-domain-identity"], deps)).toBe(EXIT.failed);
        expect(out()).toMatch(/FAIL  cross-domain-identity  .*export the same root .*needs a root per trust domain/);
    });

    test("PASS lines say what was seen: both versions, the SVID, the JWT statuses", async () => {
        const { deps, out } = depsFor(healthyCluster());
        await main(["--stack", "comp2", "--token-file", "token.jwt", "--requests", "6"], deps);
        expect(out()).toMatch(/PASS  cross-cluster-traffic  .*v1: 3, v2: 3 of 6 calls/);
        expect(out()).toMatch(
            /PASS  workload-certificate  .*spiffe:\/\/zta\.lab\/ns\/sample\/sa\/curl, 2 certificate\(s\) to the lab root/,
        );
        expect(out()).toMatch(/PASS  ingress-jwt  .*https:\/\/10\.5\.0\.100\/headers: valid 200, missing 403, bad 401/);
    });

    test("--json prints one machine-readable report", async () => {
        const { deps, out } = depsFor(healthyCluster());
        const code = await main(["--stack", "comp2", "--token", TOKEN, "--json"], deps);
        const report = JSON.parse(out()) as Report;
        expect(code).toBe(EXIT.ok);
        expect(report.ok).toBe(true);
        expect(report.stack).toBe("comp2");
        expect(report.results.map((r) => [r.id, r.status])).toEqual(
            CHECKS.map((c) => [c.id, c.id === "cross-domain-identity" ? "skip" : "pass"]),
        );
    });
});

describe("workload-flows: the calls zta-testbed:workloads states pass, an unstated one is refused", () => {
    /** comp3 (cluster2): client/curl runs here and calls flask-hello in cluster1. */
    const comp3: VerifyTarget = { ...target, stack: "comp3", clusterName: "cluster2" };
    const hello = "Hello from flask-hello\n200";
    function cluster2(reply: Record<string, ExecResult>): FakeCluster {
        const cluster = healthyCluster();
        cluster.pods.push(pod("client", "curl-7d9f8c6b5-x1y2z", { app: "curl" }, ["curl", "istio-proxy"], "curl"));
        const healthy = cluster.onExec;
        cluster.onExec = (p, c, cmd) => {
            const key = `${p.namespace}/${c} ${cmd[cmd.length - 1]}`;
            return reply[key] ?? healthy(p, c, cmd);
        };
        return cluster;
    }
    const run = async (cluster: FakeCluster, stackTarget = comp3) => {
        const { deps, out } = depsFor(cluster, enforcingIngress, stackTarget);
        const code = await main(["--stack", "comp2", "--only", "workload-flows"], deps);
        return { code, line: lines(out()).find((l) => / {2}workload-flows {2}/.test(l)) };
    };

    test("the stated call from client/curl gets the app's answer, sleep's is refused with 403 RBAC: PASS", async () => {
        const { code, line } = await run(
            cluster2({
                "client/curl http://flask-hello.flask:5000/hello": ok(hello),
                "sample/sleep http://flask-hello.flask:5000/hello": ok("RBAC: access denied\n403"),
            }),
        );
        expect(line).toMatch(
            /^PASS {2}workload-flows {2}.*client\/curl -> http:\/\/flask-hello\.flask:5000\/hello: HTTP 200; sample\/sleep -> http:\/\/flask-hello\.flask:5000\/hello: refused \(403 RBAC: access denied\)/,
        );
        expect(code).toBe(EXIT.ok);
    });

    test("in cluster1, where no caller runs, the unstated call alone is made: PASS on its refusal", async () => {
        const { code, line } = await run(healthyCluster(), target);
        expect(line).toMatch(
            /^PASS {2}workload-flows {2}.*sample\/sleep -> http:\/\/flask-hello\.flask:5000\/hello: refused \(no connection\)/,
        );
        expect(code).toBe(EXIT.ok);
    });

    test("a stated call the mesh refuses FAILs, naming it", async () => {
        const { code, line } = await run(
            cluster2({
                "client/curl http://flask-hello.flask:5000/hello": ok("RBAC: access denied\n403"),
                "sample/sleep http://flask-hello.flask:5000/hello": ok("RBAC: access denied\n403"),
            }),
        );
        expect(line).toMatch(
            /^FAIL {2}workload-flows {2}.*stated call client\/curl -> http:\/\/flask-hello\.flask:5000\/hello: 403 RBAC: access denied, expected the app's answer/,
        );
        expect(code).toBe(EXIT.failed);
    });

    test("an unstated call the app answers FAILs: the policies let it through", async () => {
        const { code, line } = await run(
            cluster2({
                "client/curl http://flask-hello.flask:5000/hello": ok(hello),
                "sample/sleep http://flask-hello.flask:5000/hello": ok(hello),
            }),
        );
        expect(line).toMatch(
            /^FAIL {2}workload-flows {2}.*unstated call sample\/sleep -> .*: HTTP 200 from the app, expected the mesh to refuse it/,
        );
        expect(code).toBe(EXIT.failed);
    });

    test("without workloads, or without a caller pod to run from, it SKIPs and says why", async () => {
        expect((await run(healthyCluster(), { ...target, workloads: [] })).line).toMatch(
            /^SKIP {2}workload-flows {2}.*skipped: no zta-testbed:workloads configured/,
        );
        const empty = healthyCluster();
        empty.pods = empty.pods.filter((p) => p.namespace !== "sample");
        expect((await run(empty, comp3)).line).toMatch(
            /^SKIP {2}workload-flows {2}.*skipped: .*flask-hello\.flask:5000\/hello not called: no Ready pod of client\/curl; sample\/sleep as the unstated caller: no Ready pod of sample\/sleep/,
        );
    });
});

describe("verify names what is broken and exits non-zero", () => {
    test("helloworld v2 in the peer cluster unreachable: cross-cluster-traffic FAILs, exit 1", async () => {
        const cluster = healthyCluster();
        const healthy = cluster.onExec;
        cluster.onExec = (p, c, cmd) => (cmd[0] === "sh" ? ok(hello("v1").repeat(20)) : healthy(p, c, cmd));
        const { deps, out } = depsFor(cluster);
        const code = await main(["--stack", "comp2", "--token", TOKEN], deps);
        expect(code).toBe(EXIT.failed);
        expect(lines(out()).filter((l) => l.startsWith("FAIL"))).toEqual([
            expect.stringMatching(/^FAIL  cross-cluster-traffic  .*no reply from helloworld v2/),
        ]);
        expect(out()).toContain('verify: stack "comp2": FAILED cross-cluster-traffic');
    });

    test("a third cluster: istiod must read every peer and know every peer's east-west gateway", async () => {
        const threeClusters: VerifyTarget = {
            ...target,
            peers: [
                ...target.peers,
                { stack: "comp4", clusterName: "cluster3", eastWestAddress: "10.5.0.141", trustDomain: "zta.lab" },
            ],
        };
        const cluster = healthyCluster();
        const { deps, out } = depsFor(cluster, enforcingIngress, threeClusters);
        expect(await main(["--stack", "comp2", "--token", TOKEN], deps)).toBe(EXIT.failed);
        expect(out()).toMatch(
            /FAIL  istiod-remote-cluster  .*istio-remote-secret-cluster3 not found: run `pulumi up` on stack "comp2" after "comp4" is deployed/,
        );
        expect(out()).toMatch(
            /FAIL  istiod-network-gateways  .*istiod knows no gateway 10\.5\.0\.141:15443 for cluster "cluster3"/,
        );

        // The same cluster once comp2 installed cluster3's remote secret and istiod synced it.
        const healthy = cluster.onExec;
        cluster.secrets = [...cluster.secrets, "istio-system/istio-remote-secret-cluster3"];
        cluster.onExec = (p, container, command) => {
            const cmd = command.join(" ");
            if (cmd === "pilot-discovery request GET /debug/clusterz") {
                return ok(
                    JSON.stringify(
                        ["cluster1", "cluster2", "cluster3"].map((id) => ({
                            id,
                            secretName: id === "cluster1" ? "" : `istio-system/istio-remote-secret-${id}`,
                            syncStatus: "synced",
                        })),
                    ),
                );
            }
            if (cmd === "pilot-discovery request GET /debug/networkz") {
                return ok(
                    JSON.stringify(
                        [
                            ["1", "10.5.0.101"],
                            ["2", "10.5.0.122"],
                            ["3", "10.5.0.141"],
                        ].map(([n, addr]) => ({
                            Network: `network${n}`,
                            Cluster: `cluster${n}`,
                            Addr: addr,
                            Port: 15443,
                            HBONEPort: 0,
                        })),
                    ),
                );
            }
            return healthy(p, container, command);
        };
        const again = depsFor(cluster, enforcingIngress, threeClusters);
        await main(["--stack", "comp2", "--token", TOKEN], again.deps);
        expect(again.out()).toMatch(
            /PASS  istiod-remote-cluster  .*synced "cluster2" from istio-remote-secret-cluster2, .*synced "cluster3" from istio-remote-secret-cluster3/,
        );
        expect(again.out()).toMatch(
            /PASS  istiod-network-gateways  .*cluster1 10\.5\.0\.101:15443, cluster2 10\.5\.0\.122:15443, cluster3 10\.5\.0\.141:15443/,
        );
    });

    test("the remote secret missing: istiod-remote-cluster FAILs and says which stack to re-run", async () => {
        const cluster = healthyCluster();
        cluster.secrets = [];
        const { deps, out } = depsFor(cluster);
        expect(await main(["--stack", "comp2", "--token", TOKEN], deps)).toBe(EXIT.failed);
        expect(out()).toMatch(
            /FAIL  istiod-remote-cluster  .*istio-remote-secret-cluster2 not found: run `pulumi up` on stack "comp2"/,
        );
    });

    test("the proxy holding an istiod-issued certificate from another root: workload-certificate FAILs", async () => {
        const cluster = healthyCluster();
        const healthy = cluster.onExec;
        const foreign = JSON.stringify({
            configs: [
                {
                    name: "default",
                    secret: {
                        tls_certificate: {
                            certificate_chain: {
                                inline_bytes: Buffer.from(fixture("other-root-leaf.pem")).toString("base64"),
                            },
                        },
                    },
                },
                {
                    name: "ROOTCA",
                    secret: {
                        validation_context: {
                            trusted_ca: { inline_bytes: Buffer.from(fixture("other-root.pem")).toString("base64") },
                        },
                    },
                },
            ],
        });
        cluster.onExec = (p, c, cmd) => (c === "istio-proxy" ? ok(foreign) : healthy(p, c, cmd));
        const { deps, out } = depsFor(cluster);
        expect(await main(["--stack", "comp2", "--token", TOKEN, "--json"], deps)).toBe(EXIT.failed);
        const failed = (JSON.parse(out()) as Report).results.filter((r) => r.status === "fail");
        expect(failed.map((r) => r.id)).toEqual(["workload-certificate"]);
        expect(failed[0].detail).toMatch(
            /not signed by the lab root .*; the proxy's trusted roots \(1\) do not include the lab root/,
        );
    });

    test("no network policy enforced (istiod answers sleep): network-segmentation FAILs; a sidecar's upstream-connect 503 counts as dropped", async () => {
        const open = healthyCluster();
        const handler = open.onExec;
        open.onExec = (p, container, command) =>
            command[command.length - 1] === "http://istiod.istio-system:15014/version"
                ? ok('{"version":"1.30.3"}\n200')
                : handler(p, container, command);
        const { deps, out } = depsFor(open);
        expect(await main(["--stack", "comp2", "--token", TOKEN, "--only", "network-segmentation"], deps)).toBe(
            EXIT.failed,
        );
        expect(out()).toMatch(
            /FAIL  network-segmentation  .*denied flow http:\/\/istiod\.istio-system:15014\/version: HTTP 200, expected no connection/,
        );

        const viaSidecar = healthyCluster();
        const inner = viaSidecar.onExec;
        viaSidecar.onExec = (p, container, command) =>
            command[command.length - 1] === "http://istiod.istio-system:15014/version"
                ? ok("upstream connect error or disconnect/reset before headers. reset reason: connection timeout\n503")
                : inner(p, container, command);
        const second = depsFor(viaSidecar);
        expect(await main(["--stack", "comp2", "--token", TOKEN, "--only", "network-segmentation"], second.deps)).toBe(
            EXIT.ok,
        );
        expect(second.out()).toMatch(
            /PASS  network-segmentation  .*istiod\.istio-system:15014\/version: 503 upstream connect error/,
        );
    });

    test("an ingress that lets a bad token through: ingress-jwt FAILs", async () => {
        const lax: HttpGet = async (_url, headers) => (headers.Authorization ? 200 : 403);
        const { deps, out } = depsFor(healthyCluster(), lax);
        expect(await main(["--stack", "comp2", "--token", TOKEN], deps)).toBe(EXIT.failed);
        expect(out()).toMatch(/FAIL  ingress-jwt  .*bad token: HTTP 200, expected 401/);
    });

    test("no token and a lab issuer in the outputs: verify gets one by the client-credentials grant and ingress-jwt PASSes", async () => {
        const { deps, out } = depsFor(healthyCluster(), enforcingIngress, { ...target, issuer: LAB_CLIENT });
        expect(await main(["--stack", "comp2", "--only", "ingress-jwt"], deps)).toBe(EXIT.ok);
        expect(out()).toMatch(/PASS  ingress-jwt  .*valid 200, missing 403, bad 401/);
        const refused = depsFor(healthyCluster(), enforcingIngress, {
            ...target,
            issuer: { ...LAB_CLIENT, clientSecret: "wrong" },
        });
        expect(await main(["--stack", "comp2", "--only", "ingress-jwt"], refused.deps)).toBe(EXIT.failed);
        expect(refused.out()).toMatch(
            /FAIL  ingress-jwt  .*: no token from https:\/\/10\.5\.0\.2:9443\/realms\/zta\/protocol\/openid-connect\/token for client "zta-testbed": the token endpoint answered HTTP 401/,
        );
    });

    test("with the issuer's second client: a token for another audience is refused (401), and the PASS line says so", async () => {
        const { deps, out } = depsFor(healthyCluster(), enforcingIngress, {
            ...target,
            issuer: LAB_CLIENT,
            otherAudienceIssuer: OTHER_CLIENT,
        });
        expect(await main(["--stack", "comp2", "--only", "ingress-jwt"], deps)).toBe(EXIT.ok);
        expect(out()).toMatch(/PASS  ingress-jwt  .*valid 200, missing 403, bad 401, other-audience 401 \(/);
    });

    test("an ingress that accepts any audience of its issuer: ingress-jwt FAILs on the other-audience token", async () => {
        // Checks signatures but not audiences: both clients' tokens pass.
        const anyAudience: HttpGet = async (url, headers, timeoutMs, ca) =>
            headers.Authorization === `Bearer ${OTHER_AUDIENCE_TOKEN}`
                ? 200
                : enforcingIngress(url, headers, timeoutMs, ca);
        const { deps, out } = depsFor(healthyCluster(), anyAudience, {
            ...target,
            issuer: LAB_CLIENT,
            otherAudienceIssuer: OTHER_CLIENT,
        });
        expect(await main(["--stack", "comp2", "--only", "ingress-jwt"], deps)).toBe(EXIT.failed);
        expect(out()).toMatch(/FAIL  ingress-jwt  .*other-audience token: HTTP 200, expected 401 or 403/);
    });

    test("without a second client in the outputs the audience case is not run, and the PASS line says it was not tested", async () => {
        const { deps, out } = depsFor(healthyCluster(), enforcingIngress, { ...target, issuer: LAB_CLIENT });
        expect(await main(["--stack", "comp2", "--only", "ingress-jwt"], deps)).toBe(EXIT.ok);
        expect(out()).toMatch(
            /PASS  ingress-jwt  .*bad 401; other-audience not tested \(no second client of the lab issuer/,
        );
    });

    test("federated, the issuer in the root stack: its token endpoint is trusted with that stack's root (issuerCaCert), the gateway with this stack's own", async () => {
        const rootStackRoot = fixture("other-root.pem");
        // The issuer's certificate chains to the root stack's root only.
        const rootStackIssuer: TokenFetch = async (_client, ca) => {
            if (ca !== rootStackRoot) throw new Error("self-signed certificate in certificate chain");
            return TOKEN;
        };
        const federatedIssuer = { ...federatedTarget, issuer: LAB_CLIENT, issuerCaCert: rootStackRoot };
        const { deps, out } = depsFor(healthyCluster(), enforcingIngress, federatedIssuer);
        expect(
            await main(["--stack", "comp2", "--only", "ingress-jwt"], { ...deps, fetchToken: rootStackIssuer }),
        ).toBe(EXIT.ok);
        expect(out()).toMatch(/PASS  ingress-jwt  .*valid 200, missing 403, bad 401/);
        // Trusting this stack's own root for the issuer instead fails.
        const own = depsFor(healthyCluster(), enforcingIngress, { ...federatedIssuer, issuerCaCert: undefined });
        expect(
            await main(["--stack", "comp2", "--only", "ingress-jwt"], { ...own.deps, fetchToken: rootStackIssuer }),
        ).toBe(EXIT.failed);
        expect(own.out()).toMatch(/FAIL  ingress-jwt  .*no token from .*self-signed certificate in certificate chain/);
    });

    test("no token: ingress-jwt FAILs and says how to give one; --skip leaves it out with exit 0", async () => {
        const first = depsFor(healthyCluster());
        expect(await main(["--stack", "comp2"], first.deps)).toBe(EXIT.failed);
        expect(first.out()).toMatch(/FAIL  ingress-jwt  .*pass --token or --token-file/);
        const second = depsFor(healthyCluster());
        expect(await main(["--stack", "comp2", "--skip", "ingress-jwt"], second.deps)).toBe(EXIT.ok);
        expect(second.out()).toMatch(/^SKIP  ingress-jwt/m);
    });

    test("a configured workload's pod without a SPIRE entry: spire-entries FAILs naming its SPIFFE ID; pods-ready looks in its namespace", async () => {
        const cluster = healthyCluster();
        const healthy = cluster.onExec;
        cluster.onExec = (p, c, cmd) => {
            const reply = healthy(p, c, cmd) as ExecResult;
            if (c !== "spire-server") return reply;
            const entries = JSON.parse(reply.stdout) as { entries: { id: string }[] };
            const kept = entries.entries.filter((e) => e.id !== "/ns/flask/sa/flask-hello");
            return ok(JSON.stringify({ ...entries, entries: kept }));
        };
        cluster.pods = cluster.pods.map((p) => (p.namespace === "flask" ? { ...p, ready: false } : p));
        const { deps, out } = depsFor(cluster);
        expect(await main(["--stack", "comp2", "--only", "spire-entries,pods-ready"], deps)).toBe(EXIT.failed);
        expect(out()).toMatch(
            /FAIL  spire-entries  .*no SPIRE registration entry for spiffe:\/\/zta\.lab\/ns\/flask\/sa\/flask-hello/,
        );
        expect(out()).toMatch(/FAIL  pods-ready  .*flask\/flask-hello-5c6d7f8b9-k3l4m not Ready/);
    });

    test("--only runs just the named checks", async () => {
        const cluster = healthyCluster();
        const { deps, out } = depsFor(cluster);
        expect(await main(["--stack", "comp2", "--only", "spire-entries"], deps)).toBe(EXIT.ok);
        expect(lines(out()).filter((l) => l.startsWith("PASS"))).toEqual([
            expect.stringMatching(/^PASS  spire-entries  /),
        ]);
        expect(cluster.execs).toEqual([
            "spire-server/spire-server-0/spire-server: /opt/spire/bin/spire-server entry show -output json",
        ]);
    });

    test("a check that hangs is cut at --timeout and FAILs; the next checks still run", async () => {
        const cluster = healthyCluster();
        const healthy = cluster.onExec;
        cluster.onExec = (p, c, cmd) =>
            c === "spire-server" ? new Promise<ExecResult>(() => undefined) : healthy(p, c, cmd);
        const { deps, out } = depsFor(cluster);
        const start = Date.now();
        expect(await main(["--stack", "comp2", "--token", TOKEN, "--timeout", "0.3"], deps)).toBe(EXIT.failed);
        expect(Date.now() - start).toBeLessThan(5000);
        expect(out()).toMatch(/FAIL  spire-entries  .*no answer within 0\.3s/);
        expect(out()).toMatch(/PASS  workload-certificate/);
    });

    test("a pod not Ready fails pods-ready naming it", async () => {
        const cluster = healthyCluster();
        cluster.pods = cluster.pods.map((p) =>
            p.name === "spire-agent-9kq4z"
                ? { ...p, ready: false, phase: "Pending", notReadyContainers: ["spire-agent"] }
                : p,
        );
        const { deps, out } = depsFor(cluster);
        await main(["--stack", "comp2", "--only", "pods-ready"], deps);
        expect(out()).toMatch(
            /FAIL  pods-ready  .*spire-system\/spire-agent-9kq4z not Ready \(phase Pending, containers spire-agent\)/,
        );
    });
});

describe("remote-secret-scope: what a remote secret's token opens on the peer", () => {
    const scopeLine = async (accessReview: (kubeconfig: string) => ScopedReview, cluster = healthyCluster()) => {
        const { deps, out } = depsFor(cluster, enforcingIngress, target, accessReview);
        const code = await main(["--stack", "comp2", "--only", "remote-secret-scope"], deps);
        return { code, line: lines(out()).find((l) => / remote-secret-scope /.test(l)) ?? "" };
    };

    test("the reader's grants: PASS, and the line says where and how many reads were allowed and denied", async () => {
        const { code, line } = await scopeLine(peerApi(READER_GRANTS));
        expect(code).toBe(EXIT.ok);
        expect(line).toMatch(
            /^PASS  remote-secret-scope  .*: istio-remote-secret-cluster2 at https:\/\/cluster2\.api:6443: 18 reads allowed, \d+ denied/,
        );
    });

    test("--help says what the token may and may not do, naming the CA Secrets", () => {
        const proves = CHECKS.find((c) => c.id === "remote-secret-scope")?.proves ?? "";
        expect(proves).toMatch(
            /may list,watch namespaces, services, pods, nodes, endpointslices\.discovery\.k8s\.io, .*configmaps istio-system\/istio; may not get secrets istio-system\/cacerts.*get secrets spire-server\/spire-upstream-ca/,
        );
        expect(proves).toMatch(
            /; list,watch secrets; list configmaps istio-system; create,update,patch,delete,deletecollection namespaces, services, .*secrets istio-system; create serviceaccounts\/token istio-system;/,
        );
    });

    test("the chart's istio-reader ClusterRole (every Secret): FAIL naming the CA Secrets it opens", async () => {
        const { code, line } = await scopeLine(peerApi(CHART_READER_GRANTS));
        expect(code).toBe(EXIT.failed);
        expect(line).toMatch(
            /^FAIL  remote-secret-scope  .*istio-remote-secret-cluster2 at https:\/\/cluster2\.api:6443: allowed what it must not be: get secrets istio-system\/cacerts, list secrets istio-system, get secrets spire-server\/spire-upstream-ca, list secrets spire-server, list secrets, watch secrets, list configmaps istio-system/,
        );
    });

    test("a role without endpointslices: FAIL naming the reads istiod would miss", async () => {
        const noSlices = READER_GRANTS.map((g) => ({
            ...g,
            rules: g.rules.filter((r) => !r.apiGroups.includes("discovery.k8s.io")),
        }));
        const { line } = await scopeLine(peerApi(noSlices));
        expect(line).toMatch(
            /FAIL  remote-secret-scope  .*denied what a peer's istiod reads: list endpointslices\.discovery\.k8s\.io, watch endpointslices\.discovery\.k8s\.io \(/,
        );
    });

    test("a write slipped in (services patch) or the mesh ConfigMap rule without its name: FAIL naming them", async () => {
        const loose: RbacGrant[] = [
            { rules: [...READER_GRANTS[0].rules, { apiGroups: [""], resources: ["services"], verbs: ["patch"] }] },
            {
                namespace: "istio-system",
                rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["list", "watch"] }],
            },
        ];
        const { line } = await scopeLine(peerApi(loose));
        expect(line).toMatch(/allowed what it must not be: list configmaps istio-system, patch services \(/);
    });

    test("a token the peer refuses, or a remote secret without its cluster's key: FAIL saying so", async () => {
        const refused = await scopeLine((kubeconfig) => ({
            server: "https://cluster2.api:6443",
            review: () =>
                Promise.reject(
                    new Error(
                        `SelfSubjectAccessReview at https://cluster2.api:6443: Unauthorized (HTTP 401) for ${kubeconfig}`,
                    ),
                ),
        }));
        expect(refused.line).toMatch(/FAIL  remote-secret-scope  .*Unauthorized \(HTTP 401\)/);
        const cluster = healthyCluster();
        cluster.secretData = async () => ({ "cluster-two": "kubeconfig of cluster-two" });
        expect((await scopeLine(peerApi(READER_GRANTS), cluster)).line).toMatch(
            /FAIL  remote-secret-scope  .*istio-remote-secret-cluster2 has no key "cluster2" \(keys: cluster-two\)/,
        );
    });

    test("istiod gives the peer up as timeout (its Secrets informer is denied): istiod-remote-cluster PASSes saying so; syncing FAILs", async () => {
        const withStatus = (syncStatus: string) => {
            const cluster = healthyCluster();
            const healthy = cluster.onExec;
            cluster.onExec = (p, c, cmd) =>
                cmd.join(" ") === "pilot-discovery request GET /debug/clusterz"
                    ? ok(
                          JSON.stringify([
                              { id: "cluster1", secretName: "", syncStatus: "synced" },
                              { id: "cluster2", secretName: "istio-system/istio-remote-secret-cluster2", syncStatus },
                          ]),
                      )
                    : healthy(p, c, cmd);
            return cluster;
        };
        const timeout = depsFor(withStatus("timeout"));
        expect(await main(["--stack", "comp2", "--only", "istiod-remote-cluster"], timeout.deps)).toBe(EXIT.ok);
        expect(timeout.out()).toMatch(
            /PASS  istiod-remote-cluster  .*timeout "cluster2" from istio-remote-secret-cluster2/,
        );
        const syncing = depsFor(withStatus("syncing"));
        expect(await main(["--stack", "comp2", "--only", "istiod-remote-cluster"], syncing.deps)).toBe(EXIT.failed);
        expect(syncing.out()).toMatch(
            /FAIL  istiod-remote-cluster  .*istiod's view of "cluster2" is syncing, not synced or timeout/,
        );
    });

    test("the real client: one SelfSubjectAccessReview per probe, with the remote secret's token, answered by the API server", async () => {
        const asked: { auth?: string; attrs: Record<string, string> }[] = [];
        const api = http.createServer((req, res) => {
            let body = "";
            req.on("data", (c) => (body += c));
            req.on("end", () => {
                const review = JSON.parse(body) as {
                    kind: string;
                    spec: { resourceAttributes: Record<string, string> };
                };
                const attrs = review.spec.resourceAttributes;
                asked.push({ auth: req.headers.authorization, attrs });
                const ok =
                    req.method === "POST" &&
                    req.url === "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" &&
                    review.kind === "SelfSubjectAccessReview";
                res.writeHead(ok ? 201 : 404, { "content-type": "application/json" });
                res.end(
                    JSON.stringify({
                        ...review,
                        status: { allowed: attrs.resource === "pods" && attrs.verb === "list" },
                    }),
                );
            });
        });
        await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
        try {
            const port = (api.address() as net.AddressInfo).port;
            const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{ name: cluster2, cluster: { server: "http://127.0.0.1:${port}" } }]
users: [{ name: cluster2, user: { token: reader-token } }]
contexts: [{ name: cluster2, context: { cluster: cluster2, user: cluster2 } }]
current-context: cluster2
`;
            const { server, review } = selfAccessReview(kubeconfig, 2000);
            expect(server).toBe(`http://127.0.0.1:${port}`);
            expect(await review({ verb: "list", group: "", resource: "pods" })).toBe(true);
            expect(
                await review({
                    verb: "get",
                    group: "",
                    resource: "secrets",
                    namespace: "istio-system",
                    name: "cacerts",
                }),
            ).toBe(false);
            expect(asked).toEqual([
                { auth: "Bearer reader-token", attrs: { verb: "list", group: "", resource: "pods" } },
                {
                    auth: "Bearer reader-token",
                    attrs: { verb: "get", group: "", resource: "secrets", namespace: "istio-system", name: "cacerts" },
                },
            ]);
        } finally {
            api.close();
        }
    });
});

describe("verify's catalog", () => {
    test("runs the checks in their documented order, each the one check of verify/checks/<id>.ts", async () => {
        const ids = [
            "pods-ready",
            "gateway-addresses",
            "istiod-remote-cluster",
            "remote-secret-scope",
            "istiod-network-gateways",
            "spire-entries",
            "workload-certificate",
            "cross-cluster-traffic",
            "mtls-client-identity",
            "cross-domain-identity",
            "network-segmentation",
            "workload-flows",
            "ingress-jwt",
        ];
        expect(CHECKS.map((c) => c.id)).toEqual(ids);
        const dir = path.join(__dirname, "..", "verify", "checks");
        expect(readdirSync(dir).sort()).toEqual(ids.map((id) => `${id}.ts`).sort());
        for (const check of CHECKS) {
            const exported = Object.values((await import(path.join(dir, check.id))) as Record<string, unknown>).filter(
                (v) => typeof v === "object" && v !== null && "proves" in v,
            );
            expect(exported).toHaveLength(1);
            expect(exported[0]).toBe(check);
        }
    });
});

describe("verify's command line", () => {
    test("--help documents every check without reading any stack", async () => {
        const { deps, out } = depsFor(healthyCluster());
        deps.readStack = () => Promise.reject(new Error("--help must not read a stack"));
        expect(await main(["--help"], deps)).toBe(EXIT.ok);
        for (const c of CHECKS) expect(out()).toContain(`  ${c.id}\n      ${c.proves}`);
        expect(helpText()).toMatch(/Exit codes: 0 .*\n1 a check failed; 2 verify could not run/);
    });

    test.each([
        [[], /--stack is required/],
        [["--stack", "comp2", "--timeout", "0"], /--timeout must be a positive number of seconds, got "0"/],
        [["--stack", "comp2", "--requests", "1"], /--requests must be an integer of at least 2/],
        [["--stack", "comp2", "--only", "dns"], /--only: unknown check dns/],
        [["--stack", "comp2", "--token-file", "missing.jwt"], /--token-file: ENOENT: missing.jwt/],
        [["--stack", "comp2", "--colour"], /Unknown option '--colour'/],
    ])("%j is a usage error (exit 2)", async (argv, message) => {
        const { deps, progress } = depsFor(healthyCluster());
        expect(await main(argv as string[], deps)).toBe(EXIT.cannotVerify);
        expect(progress()).toMatch(message);
    });

    test("a stack that cannot be read exits 2 naming the stack", async () => {
        const { deps, progress } = depsFor(healthyCluster());
        expect(await main(["--stack", "comp9"], deps)).toBe(EXIT.cannotVerify);
        expect(progress()).toContain(`cannot read stack "comp9": no stack named 'comp9' found`);
    });
});

describe("an unreachable cluster fails fast, naming the stack and the endpoint", () => {
    const kubeconfigFor = (port: number) => `apiVersion: v1
kind: Config
clusters:
- name: cluster1
  cluster: { server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true }
users:
- name: admin
  user: { token: not-a-real-token }
contexts:
- name: admin@cluster1
  context: { cluster: cluster1, user: admin }
current-context: admin@cluster1
`;

    function realClientDeps(port: number) {
        const fake = depsFor(healthyCluster());
        fake.deps.readStack = async () => ({ target, kubeconfig: kubeconfigFor(port) });
        fake.deps.makeCluster = (kubeconfig, timeoutMs, connectTimeoutMs) =>
            new KubeCluster(kubeconfig, timeoutMs, connectTimeoutMs);
        return fake;
    }

    test("nothing listening on the API port: exit 2 at once", async () => {
        const port = await closedPort();
        const { deps, progress, out } = realClientDeps(port);
        const start = Date.now();
        const code = await main(["--stack", "comp2", "--json"], deps);
        expect(code).toBe(EXIT.cannotVerify);
        expect(Date.now() - start).toBeLessThan(5000);
        expect(progress()).toMatch(
            new RegExp(
                `cannot reach the Kubernetes API of stack "comp2" at https://127\\.0\\.0\\.1:${port}: GET /version: .*ECONNREFUSED`,
            ),
        );
        expect(JSON.parse(out())).toMatchObject({
            stack: "comp2",
            endpoint: `https://127.0.0.1:${port}`,
            ok: false,
            results: [],
        });
    });

    test("an API port that accepts but never answers: cut at --connect-timeout", async () => {
        const sockets: net.Socket[] = [];
        const silent = net.createServer((socket) => void sockets.push(socket));
        await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
        const port = (silent.address() as net.AddressInfo).port;
        try {
            const { deps, progress } = realClientDeps(port);
            const start = Date.now();
            expect(await main(["--stack", "comp2", "--connect-timeout", "0.5"], deps)).toBe(EXIT.cannotVerify);
            expect(Date.now() - start).toBeLessThan(5000);
            expect(progress()).toMatch(
                new RegExp(`stack "comp2" at https://127\\.0\\.0\\.1:${port}: GET /version: no answer within 0\\.5s`),
            );
        } finally {
            for (const socket of sockets) socket.destroy();
            silent.close();
        }
    });
});

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
}
