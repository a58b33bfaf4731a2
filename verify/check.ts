// What a check is and what it is given (verify/catalog.ts lists the checks,
// verify/checks/ holds one per file), and the helpers the checks share to talk
// to the cluster.
import { Cluster, PodInfo, ScopedReview } from "./cluster";
import { LabWorkload } from "../model/lab";
import { ISTIOD } from "../model/workloads";
import { HttpGet, IssuerClient, TokenFetch } from "./ingress";

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
    /** Every peer: the roster without this stack, with what its outputs say. */
    readonly peers: readonly PeerTarget[];
    /** The lab's own workloads (`workloads`): the calls `workload-flows` makes. */
    readonly workloads: readonly LabWorkload[];
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

export function failIf(problems: string[]): void {
    if (problems.length > 0) throw new CheckFailed(problems);
}

// ---- helpers that talk to the cluster ----

export const PROXY_CONTAINER = "istio-proxy";

/** A Ready, Running pod of the selector (with that container): the one a check execs in. */
export async function readyPod(
    cluster: Cluster,
    namespace: string,
    selector: string,
    container?: string,
): Promise<PodInfo> {
    const pods = await cluster.listPods(namespace, selector);
    const pod = pods.find(
        (p) => p.ready && p.phase === "Running" && (container === undefined || p.containers.includes(container)),
    );
    if (pod === undefined)
        throw new CheckFailed([
            `no Ready pod with ${selector}${container ? ` and container ${container}` : ""} in ${namespace} (found ${pods.length})`,
        ]);
    return pod;
}

/** A command's stdout in a pod's container; a non-zero exit fails the check with its stderr. */
export async function run(cluster: Cluster, pod: PodInfo, container: string, command: string[]): Promise<string> {
    const res = await cluster.exec(pod.namespace, pod.name, container, command);
    if (res.code !== 0) {
        throw new CheckFailed([
            `\`${command.join(" ")}\` in ${pod.namespace}/${pod.name} (${container}) exited ${res.code}: ${(res.stderr || res.stdout).trim().slice(0, 300)}`,
        ]);
    }
    return res.stdout;
}

export function istiodDebug(cluster: Cluster, pod: PodInfo, path: string): Promise<string> {
    // pilot-discovery's `request` subcommand GETs istiod's own debug port (127.0.0.1:15014).
    return run(cluster, pod, ISTIOD.container, ["pilot-discovery", "request", "GET", path]);
}

/** Seconds each curl may take so that `count` of them fit in the check's bound. */
export function curlSeconds(options: VerifyOptions, count: number): number {
    return Math.max(1, Math.floor(options.timeoutMs / 1000 / count));
}
