// The checks of the running control plane in `npm run test:engine` (docs/testing.md,
// "The control plane runs"): istiod, the SPIRE server and its controller manager run
// as their pods would (test/engine/pods.ts, run.sh), and this reads what they hold
// through their own interfaces: istiod's debug endpoints from inside its pod's network
// namespace (istiod answers them unauthenticated only on loopback, pilot/pkg/xds/debug.go
// allowAuthenticatedOrLocalhost: the path `npm run verify` takes with `pilot-discovery
// request`), the SPIRE server's CLI over its admin socket, and the API servers. Every
// check prints one "PASS: ..." or "FAIL: ..." line, which run.sh counts.
//
//   control-plane.ts check  --pods DIR --netns-prefix P --bin BIN --kubeconfig S=F... --outputs S=F...
//   control-plane.ts broken --pods DIR --netns-prefix P --bin BIN --kubeconfig S=F... --outputs S=F...
import * as k8s from "@kubernetes/client-node";
import { execFile } from "child_process";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import * as YAML from "yaml";
import { CROSS_NETWORK_PORT, ISTIO_NAMESPACE, SAMPLE_NAMESPACE, SPIRE_SERVER_NAMESPACE } from "../../model/lab";
import { networkGatewayProblems } from "../../verify/checks/istiod-network-gateways";
import { remoteClusterProblems } from "../../verify/checks/istiod-remote-cluster";
import { parseClusterz, parseNetworkz, RemoteCluster, spireEntryIds } from "../../verify/parse";
import { Bind } from "./pods";

// ---------------------------------------------------------------- decisions (pure, tested)

/** istiod's log says it signs with the plugged-in CA files (pilot/pkg/bootstrap/istio_ca.go, createIstioCA) and not with a self-signed root. */
export function pluggedCaProblems(log: string): string[] {
    const problems: string[] = [];
    if (!/Use local CA certificate/.test(log))
        problems.push('istiod\'s log lacks "Use local CA certificate" (the plugged-in cacerts)');
    if (!/Using (istiod file format|kubernetes.io\/tls secret type) for signing ca files/.test(log))
        problems.push("istiod's log does not say which signing CA files it read");
    if (/Use self-signed certificate as the CA certificate/.test(log)) problems.push("istiod made a self-signed CA");
    const fatal = /failed to create an istiod CA[^\n]*/.exec(log);
    if (fatal) problems.push(fatal[0]);
    return problems;
}

/** One endpoint of istiod's endpoint index (`/debug/endpointShardz`, model.IstioEndpoint: Go field names, no JSON tags). */
interface ShardEndpoint {
    readonly Addresses?: string[];
    readonly Network?: string;
    readonly Namespace?: string;
}
type Shardz = Record<string, Record<string, { Shards?: Record<string, ShardEndpoint[] | null> }>>;

/**
 * Problems with what istiod's registry holds of a peer's services: each service
 * (`<name>.<namespace>.svc.<domain>`) must have endpoints in the peer cluster's shard
 * (model.ShardKey "Kubernetes/<cluster id>"), each on the peer's network.
 */
export function peerServiceProblems(
    shardz: Shardz,
    peer: { cluster: string; network: string; services: { name: string; namespace: string }[] },
    domain = "cluster.local",
): string[] {
    const problems: string[] = [];
    for (const svc of peer.services) {
        const host = `${svc.name}.${svc.namespace}.svc.${domain}`;
        const endpoints = shardz[host]?.[svc.namespace]?.Shards?.[`Kubernetes/${peer.cluster}`] ?? [];
        if (endpoints.length === 0) problems.push(`no endpoint of ${host} from cluster ${peer.cluster}`);
        const elsewhere = endpoints.filter((e) => e.Network !== peer.network);
        if (elsewhere.length > 0)
            problems.push(
                `${host}: endpoints of ${peer.cluster} on network "${elsewhere[0].Network}", not ${peer.network}`,
            );
    }
    return problems;
}

/**
 * The resources a service account was refused, as istiod's log reports them (client-go's
 * reflector logs the API server's message: `... is forbidden: User "system:serviceaccount:
 * <ns>:<name>" cannot list resource "secrets" ...`), sorted and without repeats.
 */
export function refusedReads(log: string, serviceAccount: string): string[] {
    const refused = new Set<string>();
    for (const m of log.matchAll(
        /User \\?"system:serviceaccount:([^"\\]+)\\?" cannot (?:list|watch|get) resource \\?"([^"\\]+)\\?"/g,
    ))
        if (m[1] === serviceAccount) refused.add(m[2]);
    return [...refused].sort();
}

/**
 * Whether istiod reads a remote cluster through its remote secret: it lists the cluster
 * (synced, or `timeout` once the credentials controller's Secrets informer gave up: the
 * least-privilege reader may not list Secrets, docs/pki.md "Remote secrets"), and the only
 * read the API server refused that token is Secrets.
 */
export function remoteReadProblems(clusters: RemoteCluster[], id: string, refused: string[]): string[] {
    const others = refused.filter((r) => r !== "secrets");
    return [
        ...remoteClusterProblems(clusters, id),
        ...(others.length > 0 ? [`istiod was refused ${others.join(", ")} on cluster ${id}`] : []),
    ];
}

/**
 * An RBAC rule without `list` and `watch` on endpointslices (discovery.k8s.io): the rule as
 * it is when it does not cover them, else split so its other resources keep every verb.
 * Throws on a wildcard that covers them (RBAC only adds: a wildcard cannot be narrowed here).
 */
export function withoutEndpointSliceReads(rule: k8s.V1PolicyRule): k8s.V1PolicyRule[] {
    const groups = rule.apiGroups ?? [];
    const resources = rule.resources ?? [];
    const group = groups.includes("discovery.k8s.io") || groups.includes("*");
    if (!group || !(resources.includes("endpointslices") || resources.includes("*"))) return [rule];
    if (groups.includes("*") || resources.includes("*"))
        throw new Error(`a wildcard rule grants endpointslices: ${JSON.stringify(rule)}`);
    const verbs = rule.verbs.filter((v) => v !== "list" && v !== "watch");
    const others = resources.filter((r) => r !== "endpointslices");
    return [
        ...(others.length > 0 ? [{ ...rule, resources: others }] : []),
        ...(verbs.length > 0
            ? [{ ...rule, apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs }]
            : []),
        ...(groups.length > 1 ? [{ ...rule, apiGroups: groups.filter((g) => g !== "discovery.k8s.io") }] : []),
    ];
}

/** A Kubernetes label selector (matchLabels and matchExpressions) against a label set. */
export function selects(selector: k8s.V1LabelSelector | undefined, labels: Record<string, string>): boolean {
    if (!selector) return true;
    for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
    for (const e of selector.matchExpressions ?? []) {
        const has = e.key in labels;
        const inValues = has && (e.values ?? []).includes(labels[e.key]);
        const ok = { In: inValues, NotIn: !inValues, Exists: has, DoesNotExist: !has }[e.operator];
        if (ok !== true) return false;
    }
    return true;
}

/** The fields spire-controller-manager gives a spiffeIDTemplate (pkg/spireentry, renderer), for one pod. */
export function renderSpiffeIdTemplate(
    template: string,
    values: { trustDomain: string; clusterName: string; pod: k8s.V1Pod },
): string {
    const fields: Record<string, string | undefined> = {
        ".TrustDomain": values.trustDomain,
        ".ClusterName": values.clusterName,
        ".PodMeta.Namespace": values.pod.metadata?.namespace,
        ".PodMeta.Name": values.pod.metadata?.name,
        ".PodMeta.UID": values.pod.metadata?.uid,
        ".PodSpec.ServiceAccountName": values.pod.spec?.serviceAccountName,
        ".PodSpec.NodeName": values.pod.spec?.nodeName,
    };
    return template.replace(/\{\{-?\s*(\S+?)\s*-?\}\}/g, (whole, field: string) => {
        const value = fields[field];
        if (value === undefined)
            throw new Error(`the template ${template} uses ${whole}, which this check cannot render`);
        return value;
    });
}

/** A ClusterSPIFFEID as the API server holds it. */
export interface LiveClusterSpiffeId {
    readonly name: string;
    readonly spec: {
        spiffeIDTemplate: string;
        className?: string;
        podSelector?: k8s.V1LabelSelector;
        namespaceSelector?: k8s.V1LabelSelector;
        fallback?: boolean;
    };
}

/**
 * The SPIFFE IDs the controller manager must register: for each ClusterSPIFFEID of its
 * class, each running pod it selects outside the ignored namespaces, the template rendered.
 */
export function promisedIds(
    ids: LiveClusterSpiffeId[],
    pods: k8s.V1Pod[],
    namespaces: Record<string, Record<string, string>>,
    opts: { className: string; ignoreNamespaces: string[]; trustDomain: string; clusterName: string },
): { id: string; pod: string; by: string }[] {
    const ignored = (ns: string) => opts.ignoreNamespaces.some((re) => new RegExp(`^(?:${re})$`).test(ns));
    const out: { id: string; pod: string; by: string }[] = [];
    for (const csid of ids.filter((c) => c.spec.className === opts.className)) {
        for (const pod of pods) {
            const ns = pod.metadata?.namespace ?? "";
            if (ignored(ns) || pod.status?.phase !== "Running") continue;
            if (
                !selects(csid.spec.namespaceSelector, namespaces[ns] ?? {}) ||
                !selects(csid.spec.podSelector, pod.metadata?.labels ?? {})
            )
                continue;
            out.push({
                id: renderSpiffeIdTemplate(csid.spec.spiffeIDTemplate, {
                    trustDomain: opts.trustDomain,
                    clusterName: opts.clusterName,
                    pod,
                }),
                pod: `${ns}/${pod.metadata?.name}`,
                by: csid.name,
            });
        }
    }
    return out;
}

/**
 * Problems with the chain of an X509-SVID the SPIRE server minted: the leaf is signed by
 * the server's X.509 authority, which the upstream CA (the Secret's tls.crt) signed
 * directly, and the server's bundle holds the Secret's bundle.crt.
 */
export function spireChainProblems(
    chain: X509Certificate[],
    bundle: X509Certificate[],
    upstream: X509Certificate,
    upstreamBundle: X509Certificate[],
): string[] {
    const problems: string[] = [];
    if (chain.length < 2)
        return [`the minted SVID's chain has ${chain.length} certificate(s), expected the leaf and the server's CA`];
    const [leaf, authority] = chain;
    if (!leaf.verify(authority.publicKey)) problems.push("the SVID is not signed by the next certificate of its chain");
    if (!authority.ca) problems.push(`the server's authority ${authority.subject} is not a CA`);
    if (!authority.verify(upstream.publicKey))
        problems.push(
            `the server's authority (${authority.subject.replace(/\n/g, ", ")}) is not signed by the upstream CA (${upstream.subject.replace(/\n/g, ", ")})`,
        );
    const have = new Set(bundle.map((c) => c.fingerprint256));
    const missing = upstreamBundle.filter((c) => !have.has(c.fingerprint256));
    if (upstreamBundle.length === 0) problems.push("the upstream Secret has no bundle.crt");
    for (const c of missing)
        problems.push(`the server's bundle lacks the upstream bundle's ${c.subject.replace(/\n/g, ", ")}`);
    return problems;
}

export function pemCertificates(text: string): X509Certificate[] {
    return (text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
        (p) => new X509Certificate(p),
    );
}

// ---------------------------------------------------------------- the commands

type Flags = Record<string, string[]>;

function parseFlags(argv: string[]): Flags {
    const flags: Flags = {};
    for (let i = 0; i < argv.length; i += 2) (flags[argv[i].replace(/^--/, "")] ??= []).push(argv[i + 1]);
    return flags;
}

function pairs(flags: Flags, name: string): Map<string, string> {
    return new Map((flags[name] ?? []).map((p) => p.split("=", 2) as [string, string]));
}

const results: string[] = [];
function check(ok: boolean, what: string, detail = ""): boolean {
    results.push(`${ok ? "PASS" : "FAIL"}: ${what}${detail ? `: ${detail}` : ""}`);
    return ok;
}

function run(
    file: string,
    args: string[],
    timeoutMs = 30000,
): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        execFile(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
            const code = err
                ? typeof (err as { code?: unknown }).code === "number"
                    ? (err as { code: number }).code
                    : -1
                : 0;
            resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        });
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Stack {
    readonly stack: string;
    readonly kc: k8s.KubeConfig;
    readonly core: k8s.CoreV1Api;
    readonly outputs: {
        rootCaCert?: string;
        eastWestAddress?: string;
        federation?: { bundleEndpointURL?: string };
        identity?: { clusterName: string; network: string; trustDomain: string; trustModel: string };
    };
    readonly istiod: { dir: string; netns: string };
    readonly spire: { dir: string; netns: string };
}

function stacksOf(flags: Flags): Stack[] {
    const prefix = flags["netns-prefix"][0];
    const pods = flags.pods[0];
    const outputs = pairs(flags, "outputs");
    return [...pairs(flags, "kubeconfig")].map(([stack, file]) => {
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(file);
        return {
            stack,
            kc,
            core: kc.makeApiClient(k8s.CoreV1Api),
            outputs: JSON.parse(fs.readFileSync(outputs.get(stack) as string, "utf8")),
            istiod: { dir: path.join(pods, `${stack}-istiod`), netns: `${prefix}-${stack}-istiod` },
            spire: { dir: path.join(pods, `${stack}-spire-server`), netns: `${prefix}-${stack}-spire-server` },
        };
    });
}

/** An istiod debug endpoint, asked from inside its pod's network namespace as `npm run verify` asks it (`pilot-discovery request`). */
async function istiodDebug(bin: string, s: Stack, endpoint: string): Promise<string> {
    const res = await run("ip", [
        "netns",
        "exec",
        s.istiod.netns,
        path.join(bin, "pilot-discovery"),
        "request",
        "GET",
        endpoint,
    ]);
    if (res.code !== 0)
        throw new Error(
            `pilot-discovery request GET ${endpoint}: exit ${res.code}: ${(res.stderr || res.stdout).trim().slice(0, 300)}`,
        );
    return res.stdout;
}

/** The host path of a path inside a container of a pod the runner started (its binds, pods.ts). */
function hostPath(dir: string, container: string, inside: string): string {
    const binds = JSON.parse(fs.readFileSync(path.join(dir, `${container}.binds.json`), "utf8")) as Bind[];
    const b = binds
        .filter((x) => inside === x.target || inside.startsWith(x.target + "/"))
        .sort((x, y) => y.target.length - x.target.length)[0];
    if (!b) throw new Error(`${inside} is on no volume of ${container}`);
    return path.join(b.source, path.relative(b.target, inside));
}

/** The SPIRE server's CLI over its admin socket (the chart's socket_path, on the pod's emptyDir). */
async function spire(bin: string, s: Stack, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const conf = JSON.parse(
        fs.readFileSync(hostPath(s.spire.dir, "spire-server", "/run/spire/config/server.conf"), "utf8"),
    ) as { server: { socket_path?: string } };
    // The chart sets none: SPIRE's default (cmd/spire-server/util/util.go, DefaultSocketPath).
    const socket = hostPath(
        s.spire.dir,
        "spire-server",
        conf.server.socket_path ?? "/tmp/spire-server/private/api.sock",
    );
    return run(path.join(bin, "spire-server"), [...args, "-socketPath", socket]);
}

/** The service account (namespace:name) a remote secret's kubeconfig authenticates as, asked of the API server it names. */
async function tokenAccount(kubeconfig: string): Promise<string> {
    const remote = new k8s.KubeConfig();
    remote.loadFromString(kubeconfig);
    const review = await remote
        .makeApiClient(k8s.AuthenticationV1Api)
        .createSelfSubjectReview({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
    return (review.body.status?.userInfo?.username ?? "").replace(/^system:serviceaccount:/, "");
}

async function remoteSecrets(s: Stack): Promise<k8s.V1Secret[]> {
    return (
        await s.core.listNamespacedSecret(
            ISTIO_NAMESPACE,
            undefined,
            undefined,
            undefined,
            undefined,
            "istio/multiCluster=true",
        )
    ).body.items;
}

/** istiod's view of its remote clusters, once none is still syncing (istiod gives up on one after PILOT_REMOTE_CLUSTER_TIMEOUT, 30 s). */
async function settledClusterz(bin: string, s: Stack, ids: string[], timeoutMs: number): Promise<RemoteCluster[]> {
    const until = Date.now() + timeoutMs;
    let last: RemoteCluster[] = [];
    let error = "";
    while (Date.now() < until) {
        try {
            last = parseClusterz(await istiodDebug(bin, s, "/debug/clusterz"));
            error = "";
            if (ids.every((id) => last.some((c) => c.id === id && c.syncStatus !== "syncing"))) return last;
        } catch (err) {
            error = (err as Error).message;
        }
        await sleep(2000);
    }
    if (error) throw new Error(`istiod did not answer /debug/clusterz in ${timeoutMs / 1000} s: ${error}`);
    return last;
}

function istiodLog(s: Stack): string {
    return fs.readFileSync(path.join(s.istiod.dir, "discovery.log"), "utf8");
}

async function checkIstiod(bin: string, s: Stack, all: Stack[]): Promise<void> {
    const secrets = await remoteSecrets(s);
    const ids = secrets.flatMap((x) => Object.keys(x.data ?? {}));
    let clusters: RemoteCluster[];
    try {
        clusters = await settledClusterz(bin, s, ids, 150000);
    } catch (err) {
        check(
            false,
            `${s.stack}: istiod runs and answers its debug endpoints`,
            `${(err as Error).message}; log: ${istiodLog(s).split("\n").slice(-5).join(" | ")}`,
        );
        return;
    }
    const log = istiodLog(s);
    const ca = pluggedCaProblems(log);
    check(
        ca.length === 0,
        `${s.stack}: istiod started with the plugged-in CA (istio-system/cacerts at /etc/cacerts)`,
        ca.join("; "),
    );

    // The root istiod publishes for its workloads (the istio-ca-root-cert ConfigMap, made by istiod itself) is this stack's root.
    const want = new X509Certificate(String(s.outputs.rootCaCert));
    let published: X509Certificate[] = [];
    for (let i = 0; i < 30 && published.length === 0; i++) {
        try {
            published = pemCertificates(
                (await s.core.readNamespacedConfigMap("istio-ca-root-cert", ISTIO_NAMESPACE)).body.data?.[
                    "root-cert.pem"
                ] ?? "",
            );
        } catch {
            await sleep(1000);
        }
    }
    check(
        published.length > 0 && published.every((c) => c.fingerprint256 === want.fingerprint256),
        `${s.stack}: istiod's root of trust (the istio-ca-root-cert ConfigMap it publishes) is the stack's rootCaCert ${want.subject.replace(/\n/g, ", ")}`,
        published.length === 0
            ? "no istio-ca-root-cert in istio-system"
            : published.map((c) => c.subject.replace(/\n/g, ", ")).join(" + "),
    );

    // Every remote secret's cluster read: the token, its RBAC and the kubeconfig work for istiod itself,
    // and the API server refused that token nothing but Secrets (the least-privilege reader, docs/pki.md).
    for (const secret of secrets) {
        for (const [id, data] of Object.entries(secret.data ?? {})) {
            const account = await tokenAccount(Buffer.from(data, "base64").toString());
            const refused = refusedReads(log, account);
            const state = clusters.find((c) => c.id === id)?.syncStatus ?? "absent";
            const problems = remoteReadProblems(clusters, id, refused);
            check(
                problems.length === 0,
                `${s.stack}: istiod reads cluster ${id} through its remote secret ${secret.metadata?.name} as ${account} (/debug/clusterz: ${state}; refused only [${refused.join(", ")}])`,
                problems.join("; "),
            );
        }
    }

    // Multi-network discovery: the peers' sample services in istiod's registry, on the peer's network, behind its east-west gateway.
    const shardz = JSON.parse(await istiodDebug(bin, s, "/debug/endpointShardz")) as Shardz;
    const gateways = parseNetworkz(await istiodDebug(bin, s, "/debug/networkz"));
    for (const peer of all.filter((p) => p !== s && ids.includes(p.outputs.identity?.clusterName ?? ""))) {
        const identity = peer.outputs.identity as NonNullable<Stack["outputs"]["identity"]>;
        const services = (await peer.core.listNamespacedService(SAMPLE_NAMESPACE)).body.items
            .filter((svc) => Object.keys(svc.spec?.selector ?? {}).length > 0)
            .map((svc) => ({ name: svc.metadata?.name ?? "", namespace: SAMPLE_NAMESPACE }));
        const problems = [
            ...(services.length === 0 ? [`${peer.stack} has no Service with a selector in ${SAMPLE_NAMESPACE}`] : []),
            ...peerServiceProblems(shardz, { cluster: identity.clusterName, network: identity.network, services }),
            ...networkGatewayProblems(gateways, [
                { cluster: identity.clusterName, address: String(peer.outputs.eastWestAddress) },
            ]),
        ];
        const count = services.reduce(
            (n, svc) =>
                n +
                (shardz[`${svc.name}.${svc.namespace}.svc.cluster.local`]?.[svc.namespace]?.Shards?.[
                    `Kubernetes/${identity.clusterName}`
                ]?.length ?? 0),
            0,
        );
        check(
            problems.length === 0,
            `${s.stack}: istiod's registry holds ${identity.clusterName}'s sample services (${services.map((x) => x.name).join(", ")}: ${count} endpoints) on ${identity.network}, behind its east-west gateway ${peer.outputs.eastWestAddress}:${CROSS_NETWORK_PORT}`,
            problems.join("; "),
        );
    }
}

async function checkSpire(bin: string, s: Stack, all: Stack[]): Promise<void> {
    const identity = s.outputs.identity as NonNullable<Stack["outputs"]["identity"]>;
    let health = { code: -1, stdout: "", stderr: "" };
    for (let i = 0; i < 60 && health.code !== 0; i++) {
        health = await spire(bin, s, ["healthcheck"]);
        if (health.code !== 0) await sleep(2000);
    }
    const serverLog = () =>
        fs.readFileSync(path.join(s.spire.dir, "spire-server.log"), "utf8").split("\n").slice(-4).join(" | ");
    if (
        !check(
            health.code === 0,
            `${s.stack}: the SPIRE server is healthy (spire-server healthcheck over its admin socket)`,
            health.code === 0 ? "" : `${(health.stderr || health.stdout).trim()}; log: ${serverLog()}`,
        )
    )
        return;

    // Its X.509 authority chains to the upstream CA the program wrote into spire-server/spire-upstream-ca.
    const upstream = (await s.core.readNamespacedSecret("spire-upstream-ca", SPIRE_SERVER_NAMESPACE)).body.data ?? {};
    const text = (k: string) => Buffer.from(upstream[k] ?? "", "base64").toString();
    const mint = await spire(bin, s, [
        "x509",
        "mint",
        "-spiffeID",
        `spiffe://${identity.trustDomain}/zta-engine/chain-check`,
        "-output",
        "json",
    ]);
    const bundle = await spire(bin, s, ["bundle", "show", "-format", "pem"]);
    if (mint.code !== 0 || bundle.code !== 0) {
        check(
            false,
            `${s.stack}: the SPIRE server's X.509 authority chains to the upstream CA`,
            (mint.stderr || bundle.stderr).trim(),
        );
    } else {
        const minted = JSON.parse(mint.stdout) as { x509_svid?: string[] } | { x509_svid?: string[] }[];
        const der = (Array.isArray(minted) ? minted[0] : minted).x509_svid ?? [];
        const chain = der.map((d) => new X509Certificate(Buffer.from(d, "base64")));
        const upstreamCa = pemCertificates(text("tls.crt"))[0];
        const problems = upstreamCa
            ? spireChainProblems(chain, pemCertificates(bundle.stdout), upstreamCa, pemCertificates(text("bundle.crt")))
            : ["the upstream Secret has no tls.crt"];
        check(
            problems.length === 0,
            `${s.stack}: the SPIRE server's X.509 authority ${chain[1]?.subject.replace(/\n/g, ", ") ?? "?"} is signed by the upstream CA in ${SPIRE_SERVER_NAMESPACE}/spire-upstream-ca, and its bundle holds that Secret's bundle.crt`,
            problems.join("; "),
        );
    }

    // The controller manager's entries: one per pod its ClusterSPIFFEIDs select, with the ID the template promises.
    const config = YAML.parse(
        fs.readFileSync(hostPath(s.spire.dir, "spire-controller-manager", "/controller-manager-config.yaml"), "utf8"),
    ) as { className?: string; ignoreNamespaces?: string[]; clusterName?: string };
    const custom = s.kc.makeApiClient(k8s.CustomObjectsApi);
    const csids = (
        (await custom.listClusterCustomObject("spire.spiffe.io", "v1alpha1", "clusterspiffeids")).body as {
            items: { metadata: { name: string }; spec: LiveClusterSpiffeId["spec"] }[];
        }
    ).items.map((i) => ({
        name: i.metadata.name,
        spec: i.spec,
    }));
    const pods = (await s.core.listPodForAllNamespaces()).body.items;
    const namespaces = Object.fromEntries(
        (await s.core.listNamespace()).body.items.map((n) => [n.metadata?.name ?? "", n.metadata?.labels ?? {}]),
    );
    const promised = promisedIds(csids, pods, namespaces, {
        className: config.className ?? "",
        ignoreNamespaces: config.ignoreNamespaces ?? [],
        trustDomain: identity.trustDomain,
        clusterName: config.clusterName ?? identity.clusterName,
    });
    let entries: string[] = [];
    let missing: string[] = promised.map((p) => p.id);
    for (let i = 0; i < 45 && missing.length > 0; i++) {
        const shown = await spire(bin, s, ["entry", "show", "-output", "json"]);
        entries = shown.code === 0 ? spireEntryIds(shown.stdout) : [];
        missing = promised.filter((p) => !entries.includes(p.id)).map((p) => `${p.id} (pod ${p.pod}, ${p.by})`);
        if (missing.length > 0) await sleep(2000);
    }
    const gateways = promised.filter((p) => p.pod.startsWith(`${ISTIO_NAMESPACE}/`));
    check(
        missing.length === 0 && gateways.length > 0,
        `${s.stack}: the controller manager turned the ClusterSPIFFEIDs (${csids.map((c) => c.name).join(", ")}) into entries for the ${promised.length} running pods they select, gateways included: ${[...new Set(promised.map((p) => p.id))].join(", ")}`,
        missing.length > 0
            ? `no entry for ${missing.join(", ")} (entries: ${entries.join(", ") || "none"})`
            : gateways.length === 0
              ? "no gateway pod is selected"
              : "",
    );

    // Federated model: this server's bundle endpoint serves its bundle (reached on the federation
    // address, which its pod holds), and it holds each peer's, through the ClusterFederatedTrustDomains.
    if (identity.trustModel === "federated") {
        const url = s.outputs.federation?.bundleEndpointURL ?? "";
        const served = await bundleEndpoint(url).catch((err: Error) => ({
            error: err.message,
            keys: [] as X509Certificate[],
            san: "",
        }));
        const own = new X509Certificate(String(s.outputs.rootCaCert));
        check(
            served.keys.some((c) => c.fingerprint256 === own.fingerprint256) &&
                served.san === `spiffe://${identity.trustDomain}/spire/server`,
            `${s.stack}: the SPIRE server's bundle endpoint ${url} serves its trust domain's bundle (with the stack's root) as spiffe://${identity.trustDomain}/spire/server`,
            "error" in served
                ? served.error
                : `served ${served.keys.length} X.509 authorities, TLS identity ${served.san || "none"}`,
        );
        for (const peer of all.filter((p) => p !== s)) {
            const td = peer.outputs.identity?.trustDomain ?? "";
            let shown = { code: -1, stdout: "", stderr: "" };
            for (let i = 0; i < 45 && shown.code !== 0; i++) {
                shown = await spire(bin, s, ["bundle", "list", "-id", `spiffe://${td}`, "-format", "pem"]);
                if (shown.code !== 0) await sleep(2000);
            }
            const peerRoot = new X509Certificate(String(peer.outputs.rootCaCert));
            const held = pemCertificates(shown.stdout);
            const holds = held.some((c) => c.fingerprint256 === peerRoot.fingerprint256);
            check(
                holds,
                `${s.stack}: the SPIRE server holds the bundle of ${td} (spire-server bundle list), with ${peer.stack}'s root`,
                // On success the root by fingerprint; on failure what the command said, on one line.
                holds
                    ? `SHA-256 ${peerRoot.fingerprint256}`
                    : (shown.stderr || shown.stdout).trim().replace(/\s+/g, " ").slice(0, 300),
            );
        }
    }
}

/** A SPIFFE bundle endpoint's answer (https_spiffe: its TLS certificate is the server's SVID, checked by the caller): its X.509 authorities and its URI SAN. */
function bundleEndpoint(url: string): Promise<{ keys: X509Certificate[]; san: string }> {
    return new Promise((resolve, reject) => {
        const req = https.get(url, { rejectUnauthorized: false, timeout: 10000 }, (res) => {
            const peer = (res.socket as import("tls").TLSSocket).getPeerX509Certificate();
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
                try {
                    const bundle = JSON.parse(Buffer.concat(chunks).toString()) as {
                        keys?: { use?: string; x5c?: string[] }[];
                    };
                    const keys = (bundle.keys ?? [])
                        .filter((k) => k.use === "x509-svid")
                        .flatMap((k) =>
                            (k.x5c ?? []).slice(0, 1).map((d) => new X509Certificate(Buffer.from(d, "base64"))),
                        );
                    const san = /URI:([^,\s]+)/.exec(peer?.subjectAltName ?? "")?.[1] ?? "";
                    resolve({ keys, san });
                } catch (err) {
                    reject(err as Error);
                }
            });
        });
        req.on("timeout", () => req.destroy(new Error(`no answer from ${url} in 10 s`)));
        req.on("error", reject);
    });
}

/** `check`: istiod and SPIRE of every stack. */
async function checkAll(flags: Flags): Promise<void> {
    const bin = flags.bin[0];
    const all = stacksOf(flags);
    for (const s of all) {
        await checkIstiod(bin, s, all);
        await checkSpire(bin, s, all);
    }
    console.log(results.join("\n"));
}

/**
 * `broken`: the must-show of a control plane a plan cannot stand in for. A remote secret
 * for an extra cluster id, pointing at a peer's API server with a token of its own whose
 * role is the peer reader's minus `list` and `watch` on endpointslices; the same decision as
 * the real check (verify's remoteClusterProblems) must fail for it, while the real peer stays
 * synced. Not one verb: istiod's client-go (0.35, WatchListClient on by default) streams an
 * informer's initial list over a watch, and falls back to LIST when that watch is refused, so
 * a role without only one of the two still syncs (seen in this tier).
 */
async function broken(flags: Flags): Promise<void> {
    const bin = flags.bin[0];
    const all = stacksOf(flags);
    const s = all[0];
    const secret = (await remoteSecrets(s))[0];
    const [peerId, data] = Object.entries(secret?.data ?? {})[0] ?? [];
    const peer = all.find((p) => p.outputs.identity?.clusterName === peerId);
    if (!secret || !peer) {
        check(false, `${s.stack}: a remote secret to break`, "none found");
        console.log(results.join("\n"));
        return;
    }
    const [readerNs, readerName] = (await tokenAccount(Buffer.from(data, "base64").toString())).split(":");
    const rbac = peer.kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    const name = "zta-engine-broken-reader";
    const id = `broken-${peerId}`;
    const subject = { kind: "ServiceAccount", name, namespace: readerNs };
    const isReader = (subjects?: k8s.RbacV1Subject[]) =>
        (subjects ?? []).some((x) => x.kind === "ServiceAccount" && x.name === readerName && x.namespace === readerNs);
    const made: (() => Promise<unknown>)[] = [];
    try {
        await peer.core.createNamespacedServiceAccount(readerNs, { metadata: { name } });
        made.push(() => peer.core.deleteNamespacedServiceAccount(name, readerNs));
        // The reader's cluster roles, copied without reading endpointslices; its namespaced roles as they are.
        let removed = 0;
        for (const binding of (await rbac.listClusterRoleBinding()).body.items.filter((b) => isReader(b.subjects))) {
            const role = (await rbac.readClusterRole(binding.roleRef.name)).body;
            const rules = (role.rules ?? []).flatMap((r) => {
                const split = withoutEndpointSliceReads(r);
                if (split.length !== 1 || split[0] !== r) removed++;
                return split;
            });
            const copy = `${name}-${binding.roleRef.name}`;
            await rbac.createClusterRole({ metadata: { name: copy }, rules });
            made.push(() => rbac.deleteClusterRole(copy));
            await rbac.createClusterRoleBinding({
                metadata: { name: copy },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: copy },
                subjects: [subject],
            });
            made.push(() => rbac.deleteClusterRoleBinding(copy));
        }
        for (const binding of (await rbac.listRoleBindingForAllNamespaces()).body.items.filter((b) =>
            isReader(b.subjects),
        )) {
            const ns = binding.metadata?.namespace ?? "";
            const copy = `${name}-${binding.metadata?.name}`;
            await rbac.createNamespacedRoleBinding(ns, {
                metadata: { name: copy },
                roleRef: binding.roleRef,
                subjects: [subject],
            });
            made.push(() => rbac.deleteNamespacedRoleBinding(copy, ns));
        }
        if (removed === 0)
            throw new Error(`the reader ${readerNs}/${readerName} has no rule that reads endpointslices`);
        const token =
            (
                await peer.core.createNamespacedServiceAccountToken(name, readerNs, {
                    spec: { audiences: [], expirationSeconds: 3600 },
                })
            ).body.status?.token ?? "";
        const kubeconfig = YAML.parse(Buffer.from(data, "base64").toString()) as {
            users: { user: Record<string, unknown> }[];
        };
        for (const u of kubeconfig.users) u.user = { token };
        const secretName = `istio-remote-secret-${id}`;
        await s.core.createNamespacedSecret(ISTIO_NAMESPACE, {
            metadata: {
                name: secretName,
                labels: { "istio/multiCluster": "true" },
                annotations: { "networking.istio.io/cluster": id },
            },
            stringData: { [id]: YAML.stringify(kubeconfig) },
        });
        made.push(() => s.core.deleteNamespacedSecret(secretName, ISTIO_NAMESPACE));

        const clusters = await settledClusterz(bin, s, [id, peerId], 120000);
        const log = istiodLog(s);
        const problems = remoteReadProblems(clusters, id, refusedReads(log, `${readerNs}:${name}`));
        const realProblems = remoteReadProblems(clusters, peerId, refusedReads(log, `${readerNs}:${readerName}`));
        check(
            problems.length > 0,
            `${s.stack}: istiod does not read cluster ${id}, whose token (${readerNs}/${name} on ${peer.stack}) lacks list and watch on endpointslices: the check catches it`,
            problems.length > 0 ? problems.join("; ") : `istiod reads ${id} with nothing refused but Secrets`,
        );
        check(
            realProblems.length === 0,
            `${s.stack}: meanwhile istiod still reads ${peerId} through the real remote secret`,
            realProblems.join("; "),
        );
    } finally {
        for (const undo of made.reverse()) await undo().catch(() => undefined);
    }
    console.log(results.join("\n"));
}

if (require.main === module) {
    const [command, ...rest] = process.argv.slice(2);
    const commands: Record<string, (flags: Flags) => Promise<void>> = { check: checkAll, broken };
    const fn = commands[command];
    if (!fn) {
        console.error(
            `usage: control-plane.ts <${Object.keys(commands).join("|")}> --pods DIR --netns-prefix P --bin BIN --kubeconfig S=F... --outputs S=F...`,
        );
        process.exit(2);
    }
    fn(parseFlags(rest)).catch((err: unknown) => {
        const body = (err as { body?: { message?: string } }).body?.message;
        console.log(results.join("\n"));
        console.log(`FAIL: control-plane ${command}: ${body ?? (err instanceof Error ? err.message : String(err))}`);
        process.exit(2);
    });
}
