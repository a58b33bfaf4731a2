// The decision logic of verify's checks on samples of what the mesh answers.
import { PodInfo } from "../verify/cluster";
import { trafficProblems } from "../verify/checks/cross-cluster-traffic";
import { gatewayProblems } from "../verify/checks/gateway-addresses";
import { networkGatewayProblems } from "../verify/checks/istiod-network-gateways";
import { remoteClusterProblems } from "../verify/checks/istiod-remote-cluster";
import { xfccProblems } from "../verify/checks/mtls-client-identity";
import { podProblems } from "../verify/checks/pods-ready";
import { missingEntries } from "../verify/checks/spire-entries";
import {
    corruptSignature,
    EXPECTED_STATUS,
    ingressUrl,
    jwtOutcome,
    tlsProblem,
    tokenFromResponse,
} from "../verify/ingress";
import {
    parseClusterz,
    parseNetworkz,
    parseXfcc,
    spireEntryIds,
    tallyHelloworld,
    xfccFromHttpbin,
    xfccUris,
} from "../verify/parse";

const SLEEP_ID = "spiffe://zta.lab/ns/sample/sa/sleep";
const HASH = "9ba61d0425c8b2d7f18ce7e7ad2e9bcd4f1d2c0a3e3c9f2d1b5a6c7e8f9a0b1c";

describe("X-Forwarded-Client-Cert shows the caller's SPIFFE ID", () => {
    test("Envoy's single-hop header: By, Hash, empty quoted Subject, URI", () => {
        const header = `By=spiffe://zta.lab/ns/sample/sa/httpbin;Hash=${HASH};Subject="";URI=${SLEEP_ID}`;
        expect(parseXfcc(header)).toEqual([
            { By: ["spiffe://zta.lab/ns/sample/sa/httpbin"], Hash: [HASH], Subject: [""], URI: [SLEEP_ID] },
        ]);
    });

    test("two elements, a quoted Subject holding ',' ';' and an escaped quote", () => {
        const header =
            `By=spiffe://zta.lab/ns/sample/sa/httpbin;Hash=${HASH};Subject="CN=a \\"b\\", O=x;y";URI=spiffe://zta.lab/ns/istio-system/sa/istio-ingressgateway,` +
            `By=spiffe://zta.lab/ns/istio-system/sa/istio-ingressgateway;URI=${SLEEP_ID};DNS=sleep.sample;DNS=sleep`;
        const elements = parseXfcc(header);
        expect(elements).toHaveLength(2);
        expect(elements[0].Subject).toEqual(['CN=a "b", O=x;y']);
        expect(elements[1].DNS).toEqual(["sleep.sample", "sleep"]);
        expect(xfccUris(header)).toEqual(["spiffe://zta.lab/ns/istio-system/sa/istio-ingressgateway", SLEEP_ID]);
    });

    test("go-httpbin (header values as lists) and classic httpbin (strings) both yield the header", () => {
        const header = `By=spiffe://zta.lab/ns/sample/sa/httpbin;Hash=${HASH};Subject="";URI=${SLEEP_ID}`;
        const goHttpbin = JSON.stringify({ headers: { Accept: ["*/*"], "X-Forwarded-Client-Cert": [header] } });
        const classic = JSON.stringify({ headers: { Accept: "*/*", "X-Forwarded-Client-Cert": header } });
        expect(xfccFromHttpbin(goHttpbin)).toBe(header);
        expect(xfccFromHttpbin(classic)).toBe(header);
        expect(xfccProblems(goHttpbin, SLEEP_ID)).toEqual([]);
    });

    test("another caller's identity fails, naming what was seen", () => {
        const body = JSON.stringify({
            headers: { "X-Forwarded-Client-Cert": [`By=x;URI=spiffe://zta.lab/ns/default/sa/default`] },
        });
        expect(xfccProblems(body, SLEEP_ID)).toEqual([
            `X-Forwarded-Client-Cert URIs are [spiffe://zta.lab/ns/default/sa/default], expected ${SLEEP_ID}`,
        ]);
    });

    test("no XFCC at all (plaintext hop) fails", () => {
        expect(xfccProblems(JSON.stringify({ headers: { Accept: ["*/*"] } }), SLEEP_ID)).toEqual([
            expect.stringMatching(/no X-Forwarded-Client-Cert/),
        ]);
    });

    test("a reply that is not JSON (an Envoy error page) fails with its start", () => {
        expect(xfccProblems("upstream connect error or disconnect/reset before headers", SLEEP_ID)).toEqual([
            expect.stringMatching(/not JSON: upstream connect error/),
        ]);
    });
});

describe("calls from sleep reach helloworld in both clusters", () => {
    const reply = (v: string, pod: string) => `Hello version: ${v}, instance: helloworld-${v}-${pod}`;

    test("the tally counts replies by version and keeps what is not a reply", () => {
        const out = [
            reply("v1", "6d65866976-jb6qc"),
            reply("v2", "7d9b8cdd5c-4k8xq"),
            "",
            reply("v1", "6d65866976-jb6qc"),
            "curl: (28) Operation timed out after 2001 milliseconds",
        ].join("\n");
        expect(tallyHelloworld(out)).toEqual({
            versions: { v1: 2, v2: 1 },
            other: ["curl: (28) Operation timed out after 2001 milliseconds"],
        });
    });

    test("replies from both v1 and v2 pass", () => {
        expect(trafficProblems(tallyHelloworld([reply("v1", "a-b"), reply("v2", "c-d")].join("\n")), 2)).toEqual([]);
    });

    test("only the local version answering fails, naming the missing one", () => {
        const tally = tallyHelloworld(Array(10).fill(reply("v1", "6d65866976-jb6qc")).join("\n"));
        expect(trafficProblems(tally, 10)).toEqual(["no reply from helloworld v2", "of 10 calls: v1: 10"]);
    });

    test("no replies at all fails and shows the errors", () => {
        const tally = tallyHelloworld(
            "upstream connect error or disconnect/reset before headers. reset reason: connection failure\n",
        );
        expect(trafficProblems(tally, 5)[2]).toMatch(/no replies; other output: upstream connect error/);
    });
});

describe("istiod sees the peer cluster and both east-west gateways", () => {
    const clusterz = JSON.stringify([
        { id: "cluster1", secretName: "", syncStatus: "synced" },
        { id: "cluster2", secretName: "istio-system/istio-remote-secret-cluster2", syncStatus: "synced" },
    ]);
    const networkz = JSON.stringify([
        {
            Network: "network1",
            Cluster: "cluster1",
            Addr: "10.5.0.101",
            Port: 15443,
            HBONEPort: 0,
            ServiceAccount: { Namespace: "istio-system", Name: "istio-eastwestgateway" },
        },
        {
            Network: "network2",
            Cluster: "cluster2",
            Addr: "10.5.0.122",
            Port: 15443,
            HBONEPort: 0,
            ServiceAccount: { Namespace: "istio-system", Name: "istio-eastwestgateway" },
        },
    ]);
    const both = [
        { cluster: "cluster1", address: "10.5.0.101" },
        { cluster: "cluster2", address: "10.5.0.122" },
    ];

    test("a synced remote cluster passes", () => {
        expect(remoteClusterProblems(parseClusterz(clusterz), "cluster2")).toEqual([]);
    });

    const withStatus = (status: string) =>
        parseClusterz(
            clusterz.replace(
                '"istio-system/istio-remote-secret-cluster2","syncStatus":"synced"',
                `"istio-system/istio-remote-secret-cluster2","syncStatus":"${status}"`,
            ),
        );

    test("a remote cluster still syncing, or closed, fails", () => {
        expect(remoteClusterProblems(withStatus("syncing"), "cluster2")).toEqual([
            `istiod's view of "cluster2" is syncing, not synced or timeout (from istio-system/istio-remote-secret-cluster2)`,
        ]);
        expect(remoteClusterProblems(withStatus("closed"), "cluster2")).toHaveLength(1);
    });

    test("timeout passes: what istiod 1.30.3 reports 30 s after it starts for a peer whose Secrets the reader may not list", () => {
        // pilot/pkg/credentials/kube/secrets.go's Secrets informer on the peer never syncs, so
        // pkg/kube/multicluster/cluster.go gives the peer up as "timeout". A peer whose API cannot be
        // reached ends there too: istiod-network-gateways then fails (no gateway of the peer's registry).
        expect(remoteClusterProblems(withStatus("timeout"), "cluster2")).toEqual([]);
    });

    test("istiod reading only its own cluster fails, listing what it reads", () => {
        const own = parseClusterz(JSON.stringify([{ id: "cluster1", secretName: "", syncStatus: "synced" }]));
        expect(remoteClusterProblems(own, "cluster2")).toEqual([
            `istiod reads no cluster "cluster2"; it reads [cluster1: synced]`,
        ]);
    });

    test("both gateways at their addresses on 15443 pass", () => {
        expect(networkGatewayProblems(parseNetworkz(networkz), both)).toEqual([]);
    });

    test("the peer's gateway at another address (pending LoadBalancer, wrong pool) fails", () => {
        const moved = parseNetworkz(networkz.replace("10.5.0.122", "10.5.0.130"));
        expect(networkGatewayProblems(moved, both)).toEqual([
            expect.stringMatching(
                /^istiod knows no gateway 10\.5\.0\.122:15443 for cluster "cluster2" \(it knows: .*10\.5\.0\.130:15443\)$/,
            ),
        ]);
    });

    test("the peer's gateway at its address but on another port than 15443 fails, naming the port istiod announces", () => {
        // 15443 is the cross-network port Istio's multi-network install uses (the Gateway's AUTO_PASSTHROUGH server).
        const otherPort = JSON.parse(networkz) as { Cluster: string; Port: number }[];
        otherPort.find((g) => g.Cluster === "cluster2")!.Port = 15444;
        expect(networkGatewayProblems(parseNetworkz(JSON.stringify(otherPort)), both)).toEqual([
            'istiod knows no gateway 10.5.0.122:15443 for cluster "cluster2" (it knows: cluster1/network1 10.5.0.101:15443, cluster2/network2 10.5.0.122:15444)',
        ]);
    });

    test("an empty networkz (`null`) fails for both", () => {
        expect(networkGatewayProblems(parseNetworkz("null"), both)).toHaveLength(2);
    });
});

describe("SPIRE has entries for the gateways and the sample workloads", () => {
    // `spire-server entry show -output json` (SPIRE 1.12 cmd/spire-server/cli/entry).
    const entry = (path: string) => ({
        id: "5e0f1f2c-8f1e-4a55-9b0e-1d2c3b4a5f60",
        spiffe_id: { trust_domain: "zta.lab", path },
        parent_id: { trust_domain: "zta.lab", path: "/spire/agent/k8s_psat/cluster1/6b1c7f0e" },
        selectors: [{ type: "k8s", value: "pod-uid:1f2e3d4c" }],
        x509_svid_ttl: 0,
        federates_with: [],
        hint: "",
        admin: false,
        created_at: "1763916301",
        downstream: false,
        expires_at: "0",
        dns_names: [],
        revision_number: "0",
        store_svid: false,
        jwt_svid_ttl: 0,
    });
    const out = JSON.stringify(
        {
            entries: [entry("/ns/istio-system/sa/istio-ingressgateway"), entry("/ns/sample/sa/curl")],
            next_page_token: "",
        },
        null,
        2,
    );

    test("entries are read as SPIFFE IDs", () => {
        expect(spireEntryIds(out)).toEqual([
            "spiffe://zta.lab/ns/istio-system/sa/istio-ingressgateway",
            "spiffe://zta.lab/ns/sample/sa/curl",
        ]);
    });

    test("a workload without an entry is named", () => {
        const expected = [
            "spiffe://zta.lab/ns/istio-system/sa/istio-ingressgateway",
            "spiffe://zta.lab/ns/istio-system/sa/istio-eastwestgateway",
            "spiffe://zta.lab/ns/sample/sa/curl",
        ];
        expect(missingEntries(expected, spireEntryIds(out))).toEqual([
            "no SPIRE registration entry for spiffe://zta.lab/ns/istio-system/sa/istio-eastwestgateway",
        ]);
    });

    test("an empty SPIRE server (`{}` with no entries) misses everything", () => {
        expect(missingEntries(["spiffe://zta.lab/ns/sample/sa/curl"], spireEntryIds("{}"))).toHaveLength(1);
    });
});

describe("pods and gateway addresses", () => {
    const pod = (name: string, over: Partial<PodInfo> = {}): PodInfo => ({
        name,
        namespace: "istio-system",
        phase: "Running",
        ready: true,
        serviceAccount: name,
        labels: {},
        containers: ["discovery"],
        notReadyContainers: [],
        ...over,
    });

    test("Ready pods and finished Job pods pass", () => {
        expect(
            podProblems("istio-system", [
                pod("istiod-7c8b9"),
                pod("istio-remote-secret-job-x", { phase: "Succeeded", ready: false }),
            ]),
        ).toEqual([]);
    });

    test("a pod not Ready is named with its phase and containers", () => {
        const bad = pod("istio-ingressgateway-5d8f", {
            ready: false,
            phase: "Running",
            notReadyContainers: ["istio-proxy"],
        });
        expect(podProblems("istio-system", [pod("istiod-7c8b9"), bad])).toEqual([
            "istio-system/istio-ingressgateway-5d8f not Ready (phase Running, containers istio-proxy)",
        ]);
    });

    test("a namespace without pods fails", () => {
        expect(podProblems("spire-server", [])).toEqual(["spire-server: no pods"]);
    });

    const svc = (ips: string[], type = "LoadBalancer") => ({
        name: "istio-eastwestgateway",
        namespace: "istio-system",
        type,
        selector: { app: "istio-eastwestgateway" },
        loadBalancerIps: ips,
    });

    test("a gateway with its MetalLB address passes; pending, wrong or missing fails", () => {
        expect(gatewayProblems("istio-eastwestgateway", svc(["10.5.0.101"]), "10.5.0.101")).toEqual([]);
        expect(gatewayProblems("istio-eastwestgateway", svc([]), "10.5.0.101")).toEqual([
            "istio-eastwestgateway has address [none, still pending], expected 10.5.0.101 from MetalLB",
        ]);
        expect(gatewayProblems("istio-eastwestgateway", svc(["10.5.0.105"]), "10.5.0.101")).toHaveLength(1);
        expect(gatewayProblems("istio-eastwestgateway", svc([], "ClusterIP"), "10.5.0.101")).toEqual([
            "istio-eastwestgateway is a ClusterIP Service, expected LoadBalancer",
        ]);
        expect(gatewayProblems("istio-eastwestgateway", undefined, "10.5.0.101")).toEqual([
            "Service istio-system/istio-eastwestgateway not found",
        ]);
    });
});

describe("JWT at the ingress: the outcome table", () => {
    test.each([
        ["valid", 200, true],
        ["valid", 401, false],
        ["valid", 403, false],
        ["missing", 401, true],
        ["missing", 403, true],
        ["missing", 200, false],
        ["bad", 401, true],
        ["bad", 200, false],
        ["bad", 403, false],
        // A correctly signed token of the same issuer for another audience must not get through.
        ["other-audience", 401, true],
        ["other-audience", 403, true],
        ["other-audience", 200, false],
    ] as const)("%s token answered %i: %s", (tokenCase, status, ok) => {
        expect(jwtOutcome(tokenCase, status) === undefined).toBe(ok);
    });

    test("a failure names the case, the status and what was expected", () => {
        expect(jwtOutcome("missing", 200)).toBe("missing token: HTTP 200, expected 401 or 403");
        expect(EXPECTED_STATUS.valid).toEqual([200]);
        expect(jwtOutcome("other-audience", 200)).toBe("other-audience token: HTTP 200, expected 401 or 403");
    });

    test("the bad token differs from the valid one only in its signature", () => {
        const token =
            "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJodHRwczovL2NvbXAxIiwic3ViIjoidSJ9.QUJDREVGR0hJSktMTU5PUA";
        const bad = corruptSignature(token);
        const [h, p, s] = token.split(".");
        const [bh, bp, bs] = bad.split(".");
        expect([bh, bp]).toEqual([h, p]);
        expect(bs).not.toBe(s);
        expect(bs).toHaveLength(s.length);
        expect(corruptSignature(`${h}.${p}.AAAA`).split(".")[2]).toBe("BAAA");
    });

    test("a token that is not a signed JWT is refused up front", () => {
        expect(() => corruptSignature("not-a-jwt")).toThrow(/not a signed JWT/);
        expect(() => corruptSignature("a.b.")).toThrow(/not a signed JWT/);
    });

    test("a token endpoint's answer: the access token, or the OAuth error it names", () => {
        expect(
            tokenFromResponse(200, JSON.stringify({ access_token: "eyJ.a.b", token_type: "Bearer", expires_in: 300 })),
        ).toBe("eyJ.a.b");
        expect(() =>
            tokenFromResponse(
                401,
                JSON.stringify({ error: "unauthorized_client", error_description: "Invalid client secret" }),
            ),
        ).toThrow("the token endpoint answered HTTP 401 (unauthorized_client: Invalid client secret)");
        expect(() => tokenFromResponse(200, "{}")).toThrow("the token endpoint answered HTTP 200 (no access_token)");
        expect(() => tokenFromResponse(502, "<html>bad gateway</html>")).toThrow(/HTTP 502 with no JSON/);
    });

    test("the ingress URL is HTTPS and takes the path with or without its slash", () => {
        expect(ingressUrl("10.5.0.100", "/headers")).toBe("https://10.5.0.100/headers");
        expect(ingressUrl("10.5.0.100", "headers")).toBe("https://10.5.0.100/headers");
    });

    test("a gateway certificate that does not validate against the lab root is named as such; other errors pass through", () => {
        const err = (code: string, message: string) => Object.assign(new Error(message), { code });
        expect(tlsProblem(err("SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain"))).toMatch(
            /^the gateway's certificate does not validate against the lab root \(rootCaCert\): its chain ends in a root other than the lab root/,
        );
        expect(
            tlsProblem(err("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match certificate's altnames")),
        ).toMatch(/SANs do not name the address/);
        expect(tlsProblem(err("ECONNREFUSED", "connect ECONNREFUSED 10.5.0.100:443"))).toBe(
            "connect ECONNREFUSED 10.5.0.100:443",
        );
    });
});
