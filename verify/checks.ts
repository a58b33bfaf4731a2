// The checks `npm run verify` runs, in order. Each states what it proves (the
// --help text and docs/verify.md come from here), and its decision logic is an
// exported pure function the tests call on samples.
import { createHash, X509Certificate } from "crypto";
import {
    CROSS_NETWORK_PORT,
    EAST_WEST_GATEWAY,
    INGRESS_GATEWAY,
    ISTIO_NAMESPACE,
    METALLB_NAMESPACE,
    remoteSecretName,
    SAMPLE_APPS,
    SAMPLE_NAMESPACE,
    spiffeId,
    SPIRE_MANAGED_LABEL,
    SPIRE_SERVER_NAMESPACE,
    SPIRE_SYSTEM_NAMESPACE,
    workloadSpiffeId,
} from "../model/lab";
import { chainProblems, proxySecretsFromConfigDump, trustsRoot, uriSans } from "./certs";
import { Cluster, PodInfo, ScopedReview, ServiceInfo } from "./cluster";
import { corruptSignature, HttpGet, ingressUrl, IssuerClient, jwtOutcome, TokenCase, TokenFetch } from "./ingress";
import { NetworkGateway, parseClusterz, parseNetworkz, parseXfcc, RemoteCluster, spireEntryIds, tallyHelloworld, VersionTally, xfccFromHttpbin, xfccUris } from "./parse";
import { MUST_ALLOW, MUST_DENY, reviewScope, scopeSummary } from "./reader-scope";

/** What verify knows of the deployed stack (read from its outputs and config). */
export interface VerifyTarget {
    readonly stack: string;
    readonly clusterName: string;
    readonly trustDomain: string;
    readonly ingressAddress: string;
    readonly eastWestAddress: string;
    /** The lab root CA certificate (PEM): every workload certificate must chain to it. */
    readonly rootCaCert: string;
    /** `mesh.trustModel`: in "federated" each cluster has its own trust domain and root. */
    readonly trustModel: "shared" | "federated";
    /** The lab issuer's client (this stack's or its peer's outputs), when the lab runs its own issuer. */
    readonly issuer?: IssuerClient;
    /** The lab issuer's second client, whose tokens carry an audience the ingress must refuse. */
    readonly otherAudienceIssuer?: IssuerClient;
    /**
     * The CA of the lab issuer's certificate: the `labServicesCaCert` of the stack
     * that runs it, never a mesh root (verify/stack.ts, issuerTrust). Absent: rootCaCert.
     */
    readonly issuerCaCert?: string;
    /** Every peer of the roster (`peers`), with what its outputs say. */
    readonly peers: readonly PeerTarget[];
}

/** A peer stack as verify sees it: its roster entry and its outputs. */
export interface PeerTarget {
    readonly stack: string;
    readonly clusterName: string;
    /** The peer's trust domain (its `identity` output); undefined when not deployed. */
    readonly trustDomain?: string;
    /** The peer's root (its `rootCaCert` output); undefined when not deployed. */
    readonly rootCaCert?: string;
    /** Undefined when the peer stack has not exported it (not deployed yet). */
    readonly eastWestAddress?: string;
}

export interface VerifyOptions {
    /** Bound of one check, in milliseconds. */
    readonly timeoutMs: number;
    /** How many helloworld calls the traffic check makes. */
    readonly requests: number;
    readonly ingressPath: string;
    /** Host header for the ingress requests, when the Gateway does not serve `*`. */
    readonly ingressHost?: string;
    /** A valid JWT for the ingress; without one the JWT check fails and says how to give one. */
    readonly token?: string;
    readonly now: () => Date;
}

export interface CheckContext {
    readonly cluster: Cluster;
    readonly http: HttpGet;
    readonly fetchToken: TokenFetch;
    readonly target: VerifyTarget;
    readonly options: VerifyOptions;
    /** SelfSubjectAccessReviews with a kubeconfig's credentials, at the API server it names. */
    readonly accessReview: (kubeconfig: string) => ScopedReview;
}

export interface Check {
    readonly id: string;
    readonly title: string;
    /** What a PASS proves, for --help and docs/verify.md. */
    readonly proves: string;
    /** Resolves with a one-line detail on success; throws with the reason on failure. */
    run(ctx: CheckContext): Promise<string>;
}

/** Thrown by a check's decision: the message lists what is wrong. */
export class CheckFailed extends Error {
    constructor(problems: string[]) {
        super(problems.join("; "));
        this.name = "CheckFailed";
    }
}

/** Thrown by a check that does not apply to this deployment: the line says SKIP and why. */
export class CheckSkipped extends Error {
    constructor(reason: string) {
        super(reason);
        this.name = "CheckSkipped";
    }
}

function failIf(problems: string[]): void {
    if (problems.length > 0) throw new CheckFailed(problems);
}

/** The namespaces whose pods must all be Ready. */
export const PLATFORM_NAMESPACES = ["kube-system", METALLB_NAMESPACE, ISTIO_NAMESPACE, SPIRE_SERVER_NAMESPACE, SPIRE_SYSTEM_NAMESPACE, SAMPLE_NAMESPACE];

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
    crossCluster: { check: "cross-cluster-traffic", from: sleep.name, to: { service: helloworld.name, port: helloworld.port, path: "/hello" } },
    // curl, not sleep: the sample namespace is default-deny and httpbin admits only curl and the ingress gateway.
    clientIdentity: { check: "mtls-client-identity", from: curl.name, to: { service: httpbin.name, port: httpbin.port, path: "/headers" } },
    // Federated model only: the same call, answered by the peer cluster's httpbin.
    crossDomain: { check: "cross-domain-identity", from: curl.name, to: { service: httpbin.name, port: httpbin.port, path: "/headers" } },
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
    to: { namespace: ISTIO_NAMESPACE, service: "istiod", port: 15014, path: "/version" },
} as const;

export function meshCallUrl(call: MeshCall): string {
    return `http://${call.to.service}.${SAMPLE_NAMESPACE}:${call.to.port}${call.to.path}`;
}

/** The calling pod of a mesh call: its label selector and container. */
function callerOf(call: { readonly from: string }): { selector: string; container: string } {
    return { selector: `app=${call.from}`, container: call.from };
}

export const SAMPLE = {
    curl: { selector: `app=${curl.name}` },
    helloworldUrl: meshCallUrl(MESH_CALLS.crossCluster),
    httpbinHeadersUrl: meshCallUrl(MESH_CALLS.clientIdentity),
    /** helloworld-v1 runs in cluster1, helloworld-v2 in cluster2. */
    versions: ["v1", "v2"],
} as const;

const ISTIOD = { selector: "app=istiod", container: "discovery" };
/** Printed between replies when one exec makes several calls. */
const REPLY_SEPARATOR = "----zta-verify-reply----";
const SPIRE_SERVER_CONTAINER = "spire-server";
const PROXY_CONTAINER = "istio-proxy";

// ---- decisions ----

/** Pods that are not Ready in a namespace (finished Job pods are ignored); an empty namespace is a problem too. */
export function podProblems(namespace: string, pods: PodInfo[]): string[] {
    const live = pods.filter((p) => p.phase !== "Succeeded");
    if (live.length === 0) return [`${namespace}: no pods`];
    return live.filter((p) => !p.ready).map((p) => `${namespace}/${p.name} not Ready (phase ${p.phase}${p.notReadyContainers.length ? `, containers ${p.notReadyContainers.join(", ")}` : ""})`);
}

export function gatewayProblems(name: string, service: ServiceInfo | undefined, expectedIp: string): string[] {
    if (service === undefined) return [`Service ${ISTIO_NAMESPACE}/${name} not found`];
    if (service.type !== "LoadBalancer") return [`${name} is a ${service.type} Service, expected LoadBalancer`];
    if (!service.loadBalancerIps.includes(expectedIp)) {
        return [`${name} has address [${service.loadBalancerIps.join(", ") || "none, still pending"}], expected ${expectedIp} from MetalLB`];
    }
    return [];
}

/**
 * The sync states of a peer that are right. `timeout` too: the remote secret's
 * reader may not list Secrets (components/remotesecret.ts), so the Secrets informer
 * of istiod's credentials controller (pilot/pkg/credentials/kube/secrets.go) on the
 * peer never syncs and istiod gives the peer up as `timeout` after
 * PILOT_REMOTE_CLUSTER_TIMEOUT (30 s, pkg/kube/multicluster/cluster.go); the peer's
 * service registry runs on its own informers (istiod-network-gateways proves it read them).
 */
export const PEER_SYNC_STATES = ["synced", "timeout"];

export function remoteClusterProblems(clusters: RemoteCluster[], peerCluster: string): string[] {
    const peer = clusters.find((c) => c.id === peerCluster);
    const seen = clusters.map((c) => `${c.id}${c.secretName ? ` (${c.secretName})` : ""}: ${c.syncStatus}`).join(", ");
    if (peer === undefined) return [`istiod reads no cluster "${peerCluster}"; it reads [${seen}]`];
    if (!PEER_SYNC_STATES.includes(peer.syncStatus)) return [`istiod's view of "${peerCluster}" is ${peer.syncStatus}, not ${PEER_SYNC_STATES.join(" or ")} (from ${peer.secretName})`];
    return [];
}

export function networkGatewayProblems(gateways: NetworkGateway[], expected: { cluster: string; address: string }[]): string[] {
    const seen = gateways.map((g) => `${g.cluster}/${g.network} ${g.address}:${g.port}`).join(", ") || "none";
    return expected
        .filter((e) => !gateways.some((g) => g.cluster === e.cluster && g.address === e.address && g.port === CROSS_NETWORK_PORT))
        .map((e) => `istiod knows no gateway ${e.address}:${CROSS_NETWORK_PORT} for cluster "${e.cluster}" (it knows: ${seen})`);
}

export function missingEntries(expected: string[], entries: string[]): string[] {
    const have = new Set(entries);
    return [...new Set(expected)].filter((id) => !have.has(id)).map((id) => `no SPIRE registration entry for ${id}`);
}

export function trafficProblems(tally: VersionTally, requests: number): string[] {
    const problems = SAMPLE.versions.filter((v) => !(tally.versions[v] > 0)).map((v) => `no reply from helloworld ${v}`);
    if (problems.length > 0) {
        const got =
            Object.entries(tally.versions)
                .map(([v, n]) => `${v}: ${n}`)
                .join(", ") || "no replies";
        const errors = tally.other.length ? `; other output: ${tally.other.slice(0, 3).join(" | ")}` : "";
        problems.push(`of ${requests} calls: ${got}${errors}`);
    }
    return problems;
}

export function xfccProblems(httpbinBody: string, expectedId: string): string[] {
    let header: string | undefined;
    try {
        header = xfccFromHttpbin(httpbinBody);
    } catch {
        return [`httpbin's reply is not JSON: ${httpbinBody.slice(0, 120)}`];
    }
    if (header === undefined) return ["httpbin saw no X-Forwarded-Client-Cert header: the call did not arrive over mesh mTLS"];
    const uris = xfccUris(header);
    return uris.includes(expectedId) ? [] : [`X-Forwarded-Client-Cert URIs are [${uris.join(", ")}], expected ${expectedId}`];
}

/** What the cross-domain check saw: the caller's replies from httpbin, and the certificates its proxy holds. */
export interface CrossDomainEvidence {
    /** httpbin `/headers` replies, one per call. */
    readonly replies: string[];
    /** The caller's workload chain (its proxy's `default` SDS secret), leaf first. */
    readonly callerChain: X509Certificate[];
    /** The caller's SPIFFE ID in its own trust domain. */
    readonly callerId: string;
    /** This stack's root. */
    readonly ownRoot: X509Certificate;
    /** Each peer's trust domain and, when known, its root. */
    readonly peers: readonly { readonly trustDomain: string; readonly root?: X509Certificate }[];
    readonly now: Date;
}

/**
 * Problems with a cross-domain call: at least one reply must come from a server
 * in a peer's trust domain (XFCC `By=`), and each peer domain that answered must
 * have seen the caller's own-domain ID (`URI=`) and the hash of the certificate
 * the caller's proxy holds (`Hash=`, SHA-256 of its DER); that certificate must
 * chain to this stack's own root, which must be no peer's.
 */
export function crossDomainProblems(e: CrossDomainEvidence): string[] {
    const problems: string[] = [];
    if (e.peers.some((p) => p.root && p.root.fingerprint256 === e.ownRoot.fingerprint256)) {
        problems.push(`this stack and the peer export the same root "${e.ownRoot.subject.replace(/\n/g, ", ")}": the federated model needs a root per trust domain`);
    }
    const elements = e.replies.flatMap((body) => {
        try {
            const header = xfccFromHttpbin(body);
            return header === undefined ? [] : parseXfcc(header);
        } catch {
            return [];
        }
    });
    // The first reply from each peer trust domain that answered (the calls are spread over the clusters).
    const fromPeers = e.peers.flatMap((p) => elements.filter((el) => (el.By ?? []).some((by) => by.startsWith(spiffeId(p.trustDomain, "/")))).slice(0, 1));
    if (fromPeers.length === 0) {
        const seen = [...new Set(elements.flatMap((el) => el.By ?? []))].join(", ") || "no X-Forwarded-Client-Cert";
        const domains = e.peers.map((p) => p.trustDomain).join(", ");
        problems.push(`none of ${e.replies.length} calls was answered in the ${e.peers.length === 1 ? "peer's trust domain" : "peers' trust domains"} ${domains} (By= seen: ${seen})`);
        return problems;
    }
    for (const fromPeer of fromPeers) {
        const uris = fromPeer.URI ?? [];
        if (!uris.includes(e.callerId)) problems.push(`the peer's httpbin (${fromPeer.By?.[0]}) saw URI [${uris.join(", ")}], expected the caller's ${e.callerId}`);
        const leaf = e.callerChain[0];
        if (leaf !== undefined) {
            const hash = createHash("sha256").update(leaf.raw).digest("hex");
            const seenHash = (fromPeer.Hash ?? [])[0];
            if (seenHash !== undefined && seenHash.toLowerCase() !== hash) {
                problems.push(`the peer saw a client certificate with hash ${seenHash}, not the one the caller's proxy holds (${hash})`);
            }
        }
    }
    problems.push(...chainProblems(e.callerChain, e.ownRoot, e.callerId, e.now));
    return problems;
}

/** curl's output with `-w '\n%{http_code}'`: the body, then the status ("000": no HTTP answer). */
export function splitStatus(output: string): { body: string; status: string } {
    const trimmed = output.replace(/\s+$/, "");
    const cut = trimmed.lastIndexOf("\n");
    return { body: cut < 0 ? "" : trimmed.slice(0, cut), status: (cut < 0 ? trimmed : trimmed.slice(cut + 1)).trim() };
}

/**
 * The allowed flow must answer 200; the denied one must get no answer from its
 * target: no connection at all ("000"), or the sidecar's own 503 saying it
 * could not connect upstream (Envoy: "upstream connect error").
 */
export function segmentationProblems(allowed: { body: string; status: string }, denied: { body: string; status: string }, urls: { allowed: string; denied: string }): string[] {
    const problems: string[] = [];
    if (allowed.status !== "200") problems.push(`allowed flow ${urls.allowed}: HTTP ${allowed.status}, expected 200 (${allowed.body.slice(0, 120)})`);
    const blocked = denied.status === "000" || (denied.status === "503" && /upstream connect error/.test(denied.body));
    if (!blocked) problems.push(`denied flow ${urls.denied}: HTTP ${denied.status}, expected no connection (the network policy does not drop it)`);
    return problems;
}

/** A token from the lab issuer by the client-credentials grant, when no --token is given. */
async function tokenFromIssuer(fetchToken: TokenFetch, target: VerifyTarget, options: VerifyOptions): Promise<string> {
    if (target.issuer === undefined) {
        throw new CheckFailed(["no token given and no lab issuer in the stack outputs (an external jwt.issuer): pass --token or --token-file (or --skip ingress-jwt)"]);
    }
    return fetchToken(target.issuer, target.issuerCaCert ?? target.rootCaCert, options.timeoutMs).catch((err: Error) => {
        throw new CheckFailed([`no token from ${target.issuer?.tokenUrl} for client "${target.issuer?.clientId}": ${err.message}`]);
    });
}

/**
 * A token of the lab issuer for another audience (its second client), or
 * undefined when the outputs name no such client. Audience enforcement is only
 * shown by a token that is valid in every other respect.
 */
async function otherAudienceToken(fetchToken: TokenFetch, target: VerifyTarget, options: VerifyOptions): Promise<string | undefined> {
    const client = target.otherAudienceIssuer;
    if (client === undefined) return undefined;
    return fetchToken(client, target.issuerCaCert ?? target.rootCaCert, options.timeoutMs).catch((err: Error) => {
        throw new CheckFailed([`no other-audience token from ${client.tokenUrl} for client "${client.clientId}": ${err.message}`]);
    });
}

// ---- helpers that talk to the cluster ----

async function readyPod(cluster: Cluster, namespace: string, selector: string, container?: string): Promise<PodInfo> {
    const pods = await cluster.listPods(namespace, selector);
    const pod = pods.find((p) => p.ready && p.phase === "Running" && (container === undefined || p.containers.includes(container)));
    if (pod === undefined) throw new CheckFailed([`no Ready pod with ${selector}${container ? ` and container ${container}` : ""} in ${namespace} (found ${pods.length})`]);
    return pod;
}

async function run(cluster: Cluster, pod: PodInfo, container: string, command: string[]): Promise<string> {
    const res = await cluster.exec(pod.namespace, pod.name, container, command);
    if (res.code !== 0) {
        throw new CheckFailed([`\`${command.join(" ")}\` in ${pod.namespace}/${pod.name} (${container}) exited ${res.code}: ${(res.stderr || res.stdout).trim().slice(0, 300)}`]);
    }
    return res.stdout;
}

function istiodDebug(cluster: Cluster, pod: PodInfo, path: string): Promise<string> {
    // pilot-discovery's `request` subcommand GETs istiod's own debug port (127.0.0.1:15014).
    return run(cluster, pod, ISTIOD.container, ["pilot-discovery", "request", "GET", path]);
}

/** Seconds each curl may take so that `count` of them fit in the check's bound. */
function curlSeconds(options: VerifyOptions, count: number): number {
    return Math.max(1, Math.floor(options.timeoutMs / 1000 / count));
}

// ---- the checks ----

export const CHECKS: readonly Check[] = [
    {
        id: "pods-ready",
        title: "every pod Ready",
        proves: `every pod in ${PLATFORM_NAMESPACES.join(", ")} is Ready (finished Job pods aside): the platform and the samples are up`,
        async run({ cluster }) {
            const problems: string[] = [];
            let count = 0;
            for (const ns of PLATFORM_NAMESPACES) {
                const pods = await cluster.listPods(ns);
                count += pods.length;
                problems.push(...podProblems(ns, pods));
            }
            failIf(problems);
            return `${count} pods Ready in ${PLATFORM_NAMESPACES.length} namespaces`;
        },
    },
    {
        id: "gateway-addresses",
        title: "gateways have their MetalLB addresses",
        proves: `the ${INGRESS_GATEWAY} and ${EAST_WEST_GATEWAY} Services got the fixed addresses metallb.ingressAddress and metallb.eastWestAddress`,
        async run({ cluster, target }) {
            const want: [string, string][] = [
                [INGRESS_GATEWAY, target.ingressAddress],
                [EAST_WEST_GATEWAY, target.eastWestAddress],
            ];
            const problems: string[] = [];
            for (const [name, ip] of want) problems.push(...gatewayProblems(name, await cluster.getService(ISTIO_NAMESPACE, name), ip));
            failIf(problems);
            return want.map(([name, ip]) => `${name} ${ip}`).join(", ");
        },
    },
    {
        id: "istiod-remote-cluster",
        title: "istiod reads every peer cluster",
        proves: `each peer's remote secret (${ISTIO_NAMESPACE}/${remoteSecretName("<peer cluster>")}) is installed and istiod reads each peer's API (/debug/clusterz says "synced", or "timeout" 30 s after istiod starts: the reader may not list the peer's Secrets, which only istiod's credentials controller watches)`,
        async run({ cluster, target }) {
            const missing: string[] = [];
            for (const peer of target.peers) {
                const secret = remoteSecretName(peer.clusterName);
                if (!(await cluster.hasSecret(ISTIO_NAMESPACE, secret))) {
                    missing.push(`Secret ${ISTIO_NAMESPACE}/${secret} not found: run \`pulumi up\` on stack "${target.stack}" after "${peer.stack}" is deployed`);
                }
            }
            failIf(missing);
            const istiod = await readyPod(cluster, ISTIO_NAMESPACE, ISTIOD.selector, ISTIOD.container);
            const clusters = parseClusterz(await istiodDebug(cluster, istiod, "/debug/clusterz"));
            failIf(target.peers.flatMap((peer) => remoteClusterProblems(clusters, peer.clusterName)));
            const status = (peer: PeerTarget) => clusters.find((c) => c.id === peer.clusterName)?.syncStatus;
            return target.peers.map((peer) => `${istiod.name} ${status(peer)} "${peer.clusterName}" from ${remoteSecretName(peer.clusterName)}`).join(", ");
        },
    },
    {
        id: "remote-secret-scope",
        title: "each remote secret opens only what istiod reads",
        proves: `for each peer, the token in its remote secret here (${ISTIO_NAMESPACE}/${remoteSecretName("<peer cluster>")}, key <peer cluster>) is sent with SelfSubjectAccessReviews to the peer's API server named in it; the peer's authorizers answer that it ${scopeSummary()}: who holds this copy cannot read the peer's CA keys or change anything there`,
        async run({ cluster, target, accessReview }) {
            const problems: string[] = [];
            const seen: string[] = [];
            for (const peer of target.peers) {
                const name = remoteSecretName(peer.clusterName);
                const data = await cluster.secretData(ISTIO_NAMESPACE, name);
                const kubeconfig = data?.[peer.clusterName];
                if (kubeconfig === undefined) {
                    problems.push(data === undefined ? `Secret ${ISTIO_NAMESPACE}/${name} not found` : `${name} has no key "${peer.clusterName}" (keys: ${Object.keys(data).join(", ")})`);
                    continue;
                }
                let scoped: ScopedReview;
                try {
                    scoped = accessReview(kubeconfig);
                } catch (err) {
                    problems.push(`${name}: its kubeconfig is not usable: ${(err as Error).message}`);
                    continue;
                }
                problems.push(...(await reviewScope(scoped.review)).map((p) => `${name} at ${scoped.server}: ${p}`));
                seen.push(`${name} at ${scoped.server}: ${MUST_ALLOW.length} reads allowed, ${MUST_DENY.length} denied`);
            }
            failIf(problems);
            return seen.join(", ");
        },
    },
    {
        id: "istiod-network-gateways",
        title: "istiod knows every east-west gateway",
        proves: `istiod lists this cluster's and every peer's east-west gateway addresses on port ${CROSS_NETWORK_PORT} (/debug/networkz): traffic to the other networks goes through them`,
        async run({ cluster, target }) {
            failIf(target.peers.filter((p) => p.eastWestAddress === undefined).map((p) => `peer stack "${p.stack}" has not exported eastWestAddress: deploy it first`));
            const istiod = await readyPod(cluster, ISTIO_NAMESPACE, ISTIOD.selector, ISTIOD.container);
            const gateways = parseNetworkz(await istiodDebug(cluster, istiod, "/debug/networkz"));
            const expected = [{ cluster: target.clusterName, address: target.eastWestAddress }, ...target.peers.map((p) => ({ cluster: p.clusterName, address: p.eastWestAddress as string }))];
            failIf(networkGatewayProblems(gateways, expected));
            return expected.map((e) => `${e.cluster} ${e.address}:${CROSS_NETWORK_PORT}`).join(", ");
        },
    },
    {
        id: "spire-entries",
        title: "SPIRE registers the gateways and the sample workloads",
        proves: `the SPIRE server has a registration entry (by SPIFFE ID, ${workloadSpiffeId("<trust domain>", "<ns>", "<sa>")}) for the pods of both gateways and for every ${SAMPLE_NAMESPACE} pod labelled ${SPIRE_MANAGED_LABEL}=true`,
        async run({ cluster, target }) {
            const pods: PodInfo[] = [];
            for (const name of [INGRESS_GATEWAY, EAST_WEST_GATEWAY]) {
                const svc = await cluster.getService(ISTIO_NAMESPACE, name);
                if (svc === undefined || Object.keys(svc.selector).length === 0) throw new CheckFailed([`Service ${ISTIO_NAMESPACE}/${name} not found or without a selector`]);
                const selector = Object.entries(svc.selector)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(",");
                const gw = await cluster.listPods(ISTIO_NAMESPACE, selector);
                if (gw.length === 0) throw new CheckFailed([`no pods behind ${name}`]);
                pods.push(...gw);
            }
            const managed = await cluster.listPods(SAMPLE_NAMESPACE, `${SPIRE_MANAGED_LABEL}=true`);
            if (managed.length === 0) throw new CheckFailed([`no pod in ${SAMPLE_NAMESPACE} is labelled ${SPIRE_MANAGED_LABEL}=true`]);
            pods.push(...managed);
            const expected = pods.map((p) => workloadSpiffeId(target.trustDomain, p.namespace, p.serviceAccount));

            const server = await readyPod(cluster, SPIRE_SERVER_NAMESPACE, "", SPIRE_SERVER_CONTAINER);
            const out = await run(cluster, server, SPIRE_SERVER_CONTAINER, ["/opt/spire/bin/spire-server", "entry", "show", "-output", "json"]);
            const entries = spireEntryIds(out);
            failIf(missingEntries(expected, entries));
            return `${new Set(expected).size} SPIFFE IDs registered (${entries.length} entries): ${[...new Set(expected)].join(", ")}`;
        },
    },
    {
        id: "workload-certificate",
        title: "a SPIRE-managed workload's certificate chains to the lab root",
        proves: `the sidecar of the ${SAMPLE_NAMESPACE} "curl" pod (${SPIRE_MANAGED_LABEL}=true) holds a certificate whose URI SAN is its ${workloadSpiffeId("<trust domain>", "<ns>", "<sa>")}, valid now, each signature verified up to the stack's rootCaCert, and the proxy trusts that root`,
        async run({ cluster, target, options }) {
            const pod = await readyPod(cluster, SAMPLE_NAMESPACE, SAMPLE.curl.selector, PROXY_CONTAINER);
            if (pod.labels[SPIRE_MANAGED_LABEL] !== "true") throw new CheckFailed([`${pod.namespace}/${pod.name} is not labelled ${SPIRE_MANAGED_LABEL}=true`]);
            // Envoy's /certs lists certificate metadata only; config_dump carries the PEM.
            const dump = await run(cluster, pod, PROXY_CONTAINER, ["pilot-agent", "request", "GET", "config_dump?resource=dynamic_active_secrets"]);
            const secrets = proxySecretsFromConfigDump(dump);
            const root = new X509Certificate(target.rootCaCert);
            const expectedId = workloadSpiffeId(target.trustDomain, pod.namespace, pod.serviceAccount);
            const problems = chainProblems(secrets.chain, root, expectedId, options.now());
            if (!trustsRoot(secrets.roots, root)) problems.push(`the proxy's trusted roots (${secrets.roots.length}) do not include the lab root "${root.subject}"`);
            failIf(problems);
            const leaf = secrets.chain[0];
            return `${pod.name}: ${uriSans(leaf).join(", ")}, ${secrets.chain.length} certificate(s) to the lab root, expires ${leaf.validTo}`;
        },
    },
    {
        id: "cross-cluster-traffic",
        title: `calls from ${MESH_CALLS.crossCluster.from} reach helloworld v1 and v2`,
        proves: `repeated calls (--requests) from the ${SAMPLE_NAMESPACE} "${MESH_CALLS.crossCluster.from}" pod to ${SAMPLE.helloworldUrl} are answered by both helloworld-v1 (cluster1) and helloworld-v2 (cluster2): cross-cluster, cross-network traffic works`,
        async run({ cluster, options }) {
            const caller = callerOf(MESH_CALLS.crossCluster);
            const pod = await readyPod(cluster, SAMPLE_NAMESPACE, caller.selector, caller.container);
            const n = options.requests;
            const script = `for i in $(seq 1 ${n}); do curl -sS --max-time ${curlSeconds(options, n)} ${SAMPLE.helloworldUrl}; echo; done`;
            // The loop's exit status is the last curl's; the tally decides, so read stdout whatever it is.
            const res = await cluster.exec(pod.namespace, pod.name, caller.container, ["sh", "-c", script]);
            const tally = tallyHelloworld(res.stdout + "\n" + res.stderr);
            failIf(trafficProblems(tally, n));
            return (
                Object.entries(tally.versions)
                    .map(([v, count]) => `${v}: ${count}`)
                    .join(", ") + ` of ${n} calls`
            );
        },
    },
    {
        id: "mtls-client-identity",
        title: "httpbin sees the caller's SPIFFE ID",
        proves: `a call from "${MESH_CALLS.clientIdentity.from}" (SPIRE-managed) to ${SAMPLE.httpbinHeadersUrl} arrives with an X-Forwarded-Client-Cert whose URI is the caller's SPIFFE ID: the hop was mutual TLS with workload identities`,
        async run({ cluster, target, options }) {
            const caller = callerOf(MESH_CALLS.clientIdentity);
            const pod = await readyPod(cluster, SAMPLE_NAMESPACE, caller.selector, caller.container);
            const body = await run(cluster, pod, caller.container, ["curl", "-sS", "--max-time", String(curlSeconds(options, 1)), SAMPLE.httpbinHeadersUrl]);
            const expectedId = workloadSpiffeId(target.trustDomain, pod.namespace, pod.serviceAccount);
            failIf(xfccProblems(body, expectedId));
            return `X-Forwarded-Client-Cert URI=${expectedId}`;
        },
    },
    {
        id: "cross-domain-identity",
        title: "a caller keeps its own trust domain's identity in the peer's",
        proves: `federated trust model only (else SKIP): calls (--requests at most) from the ${SAMPLE_NAMESPACE} "${MESH_CALLS.crossDomain.from}" pod to ${meshCallUrl(MESH_CALLS.crossDomain)} until the peer cluster's httpbin answers (X-Forwarded-Client-Cert By= in the peer's trust domain); its URI= is the caller's SPIFFE ID in this trust domain, its Hash= that of the certificate the caller's proxy holds, which chains signature by signature to this stack's own rootCaCert, not the peer's`,
        async run({ cluster, target, options }) {
            if (target.trustModel !== "federated") throw new CheckSkipped("shared trust model: one trust domain and one root, nothing to cross");
            failIf(target.peers.filter((p) => p.trustDomain === undefined).map((p) => `peer stack "${p.stack}" has no identity output: deploy it first`));
            const peerTrustDomains = target.peers.map((p) => p.trustDomain as string);
            const caller = callerOf(MESH_CALLS.crossDomain);
            const pod = await readyPod(cluster, SAMPLE_NAMESPACE, caller.selector, PROXY_CONTAINER);
            const secrets = proxySecretsFromConfigDump(await run(cluster, pod, PROXY_CONTAINER, ["pilot-agent", "request", "GET", "config_dump?resource=dynamic_active_secrets"]));
            const n = options.requests;
            const script = `for i in $(seq 1 ${n}); do curl -sS --max-time ${curlSeconds(options, n)} ${meshCallUrl(MESH_CALLS.crossDomain)}; echo; echo ${REPLY_SEPARATOR}; done`;
            const res = await cluster.exec(pod.namespace, pod.name, caller.container, ["sh", "-c", script]);
            const callerId = workloadSpiffeId(target.trustDomain, pod.namespace, pod.serviceAccount);
            failIf(
                crossDomainProblems({
                    replies: res.stdout
                        .split(REPLY_SEPARATOR)
                        .map((r) => r.trim())
                        .filter((r) => r !== ""),
                    callerChain: secrets.chain,
                    callerId,
                    ownRoot: new X509Certificate(target.rootCaCert),
                    peers: target.peers.map((p) => ({ trustDomain: p.trustDomain as string, root: p.rootCaCert ? new X509Certificate(p.rootCaCert) : undefined })),
                    now: options.now(),
                }),
            );
            return `${callerId} seen by the peer's httpbin in ${peerTrustDomains.join(" or ")}, its certificate chained to this stack's own root`;
        },
    },
    {
        id: DENIED_FLOW.check,
        title: "the network policies drop what they do not allow",
        proves: `from the ${SAMPLE_NAMESPACE} "${DENIED_FLOW.from}" pod, ${SAMPLE.helloworldUrl} answers 200 (an allowed flow) while http://${DENIED_FLOW.to.service}.${DENIED_FLOW.to.namespace}:${DENIED_FLOW.to.port}${DENIED_FLOW.to.path} (istiod's monitoring port, which only Prometheus and Kiali may reach; no AuthorizationPolicy covers it) gets no connection: the default-deny CiliumNetworkPolicies are enforced`,
        async run({ cluster, options }) {
            const caller = callerOf(DENIED_FLOW);
            const pod = await readyPod(cluster, SAMPLE_NAMESPACE, caller.selector, caller.container);
            const urls = { allowed: SAMPLE.helloworldUrl, denied: `http://${DENIED_FLOW.to.service}.${DENIED_FLOW.to.namespace}:${DENIED_FLOW.to.port}${DENIED_FLOW.to.path}` };
            const seconds = String(curlSeconds(options, 2));
            // curl exits non-zero on no connection; the status line decides, so read stdout whatever the exit code.
            const call = async (url: string) => splitStatus((await cluster.exec(pod.namespace, pod.name, caller.container, ["curl", "-s", "--max-time", seconds, "-w", "\\n%{http_code}", url])).stdout);
            const allowed = await call(urls.allowed);
            const denied = await call(urls.denied);
            failIf(segmentationProblems(allowed, denied, urls));
            return `${urls.allowed}: 200; ${urls.denied}: ${denied.status === "000" ? "no connection" : "503 upstream connect error"}`;
        },
    },
    {
        id: "ingress-jwt",
        title: "the ingress gateway enforces JWT",
        proves: `GET https://<metallb.ingressAddress>/<--ingress-path> from this machine, trusting only the lab root (the gateway's certificate must chain to rootCaCert and name the address or --ingress-host), answers 200 with the --token, 401 or 403 without a token, 401 with the token's signature corrupted, and (with the lab issuer) 401 or 403 with a token of the same issuer for another audience`,
        async run({ http, fetchToken, target, options }) {
            const token = options.token ?? (await tokenFromIssuer(fetchToken, target, options));
            const otherAudience = await otherAudienceToken(fetchToken, target, options);
            const url = ingressUrl(target.ingressAddress, options.ingressPath);
            const base: Record<string, string> = options.ingressHost ? { Host: options.ingressHost } : {};
            const cases: [TokenCase, Record<string, string>][] = [
                ["valid", { ...base, Authorization: `Bearer ${token}` }],
                ["missing", base],
                ["bad", { ...base, Authorization: `Bearer ${corruptSignature(token)}` }],
                ...(otherAudience !== undefined ? [["other-audience", { ...base, Authorization: `Bearer ${otherAudience}` }] as [TokenCase, Record<string, string>]] : []),
            ];
            const perCall = Math.max(1000, Math.floor(options.timeoutMs / cases.length));
            const seen: string[] = [];
            const problems: string[] = [];
            for (const [tokenCase, headers] of cases) {
                const status = await http(url, headers, perCall, target.rootCaCert).catch((err: Error) => {
                    throw new CheckFailed([`GET ${url} (${tokenCase} token): ${err.message}`]);
                });
                seen.push(`${tokenCase} ${status}`);
                const problem = jwtOutcome(tokenCase, status);
                if (problem) problems.push(problem);
            }
            failIf(problems);
            const untested = otherAudience === undefined ? "; other-audience not tested (no second client of the lab issuer in the outputs: an external jwt.issuer, or a root stack deployed before it had one)" : "";
            return `${url}: ${seen.join(", ")}${untested}`;
        },
    },
];
