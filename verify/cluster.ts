// The Kubernetes calls verify makes, behind a small interface: the real one on
// @kubernetes/client-node (no kubectl), a fake in the tests.
import * as k8s from "@kubernetes/client-node";
import { Writable } from "stream";
import { AccessProbe, AccessReview } from "./reader-scope";

/** What verify needs to know of a pod. */
export interface PodInfo {
    readonly name: string;
    readonly namespace: string;
    readonly phase: string;
    /** The pod's `Ready` condition is True. */
    readonly ready: boolean;
    readonly serviceAccount: string;
    readonly labels: Readonly<Record<string, string>>;
    /** Names of the containers (and native sidecars, init containers that keep running). */
    readonly containers: string[];
    /** Containers that are not ready, for the failure message. */
    readonly notReadyContainers: string[];
}

/** What verify needs to know of a Service. */
export interface ServiceInfo {
    readonly name: string;
    readonly namespace: string;
    readonly type: string;
    readonly selector: Readonly<Record<string, string>>;
    /** `status.loadBalancer.ingress[].ip`: the addresses MetalLB assigned. */
    readonly loadBalancerIps: string[];
}

export interface ExecResult {
    readonly stdout: string;
    readonly stderr: string;
    /** The command's exit code; -1 when the API reported a failure without one. */
    readonly code: number;
}

export interface Cluster {
    /** The API server URL, for messages. */
    readonly endpoint: string;
    /** Fails (within the connect timeout) when the API server cannot be reached. */
    probe(): Promise<void>;
    listPods(namespace: string, labelSelector?: string): Promise<PodInfo[]>;
    /** The Service, or undefined when there is none of that name. */
    getService(namespace: string, name: string): Promise<ServiceInfo | undefined>;
    /** Whether the Secret exists (its data is not read). */
    hasSecret(namespace: string, name: string): Promise<boolean>;
    /** A Secret's data, decoded, or undefined when there is none of that name (read for remote secrets only). */
    secretData(namespace: string, name: string): Promise<Record<string, string> | undefined>;
    exec(namespace: string, pod: string, container: string, command: string[]): Promise<ExecResult>;
}

/** Rejects after `ms` milliseconds; `onTimeout` lets the caller drop a connection. */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout?: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
            onTimeout?.();
            reject(new Error(`no answer within ${ms / 1000}s`));
        }, ms);
    });
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** The HTTP status in a client-node error (it rejects with `{ response, body }`), if any. */
function statusOf(err: unknown): number | undefined {
    const e = err as { statusCode?: number; response?: { statusCode?: number } };
    return e?.response?.statusCode ?? e?.statusCode;
}

/** Turns client-node's rejections (`{response, body}`, not Errors) into Errors with a readable message. */
function asError(err: unknown, what: string): Error {
    // Not `instanceof Error`: errors from Node's core can come from another realm (jest).
    const message = (err as { message?: unknown })?.message;
    if (typeof message === "string") return new Error(`${what}: ${message}`);
    const e = err as { body?: { message?: string }; response?: { statusCode?: number } };
    const status = statusOf(err);
    return new Error(`${what}: ${e?.body?.message ?? "request failed"}${status ? ` (HTTP ${status})` : ""}`);
}

export function podInfo(p: k8s.V1Pod): PodInfo {
    const statuses = [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])];
    // Completed init containers are not ready by design; only running ones (native sidecars) count.
    const notReady = statuses.filter((c) => !c.ready && c.state?.terminated?.exitCode !== 0).map((c) => c.name);
    return {
        name: p.metadata?.name ?? "",
        namespace: p.metadata?.namespace ?? "",
        phase: p.status?.phase ?? "Unknown",
        ready: (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
        serviceAccount: p.spec?.serviceAccountName ?? "default",
        labels: p.metadata?.labels ?? {},
        containers: [
            ...(p.spec?.containers ?? []),
            ...(p.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always"),
        ].map((c) => c.name),
        notReadyContainers: notReady,
    };
}

/** The real cluster: client-node with every request bounded by `timeoutMs`. */
export class KubeCluster implements Cluster {
    readonly endpoint: string;
    private readonly core: k8s.CoreV1Api;
    private readonly version: k8s.VersionApi;
    private readonly execApi: k8s.Exec;

    /**
     * @param timeoutMs bound of every API request and exec
     * @param connectTimeoutMs bound of the first contact (probe), so an unreachable cluster fails fast
     */
    constructor(
        kubeconfig: string,
        private readonly timeoutMs: number,
        private readonly connectTimeoutMs: number,
    ) {
        const kc = new k8s.KubeConfig();
        if (kubeconfig.trim() === "") throw new Error("it is empty");
        try {
            kc.loadFromString(kubeconfig);
        } catch (err) {
            throw new Error(`it does not parse as a kubeconfig: ${(err as Error).message.split("\n")[0]}`, {
                cause: err,
            });
        }
        const server = kc.getCurrentCluster()?.server;
        if (!server) throw new Error("its current-context names no cluster with a server URL");
        this.endpoint = server;
        this.core = kc.makeApiClient(k8s.CoreV1Api);
        this.version = kc.makeApiClient(k8s.VersionApi);
        // `request`'s timeout bounds both the connect and the wait for an answer.
        this.core.addInterceptor((opts) => void (opts.timeout = timeoutMs));
        this.version.addInterceptor((opts) => void (opts.timeout = connectTimeoutMs));
        this.execApi = new k8s.Exec(kc);
    }

    async probe(): Promise<void> {
        await withTimeout(this.version.getCode(), this.connectTimeoutMs).catch((err) => {
            throw asError(err, "GET /version");
        });
    }

    async listPods(namespace: string, labelSelector?: string): Promise<PodInfo[]> {
        const res = await this.core
            .listNamespacedPod(namespace, undefined, undefined, undefined, undefined, labelSelector)
            .catch((err) => Promise.reject(asError(err, `list pods in ${namespace}`)));
        return res.body.items.map(podInfo);
    }

    async getService(namespace: string, name: string): Promise<ServiceInfo | undefined> {
        try {
            const { body } = await this.core.readNamespacedService(name, namespace);
            return {
                name,
                namespace,
                type: body.spec?.type ?? "ClusterIP",
                selector: body.spec?.selector ?? {},
                loadBalancerIps: (body.status?.loadBalancer?.ingress ?? [])
                    .map((i) => i.ip ?? i.hostname ?? "")
                    .filter((a) => a !== ""),
            };
        } catch (err) {
            if (statusOf(err) === 404) return undefined;
            throw asError(err, `read service ${namespace}/${name}`);
        }
    }

    async hasSecret(namespace: string, name: string): Promise<boolean> {
        try {
            await this.core.readNamespacedSecret(name, namespace);
            return true;
        } catch (err) {
            if (statusOf(err) === 404) return false;
            throw asError(err, `read secret ${namespace}/${name}`);
        }
    }

    async secretData(namespace: string, name: string): Promise<Record<string, string> | undefined> {
        try {
            const { body } = await this.core.readNamespacedSecret(name, namespace);
            return Object.fromEntries(
                Object.entries(body.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
            );
        } catch (err) {
            if (statusOf(err) === 404) return undefined;
            throw asError(err, `read secret ${namespace}/${name}`);
        }
    }

    async exec(namespace: string, pod: string, container: string, command: string[]): Promise<ExecResult> {
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        const sink = (into: Buffer[]) =>
            new Writable({ write: (chunk, _enc, done) => (into.push(Buffer.from(chunk)), done()) });
        let status: k8s.V1Status | undefined;
        let socket: { close(): void } | undefined;
        const what = `exec ${command.join(" ")} in ${namespace}/${pod} (${container})`;
        const run = (async () => {
            const ws = await this.execApi.exec(
                namespace,
                pod,
                container,
                command,
                sink(out),
                sink(err),
                null,
                false,
                (s) => (status = s),
            );
            socket = ws;
            await new Promise<void>((resolve) => ws.on("close", () => resolve()));
        })();
        await withTimeout(run, this.timeoutMs, () => socket?.close()).catch((e) => Promise.reject(asError(e, what)));
        return {
            stdout: Buffer.concat(out).toString("utf8"),
            stderr: Buffer.concat(err).toString("utf8"),
            code: exitCodeOf(status),
        };
    }
}

/** The exit code in the exec status channel's V1Status (`details.causes[reason=ExitCode]`). */
export function exitCodeOf(status: k8s.V1Status | undefined): number {
    if (status?.status === "Success") return 0;
    const cause = status?.details?.causes?.find((c) => c.reason === "ExitCode");
    const code = cause?.message !== undefined ? Number.parseInt(cause.message, 10) : NaN;
    return Number.isNaN(code) ? -1 : code;
}

/** The API server a kubeconfig opens, and SelfSubjectAccessReviews made there with its credentials. */
export interface ScopedReview {
    readonly server: string;
    readonly review: AccessReview;
}

/**
 * SelfSubjectAccessReviews with a kubeconfig's own credentials (a remote secret's
 * token), each bounded by `timeoutMs`: the API server answers for that token,
 * through its real authorizers. Any authenticated user may ask (system:basic-user).
 */
export function selfAccessReview(kubeconfig: string, timeoutMs: number): ScopedReview {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(kubeconfig);
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new Error("its current-context names no cluster with a server URL");
    const api = kc.makeApiClient(k8s.AuthorizationV1Api);
    api.addInterceptor((opts) => void (opts.timeout = timeoutMs));
    const review = async (p: AccessProbe): Promise<boolean> => {
        const res = await api
            .createSelfSubjectAccessReview({
                apiVersion: "authorization.k8s.io/v1",
                kind: "SelfSubjectAccessReview",
                spec: {
                    resourceAttributes: {
                        verb: p.verb,
                        group: p.group,
                        resource: p.resource,
                        subresource: p.subresource,
                        namespace: p.namespace,
                        name: p.name,
                    },
                },
            })
            .catch((err) => Promise.reject(asError(err, `SelfSubjectAccessReview at ${server}`)));
        return res.body.status?.allowed === true;
    };
    return { server, review };
}
