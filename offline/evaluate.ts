// Evaluates the program for one stack in process, on Pulumi's mock runtime: no
// host, cluster, backend or network is touched. Every registered resource is
// recorded as the engine would receive it (type, parent, dependencies,
// provider, inputs), with secret values redacted.
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import * as resproto from "@pulumi/pulumi/proto/resource_pb";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import { mockOutputs } from "./mocks";

export const SECRET = "[secret]";
export const UNKNOWN = "[unknown]";

/** One resource as the plan shows it. */
export interface PlannedResource {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly parent: string | null;
    readonly dependsOn: string[];
    readonly provider: string | null;
    readonly custom: boolean;
    readonly protect: boolean;
    readonly additionalSecretOutputs: string[];
    readonly inputs: Record<string, unknown>;
}

/** A stack output as a StackReference would see it. */
export interface StackOutput {
    readonly value: unknown;
    readonly secret: boolean;
}
export type StackOutputs = Record<string, StackOutput>;

export interface EvaluateOptions {
    readonly project: string;
    readonly stack: string;
    /** Full config map ("project:key" -> string, objects as JSON), as the engine passes it. */
    readonly config: Record<string, string>;
    readonly secretKeys: string[];
    /** The peer stack's outputs; undefined when it has not been deployed. */
    readonly peerOutputs?: StackOutputs;
    /** The program, e.g. `main` from stacks/main.ts. */
    readonly program: () => Promise<Record<string, unknown>>;
}

export interface Evaluation {
    readonly stack: string;
    readonly resources: PlannedResource[];
    readonly outputs: StackOutputs;
    readonly warnings: string[];
    /** The plain text of every value that was secret anywhere in the program (see SecretCollector). */
    readonly secretValues: string[];
}

type Callback = (err: Error | null, resp?: unknown) => void;
// The shape of the gRPC requests the SDK hands the monitor (resource_pb).
interface ResourceRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getProtect(): boolean;
    getProvider(): string;
    getDependenciesList(): string[];
    getAdditionalsecretoutputsList(): string[];
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
    getProperties?(): { toJavaScript(): Record<string, unknown> } | undefined;
    getId?(): string;
}

/** Replaces secrets with "[secret]", unknowns with "[unknown]" and resource references with their URN. */
export function redact(value: unknown): unknown {
    if (value === rpc.unknownValue) return UNKNOWN;
    if (Array.isArray(value)) return value.map(redact);
    if (value !== null && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        const sig = obj[rpc.specialSigKey];
        if (sig === rpc.specialSecretSig) return SECRET;
        if (sig === rpc.specialResourceSig) return obj.urn;
        if (sig === rpc.specialOutputValueSig) {
            if (obj.secret) return SECRET;
            return "value" in obj ? redact(obj.value) : UNKNOWN;
        }
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, redact(v)]));
    }
    return value;
}

// A provider reference is "<urn>::<id>".
function providerUrn(ref: string): string | null {
    return ref ? ref.slice(0, ref.lastIndexOf("::")) : null;
}

/**
 * The plain text of every value that was secret anywhere in the program, so
 * the plan can refuse to write one that lost its secrecy on the way: on the mock
 * runtime every secret's plain value is known. Collected: secret config values,
 * secret resource inputs and outputs (additionalSecretOutputs included), secret
 * stack and peer outputs. Only strings that were secret as a whole: a secret
 * object or list may bundle public parts (a certificate chain beside its key,
 * a cluster name beside a kubeconfig), which are not secrets; its secret
 * strings are collected where they were made secret (a key where its
 * PrivateKey outputs it, a password where its RandomPassword does).
 */
export class SecretCollector {
    readonly values = new Set<string>();

    /** A value known to be secret as a whole (secret config, a secret peer output). */
    add(value: unknown): void {
        if (typeof value === "string") this.values.add(value);
    }

    /** Collects the strings marked secret inside a serialized value. */
    addMarked(value: unknown): void {
        if (Array.isArray(value)) return value.forEach((v) => this.addMarked(v));
        if (value === null || typeof value !== "object") return;
        const obj = value as Record<string, unknown>;
        const sig = obj[rpc.specialSigKey];
        if (sig === rpc.specialSecretSig || (sig === rpc.specialOutputValueSig && obj.secret === true)) {
            this.add(obj.value);
            return this.addMarked(obj.value);
        }
        for (const v of Object.values(obj)) this.addMarked(v);
    }
}

class RecordingMonitor extends MockMonitor {
    readonly planned: PlannedResource[] = [];
    stackOutputs: Record<string, unknown> = {};
    readonly secrets = new SecretCollector();

    constructor(private readonly peerOutputs: StackOutputs | undefined) {
        super({
            newResource: () => {
                throw new Error("unreachable: RecordingMonitor registers resources itself");
            },
            call: (args) => {
                // Like awsx's tests: an invoke nobody mocked is a bug in the plan, not a value to make up.
                throw new Error(`offline plan: unmocked invoke ${args.token}`);
            },
        });
    }

    private newUrnOf(req: ResourceRequest): string {
        return (this as unknown as { newUrn(p: string, t: string, n: string): string }).newUrn(req.getParent(), req.getType(), req.getName());
    }

    private async respond(req: ResourceRequest, state: Record<string, unknown>, inputs: Record<string, unknown>, callback: Callback, read: boolean) {
        const urn = this.newUrnOf(req);
        this.planned.push({
            type: req.getType(),
            name: req.getName(),
            urn,
            parent: req.getParent() || null,
            dependsOn: read ? [] : req.getDependenciesList(),
            provider: providerUrn(req.getProvider()),
            custom: read || req.getCustom(),
            protect: read ? false : req.getProtect(),
            additionalSecretOutputs: read ? [] : req.getAdditionalsecretoutputsList(),
            inputs: redact(inputs) as Record<string, unknown>,
        });
        const serialized = await rpc.serializeProperties("", state);
        const id = `${req.getName()}-id`;
        (this as unknown as { resources: Map<string, unknown> }).resources.set(urn, { urn, id, state: serialized });
        const properties = structproto.Struct.fromJavaScript(serialized as Record<string, structproto.JavaScriptValue>);
        if (read) {
            const response = new resproto.ReadResourceResponse();
            response.setUrn(urn);
            response.setProperties(properties);
            callback(null, response);
        } else {
            const response = new resproto.RegisterResourceResponse();
            response.setUrn(urn);
            response.setId(id);
            response.setObject(properties);
            callback(null, response);
        }
    }

    async registerResource(req: ResourceRequest, callback: Callback): Promise<void> {
        try {
            const raw = req.getObject()?.toJavaScript() ?? {};
            const state = { ...raw, ...mockOutputs(req.getType(), req.getName(), rpc.deserializeProperties(req.getObject() as Parameters<typeof rpc.deserializeProperties>[0])) };
            // The engine marks these outputs secret; the mock runtime does not, so do it here.
            for (const key of req.getAdditionalsecretoutputsList()) {
                if (key in state && !isSecretValue(state[key])) state[key] = { [rpc.specialSigKey]: rpc.specialSecretSig, value: state[key] };
            }
            this.secrets.addMarked(state);
            await this.respond(req, state, raw, callback, false);
        } catch (err) {
            callback(err as Error);
        }
    }

    async readResource(req: ResourceRequest, callback: Callback): Promise<void> {
        try {
            const raw = req.getProperties?.()?.toJavaScript() ?? {};
            if (req.getType() !== "pulumi:pulumi:StackReference") throw new Error(`offline plan: unexpected read of ${req.getType()}`);
            const peer = this.peerOutputs ?? {};
            for (const o of Object.values(peer)) if (o.secret) this.secrets.add(o.value);
            const state = {
                ...raw,
                outputs: Object.fromEntries(Object.entries(peer).map(([k, o]) => [k, o.value])),
                secretOutputNames: Object.entries(peer).filter(([, o]) => o.secret).map(([k]) => k),
            };
            await this.respond(req, state, raw, callback, true);
        } catch (err) {
            callback(err as Error);
        }
    }

    registerResourceOutputs(req: { getUrn(): string; getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined }, callback: Callback): void {
        if (req.getUrn().split("::")[2] === "pulumi:pulumi:Stack") this.stackOutputs = req.getOutputs()?.toJavaScript() ?? {};
        this.secrets.addMarked(req.getOutputs()?.toJavaScript());
        super.registerResourceOutputs(req, callback);
    }
}

function isSecretValue(v: unknown): boolean {
    return v !== null && typeof v === "object" && (v as Record<string, unknown>)[rpc.specialSigKey] === rpc.specialSecretSig;
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
    const monitor = new RecordingMonitor(opts.peerOutputs);
    pulumi.runtime.setMockOptions(monitor, opts.project, opts.stack, true);
    pulumi.runtime.setAllConfig(opts.config, opts.secretKeys);
    for (const key of opts.secretKeys) monitor.secrets.add(opts.config[key]);

    const warnings: string[] = [];
    const originalWarn = console.warn;
    console.warn = (...args: unknown[]) => {
        warnings.push(args.map(String).join(" ").replace(/^warning: \[runtime\] /, ""));
    };
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
    } finally {
        console.warn = originalWarn;
    }
    if (failure !== undefined) throw failure;
    const outputs = Object.fromEntries(Object.entries(monitor.stackOutputs).map(([k, v]) => [k, toStackOutput(v)]));
    return { stack: opts.stack, resources: monitor.planned, outputs, warnings, secretValues: [...monitor.secrets.values] };
}
