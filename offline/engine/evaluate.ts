// Evaluates the program for one stack in process, on Pulumi's mock runtime: no
// host, cluster, backend or network is touched. Every registered resource is
// recorded as the engine would receive it (record.ts), with secret values redacted.
//
// Where the mock runtime is more lenient than the engine (pulumi/pulumi
// v3.248.0, pkg/resource/deploy), the monitor here refuses what the engine
// refuses, so a program that would stop `pulumi up` stops the plan and the
// tests: see ENGINE RULES (rules.ts).
import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import { RecordingMonitor } from "./monitor";
import { PlannedResource, StackOutput, StackOutputs } from "./record";

export interface EvaluateOptions {
    readonly project: string;
    readonly stack: string;
    /** Full config map ("project:key" -> string, objects as JSON), as the engine passes it. */
    readonly config: Record<string, string>;
    readonly secretKeys: string[];
    /**
     * The outputs of the other stacks a StackReference may read, by stack name
     * ("comp3" also answers "org/zta-testbed/comp3"); a stack not in it has not been deployed.
     */
    readonly deployed?: Readonly<Record<string, StackOutputs>>;
    /** The program, e.g. `main` from stacks/main.ts. */
    readonly program: () => Promise<object>;
}

export interface Evaluation {
    readonly stack: string;
    readonly resources: PlannedResource[];
    readonly outputs: StackOutputs;
    readonly warnings: string[];
    /** The plain text of every value that was secret anywhere in the program (see SecretCollector, monitor.ts). */
    readonly secretValues: string[];
}

/** Unwraps a serialized output value into a StackOutput: secret flag plus the plain value. */
function toStackOutput(serialized: unknown): StackOutput {
    let secret = false;
    const strip = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(strip);
        if (v !== null && typeof v === "object") {
            const obj = v as Record<string, unknown>;
            if (obj[rpc.specialSigKey] === rpc.specialSecretSig) {
                secret = true;
                return strip(obj.value);
            }
            return Object.fromEntries(Object.entries(obj).map(([k, x]) => [k, strip(x)]));
        }
        return v;
    };
    const value = strip(serialized);
    return { value, secret };
}

/**
 * Runs `program` for one stack on the mock runtime and returns what it
 * declared. Warnings the program logs are captured (on the mock runtime
 * pulumi.log writes to the console).
 */
export async function evaluateStack(opts: EvaluateOptions): Promise<Evaluation> {
    const monitor = new RecordingMonitor(opts.project, opts.stack, opts.deployed ?? {});
    pulumi.runtime.setMockOptions(monitor, opts.project, opts.stack, true);
    pulumi.runtime.setAllConfig(opts.config, opts.secretKeys);
    for (const key of opts.secretKeys) monitor.secrets.add(opts.config[key]);

    const warnings: string[] = [];
    const originalWarn = console.warn;
    console.warn = (...args: unknown[]) => {
        warnings.push(
            args
                .map(String)
                .join(" ")
                .replace(/^warning: \[runtime\] /, ""),
        );
    };
    // The SDK takes `new Error().stack` of every promise it makes, for its leak report only: a
    // third of the evaluation's time (two thirds under jest, which source-maps each one). Errors
    // keep their messages; ZTA_DEBUG, which prints errors whole, keeps their stacks too.
    const stackTraceLimit = Error.stackTraceLimit;
    if (!process.env.ZTA_DEBUG) Error.stackTraceLimit = 0;
    // An error thrown by the program would escape as an unhandled rejection from
    // inside the Stack resource; catch it there and rethrow once the runtime is idle.
    let failure: unknown;
    try {
        await pulumi.runtime.runInPulumiStack(async () => {
            try {
                return await opts.program();
            } catch (err) {
                failure = err;
                return {};
            }
        });
        await pulumi.runtime.disconnect();
    } catch (err) {
        // E.g. serializing the Stack's outputs, when one of them comes from a refused resource.
        failure ??= err;
    } finally {
        console.warn = originalWarn;
        Error.stackTraceLimit = stackTraceLimit;
    }
    // A refusal is the cause of whatever failed after it, and fails the plan even when no
    // part of the program waited on the refused resource.
    if (monitor.rules.refusals.length > 0) throw monitor.rules.refusals[0];
    if (failure !== undefined) throw failure;
    const outputs = Object.fromEntries(Object.entries(monitor.stackOutputs).map(([k, v]) => [k, toStackOutput(v)]));
    return {
        stack: opts.stack,
        resources: monitor.planned,
        outputs,
        warnings,
        secretValues: [...monitor.secrets.values],
    };
}
