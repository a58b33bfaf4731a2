import { LabWorkload, runsIn, SAMPLE_APPS, SAMPLE_NAMESPACE, workloadRef } from "../../model/lab";
import { Check, CheckContext, CheckSkipped, curlSeconds, failIf } from "../check";
import { splitStatus } from "./network-segmentation";

/** One call between workloads: from a caller's pod (its `app` label and container are its name) to a workload's Service. */
export interface WorkloadCall {
    readonly from: { readonly namespace: string; readonly name: string };
    readonly to: { readonly namespace: string; readonly name: string; readonly port: number; readonly path: string };
}

/** The URL a call requests: the Service, on the workload's ingress path (what it serves) or "/". */
export function callUrl(call: WorkloadCall): string {
    return `http://${call.to.name}.${call.to.namespace}:${call.to.port}${call.to.path}`;
}

const target = (w: LabWorkload & { port: number }): WorkloadCall["to"] => ({
    namespace: w.namespace,
    name: w.name,
    port: w.port,
    path: w.ingress?.pathPrefix ?? "/",
});

/** The calls `workloads` states whose caller runs in `clusterName`: each caller to each workload that names it. */
export function statedCalls(workloads: readonly LabWorkload[], clusterName: string): WorkloadCall[] {
    return workloads.flatMap((w) =>
        w.port === undefined
            ? []
            : workloads
                  .filter((c) => runsIn(c, clusterName) && w.callers.includes(workloadRef(c)))
                  .map((c) => ({
                      from: { namespace: c.namespace, name: c.name },
                      to: target({ ...w, port: w.port! }),
                  })),
    );
}

/**
 * Calls the config does not state, to try in order until one caller has a Ready pod with
 * curl: to the first workload with callers, from the samples' `sleep` (a client of the
 * samples only), then from each workload running in `clusterName` that is not among its callers.
 */
export function unstatedCalls(workloads: readonly LabWorkload[], clusterName: string): WorkloadCall[] {
    const served = workloads.find((w) => w.port !== undefined && w.callers.length > 0);
    if (!served) return [];
    const to = target({ ...served, port: served.port! });
    const others = workloads.filter(
        (c) => c !== served && runsIn(c, clusterName) && !served.callers.includes(workloadRef(c)),
    );
    return [{ namespace: SAMPLE_NAMESPACE, name: SAMPLE_APPS.sleep.name }, ...others].map((c) => ({
        from: { namespace: c.namespace, name: c.name },
        to,
    }));
}

/** What a call got: the app's answer, the mesh's refusal, or nothing run. */
export type CallOutcome =
    | { readonly kind: "answered"; readonly status: string }
    | { readonly kind: "refused"; readonly how: string }
    | { readonly kind: "not run"; readonly why: string };

/**
 * A curl answer told apart: no connection ("000": the network policy dropped it), the
 * sidecar's 503 when it could not connect upstream, Envoy's 403 "RBAC: access denied"
 * (an AuthorizationPolicy refused it), or any other status, the app's own.
 */
export function outcomeOf(reply: { body: string; status: string }): CallOutcome {
    if (reply.status === "000") return { kind: "refused", how: "no connection" };
    if (reply.status === "403" && /RBAC: access denied/.test(reply.body))
        return { kind: "refused", how: "403 RBAC: access denied" };
    if (reply.status === "503" && /upstream connect error|connection reset|no healthy upstream/.test(reply.body))
        return { kind: "refused", how: `503 ${reply.body.slice(0, 60)}` };
    return { kind: "answered", status: reply.status };
}

/** The problems of the stated calls (each must reach the app) and of the unstated one (it must be refused). */
export function flowProblems(
    stated: readonly { call: WorkloadCall; outcome: CallOutcome }[],
    unstated?: { call: WorkloadCall; outcome: CallOutcome },
): string[] {
    const name = (call: WorkloadCall) => `${call.from.namespace}/${call.from.name} -> ${callUrl(call)}`;
    const problems = stated.flatMap(({ call, outcome }) =>
        outcome.kind === "refused" ? [`stated call ${name(call)}: ${outcome.how}, expected the app's answer`] : [],
    );
    if (unstated?.outcome.kind === "answered")
        problems.push(
            `unstated call ${name(unstated.call)}: HTTP ${unstated.outcome.status} from the app, expected the mesh to refuse it (403 RBAC or no connection)`,
        );
    return problems;
}

/** Runs a call from a Ready pod of its caller, with curl in the caller's container. */
async function attempt({ cluster, options }: CheckContext, call: WorkloadCall): Promise<CallOutcome> {
    const pods = await cluster.listPods(call.from.namespace, `app=${call.from.name}`);
    const pod = pods.find((p) => p.ready && p.phase === "Running" && p.containers.includes(call.from.name));
    if (!pod) return { kind: "not run", why: `no Ready pod of ${call.from.namespace}/${call.from.name}` };
    const command = [
        "curl",
        "-s",
        "--max-time",
        String(curlSeconds(options, 4)),
        "-w",
        "\\n%{http_code}",
        callUrl(call),
    ];
    const res = await cluster.exec(pod.namespace, pod.name, call.from.name, command);
    // 126/127: the shell found no curl to run; curl's own failures (no connection: 7, 28) still print a status.
    if (res.code === 126 || res.code === 127 || /executable file not found|not found in \$PATH/.test(res.stderr))
        return { kind: "not run", why: `no curl in ${call.from.namespace}/${call.from.name}'s container` };
    return outcomeOf(splitStatus(res.stdout));
}

export const workloadFlows: Check = {
    id: "workload-flows",
    title: "the configured workloads' calls pass, an unstated one is refused",
    proves: "for each call zta-testbed:workloads states whose caller runs in this cluster, curl in the caller's container reaches the workload's Service (on its ingress path, else /) and the app answers; a caller the config does not state (the samples' sleep, else another workload here) is refused by the mesh (403 RBAC: access denied, or no connection). Calls that cannot run here (no Ready caller pod, no curl in it) are named, and SKIP when none could",
    async run(ctx) {
        const { workloads, clusterName } = ctx.target;
        if (workloads.length === 0) throw new CheckSkipped("no zta-testbed:workloads configured");
        const notes: string[] = [];
        const stated: { call: WorkloadCall; outcome: CallOutcome }[] = [];
        for (const call of statedCalls(workloads, clusterName)) {
            const outcome = await attempt(ctx, call);
            if (outcome.kind === "not run") notes.push(`${callUrl(call)} not called: ${outcome.why}`);
            else stated.push({ call, outcome });
        }
        let unstated: { call: WorkloadCall; outcome: CallOutcome } | undefined;
        for (const call of unstatedCalls(workloads, clusterName)) {
            const outcome = await attempt(ctx, call);
            if (outcome.kind !== "not run") {
                unstated = { call, outcome };
                break;
            }
            notes.push(`${call.from.namespace}/${call.from.name} as the unstated caller: ${outcome.why}`);
        }
        failIf(flowProblems(stated, unstated));
        const done = [
            ...stated.map(
                ({ call, outcome }) =>
                    `${call.from.namespace}/${call.from.name} -> ${callUrl(call)}: ${outcome.kind === "answered" ? `HTTP ${outcome.status}` : ""}`,
            ),
            ...(unstated && unstated.outcome.kind === "refused"
                ? [
                      `${unstated.call.from.namespace}/${unstated.call.from.name} -> ${callUrl(unstated.call)}: refused (${unstated.outcome.how})`,
                  ]
                : []),
        ];
        if (done.length === 0)
            throw new CheckSkipped(
                notes.length > 0 ? notes.join("; ") : `no configured call has its caller in ${clusterName}`,
            );
        return [...done, ...notes].join("; ");
    },
};
