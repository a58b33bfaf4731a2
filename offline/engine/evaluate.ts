// Evaluates the program for one stack in process, on Pulumi's mock runtime: no
// host, cluster, backend or network is touched. Every registered resource is
// recorded as the engine would receive it (type, parent, dependencies,
// provider, resource options, inputs), with secret values redacted.
//
// Where the mock runtime is more lenient than the engine (pulumi/pulumi
// v3.248.0, pkg/resource/deploy), the monitor here refuses what the engine
// refuses, so a program that would stop `pulumi up` stops the plan and the
// tests: see ENGINE RULES below.
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import * as aliasproto from "@pulumi/pulumi/proto/alias_pb";
import * as resproto from "@pulumi/pulumi/proto/resource_pb";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import { mockOutputs } from "./mocks";
import { EngineRuleError } from "../planner/exit";

export const SECRET = "[secret]";
export const UNKNOWN = "[unknown]";

/** An alias as the SDK sends it: a URN, or a spec of what changed. */
export type RecordedAlias = { readonly urn: string } | { readonly name?: string; readonly type?: string; readonly stack?: string; readonly project?: string; readonly parent?: string; readonly noParent?: boolean };

/** The resource options the engine receives, as it receives them (defaults where the program set none). */
export interface RecordedOptions {
    readonly protect: boolean;
    readonly additionalSecretOutputs: string[];
    readonly deleteBeforeReplace: boolean;
    readonly ignoreChanges: string[];
    readonly replaceOnChanges: string[];
    readonly retainOnDelete: boolean;
    readonly aliases: RecordedAlias[];
    /** Go durations ("10m", "" for the provider's default); null when none is set. */
    readonly customTimeouts: { readonly create: string; readonly update: string; readonly delete: string } | null;
    readonly deletedWith: string | null;
    readonly replaceWith: string[];
    readonly importId: string | null;
    readonly hideDiffs: string[];
    /** A value whose every change replaces the resource (redacted as inputs are); null when none is set. */
    readonly replacementTrigger: unknown;
    /** The provider plugin version and download URL the resource asks for; null for the default. */
    readonly version: string | null;
    readonly pluginDownloadURL: string | null;
    /** A provider's environment variables renamed (`envVarMappings`): variable -> the name the provider reads. */
    readonly envVarMappings: Record<string, string>;
    /** A component's providers for its children: package -> provider URN. */
    readonly providers: Record<string, string>;
}

/** The options of a resource that sets none. */
export const DEFAULT_OPTIONS: RecordedOptions = {
    protect: false,
    additionalSecretOutputs: [],
    deleteBeforeReplace: false,
    ignoreChanges: [],
    replaceOnChanges: [],
    retainOnDelete: false,
    aliases: [],
    customTimeouts: null,
    deletedWith: null,
    replaceWith: [],
    importId: null,
    hideDiffs: [],
    replacementTrigger: null,
    version: null,
    pluginDownloadURL: null,
    envVarMappings: {},
    providers: {},
};

/** One resource as the plan shows it. */
export interface PlannedResource extends RecordedOptions {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly parent: string | null;
    readonly dependsOn: string[];
    /** The provider the engine sends this resource to; null for the package's default provider (or none). */
    readonly provider: string | null;
    readonly custom: boolean;
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
    /** The plain text of every value that was secret anywhere in the program (see SecretCollector). */
    readonly secretValues: string[];
}

type Callback = (err: Error | null, resp?: unknown) => void;
type RegisterRequest = resproto.RegisterResourceRequest;
type ReadRequest = resproto.ReadResourceRequest;

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

const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";
const PROVIDER_TYPE_PREFIX = "pulumi:providers:";

/** The type of a URN with its parents' types: "zta:addons:Addons$kubernetes:core/v1:Secret". */
function qualifiedTypeOf(urn: string): string {
    return urn.split("::")[2];
}

/** The package a resource type belongs to ("random" of "random:index/randomPassword:RandomPassword"), or a provider's package. */
export function packageOf(type: string): string {
    return type.startsWith(PROVIDER_TYPE_PREFIX) ? type.slice(PROVIDER_TYPE_PREFIX.length) : type.split(":")[0];
}

// A Go duration as time.ParseDuration reads it: "0", or numbers with units ("1h30m", "90s", "1.5h").
const GO_DURATION = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

function aliasOf(alias: InstanceType<typeof aliasproto.Alias>): RecordedAlias {
    if (alias.hasSpec()) {
        const spec = alias.getSpec() as InstanceType<typeof aliasproto.Alias.Spec>;
        const fields = { name: spec.getName(), type: spec.getType(), stack: spec.getStack(), project: spec.getProject(), parent: spec.getParenturn(), noParent: spec.getNoparent() };
        return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== "" && v !== false));
    }
    return { urn: alias.getUrn() };
}

function optionsOf(req: RegisterRequest): RecordedOptions {
    const timeouts = req.getCustomtimeouts();
    const providers: Record<string, string> = {};
    req.getProvidersMap().forEach((ref, pkg) => {
        providers[pkg] = providerUrn(ref) as string;
    });
    const envVarMappings: Record<string, string> = {};
    req.getEnvvarmappingsMap().forEach((to, from) => {
        envVarMappings[from] = to;
    });
    const trigger = req.getReplacementTrigger();
    return {
        protect: req.getProtect() ?? false,
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        deleteBeforeReplace: req.getDeletebeforereplace(),
        ignoreChanges: req.getIgnorechangesList(),
        replaceOnChanges: req.getReplaceonchangesList(),
        retainOnDelete: req.getRetainondelete() ?? false,
        aliases: [...req.getAliasesList().map(aliasOf), ...req.getAliasurnsList().map((urn) => ({ urn }))],
        // The SDK always sends the message; all empty is no timeout.
        customTimeouts: timeouts && (timeouts.getCreate() || timeouts.getUpdate() || timeouts.getDelete()) ? { create: timeouts.getCreate(), update: timeouts.getUpdate(), delete: timeouts.getDelete() } : null,
        deletedWith: req.getDeletedwith() || null,
        replaceWith: req.getReplaceWithList(),
        importId: req.getImportid() || null,
        hideDiffs: req.getHidediffsList(),
        replacementTrigger: trigger ? redact(trigger.toJavaScript()) : null,
        version: req.getVersion() || null,
        pluginDownloadURL: req.getPlugindownloadurl() || null,
        envVarMappings,
        providers,
    };
}

// EngineRuleError (offline/planner/exit.ts): what the engine refuses and the mock runtime lets through.
export { EngineRuleError };

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
    /** What the engine would have refused, in order. */
    readonly refusals: EngineRuleError[] = [];
    /** Every URN registered or read so far, with its type. */
    private readonly registered = new Map<string, string>();
    readonly secrets = new SecretCollector();

    constructor(private readonly deployed: Readonly<Record<string, StackOutputs>>) {
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

    /**
     * The URN the engine gives the resource (Deployment.generateURN): the parent's
     * qualified type, unless the parent is the root stack, "$", the type. The mock
     * runtime keeps only the parent's last type and counts the stack, so its URNs
     * differ from the ones in real state, and so do the collisions.
     */
    private urnOf(req: RegisterRequest | ReadRequest): string {
        const parent = req.getParent();
        const parentType = parent ? qualifiedTypeOf(parent) : "";
        const type = parentType && parentType !== ROOT_STACK_TYPE ? `${parentType}$${req.getType()}` : req.getType();
        return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${type}::${req.getName()}`;
    }

    /**
     * Records and throws what the engine would say about `urn`, with the fix. The
     * registration is then answered as if it had worked (see `answerRefused`): the
     * evaluation fails with the first refusal once the program is done.
     */
    private refuse(urn: string, engineSays: string, fix: string): never {
        const err = new EngineRuleError(`the Pulumi engine refuses ${urn}: ${engineSays}; ${fix}`);
        this.refusals.push(err);
        throw err;
    }

    /** Refuses what the engine refuses; returns the URN and the provider the engine keeps. */
    private admit(req: RegisterRequest | ReadRequest, custom: boolean, deps: string[]): { urn: string; provider: string | null } {
        const type = req.getType();
        const urn = this.urnOf(req);
        // step_generator.go generateURN.
        if (this.registered.has(urn)) this.refuse(urn, `Duplicate resource URN '${urn}'`, "give one of the two resources another name (or parent)");
        // step_generator.go checkParent.
        const parent = req.getParent();
        if (parent && !this.registered.has(parent)) this.refuse(urn, `could not find parent resource ${parent}`, "parent it to a resource of this stack");
        // The snapshot integrity check (snapshot.go): every dependency is a resource of this stack, registered before.
        for (const dep of deps) {
            if (!this.registered.has(dep)) this.refuse(urn, `dependency ${dep} refers to missing resource`, "depend only on resources of this stack");
        }
        // source_eval.go RegisterResource resolves a provider for custom resources that are not providers;
        // for components and providers it keeps none (a component's `provider` is its children's).
        if (!custom || type.startsWith(PROVIDER_TYPE_PREFIX)) return { urn, provider: null };
        const provider = providerUrn(req.getProvider());
        if (provider === null) return { urn, provider };
        const providerType = this.registered.get(provider);
        if (providerType === undefined || !providerType.startsWith(PROVIDER_TYPE_PREFIX)) {
            this.refuse(urn, `unknown provider '${req.getProvider()}'`, "bind it to a provider resource of this stack");
        }
        // The engine sends the resource to that provider, which knows only its own package's types
        // (pulumi-kubernetes says "unrecognized resource type: ... for this provider").
        if (packageOf(providerType) !== packageOf(type)) {
            this.refuse(
                urn,
                `it is bound to ${providerType} ${provider.split("::").pop()}, which refuses it: unrecognized resource type: "${type}" for this provider`,
                `create it without that provider (a component's child options carry it) so that the "${packageOf(type)}" package's default provider, or one of its own, creates it`,
            );
        }
        return { urn, provider };
    }

    /**
     * A refused registration still gets an answer: an error would reject a promise of
     * the SDK's that nothing handles, and crash the process instead of failing the plan.
     */
    private answerRefused(req: RegisterRequest | ReadRequest, callback: Callback, read: boolean): void {
        const urn = this.urnOf(req);
        if (read) {
            const response = new resproto.ReadResourceResponse();
            response.setUrn(urn);
            callback(null, response);
        } else {
            const response = new resproto.RegisterResourceResponse();
            response.setUrn(urn);
            response.setId(`${req.getName()}-refused`);
            callback(null, response);
        }
    }

    private async respond(urn: string, record: PlannedResource, state: Record<string, unknown>, callback: Callback, read: boolean) {
        this.registered.set(urn, record.type);
        this.planned.push(record);
        const serialized = await rpc.serializeProperties("", state);
        const id = `${record.name}-id`;
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

    async registerResource(req: RegisterRequest, callback: Callback): Promise<void> {
        try {
            const options = optionsOf(req);
            const propertyDeps: string[] = [];
            req.getPropertydependenciesMap().forEach((deps) => propertyDeps.push(...deps.getUrnsList()));
            const references = [...req.getDependenciesList(), ...propertyDeps, ...(options.deletedWith ? [options.deletedWith] : []), ...options.replaceWith];
            const { urn, provider } = this.admit(req, req.getCustom(), references);
            // source_eval.go: each custom timeout is a Go duration.
            for (const value of Object.values(options.customTimeouts ?? {})) {
                if (value !== "" && !GO_DURATION.test(value)) this.refuse(urn, `unable to parse customTimeout Value ${value}`, 'use a Go duration such as "10m" or "1h30m"');
            }
            const raw = (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
            const state: Record<string, unknown> = { ...raw, ...mockOutputs(req.getType(), req.getName(), rpc.deserializeProperties(req.getObject() as Parameters<typeof rpc.deserializeProperties>[0])) };
            // The engine marks these outputs secret; the mock runtime does not, so do it here. (An output
            // echoed from a secret input stays secret already: deserializing lifts the secret to its key.)
            for (const key of options.additionalSecretOutputs) {
                if (key in state && !isSecretValue(state[key])) state[key] = makeSecret(state[key]);
            }
            this.secrets.addMarked(state);
            const record: PlannedResource = {
                type: req.getType(),
                name: req.getName(),
                urn,
                parent: req.getParent() || null,
                dependsOn: req.getDependenciesList(),
                provider,
                custom: req.getCustom(),
                ...options,
                inputs: redact(raw) as Record<string, unknown>,
            };
            await this.respond(urn, record, state, callback, false);
        } catch (err) {
            if (err instanceof EngineRuleError) this.answerRefused(req, callback, false);
            else callback(err as Error);
        }
    }

    async readResource(req: ReadRequest, callback: Callback): Promise<void> {
        try {
            const raw = (req.getProperties()?.toJavaScript() ?? {}) as Record<string, unknown>;
            if (req.getType() !== "pulumi:pulumi:StackReference") throw new Error(`offline plan: unexpected read of ${req.getType()}`);
            const { urn, provider } = this.admit(req, true, req.getDependenciesList());
            // The engine reads the referenced stack's last deployment; one never deployed has no outputs.
            const peer =
                this.deployed[
                    String(raw.name ?? "")
                        .split("/")
                        .pop() as string
                ] ?? {};
            for (const o of Object.values(peer)) if (o.secret) this.secrets.add(o.value);
            const state = {
                ...raw,
                // The engine's StackReference (builtins.go readStackReference) keeps the peer's secrets secret
                // inside `outputs`, and lists their names.
                outputs: Object.fromEntries(Object.entries(peer).map(([k, o]) => [k, o.secret ? makeSecret(o.value) : o.value])),
                secretOutputNames: Object.entries(peer)
                    .filter(([, o]) => o.secret)
                    .map(([k]) => k)
                    .sort(),
            };
            const record: PlannedResource = {
                type: req.getType(),
                name: req.getName(),
                urn,
                parent: req.getParent() || null,
                dependsOn: [],
                provider,
                custom: true,
                ...DEFAULT_OPTIONS,
                inputs: redact(raw) as Record<string, unknown>,
            };
            await this.respond(urn, record, state, callback, true);
        } catch (err) {
            if (err instanceof EngineRuleError) this.answerRefused(req, callback, true);
            else callback(err as Error);
        }
    }

    registerResourceOutputs(req: { getUrn(): string; getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined }, callback: Callback): void {
        if (qualifiedTypeOf(req.getUrn()) === ROOT_STACK_TYPE) this.stackOutputs = req.getOutputs()?.toJavaScript() ?? {};
        this.secrets.addMarked(req.getOutputs()?.toJavaScript());
        super.registerResourceOutputs(req, callback);
    }
}

function makeSecret(value: unknown): Record<string, unknown> {
    return { [rpc.specialSigKey]: rpc.specialSecretSig, value };
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
    const monitor = new RecordingMonitor(opts.deployed ?? {});
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
    if (monitor.refusals.length > 0) throw monitor.refusals[0];
    if (failure !== undefined) throw failure;
    const outputs = Object.fromEntries(Object.entries(monitor.stackOutputs).map(([k, v]) => [k, toStackOutput(v)]));
    return { stack: opts.stack, resources: monitor.planned, outputs, warnings, secretValues: [...monitor.secrets.values] };
}
