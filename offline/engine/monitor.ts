// The monitor the mock runtime registers every resource with: it records each
// registration (record.ts), refuses what the engine refuses (rules.ts), answers with
// the outputs a provider would compute (mocks.ts), and collects every secret's
// plain text for the plan's leak guard.
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import * as resproto from "@pulumi/pulumi/proto/resource_pb";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import { mockOutputs } from "./mocks";
import { DEFAULT_OPTIONS, optionsOf, PlannedResource, redact, StackOutputs } from "./record";
import { EngineRuleError, EngineRules, qualifiedTypeOf, ROOT_STACK_TYPE } from "./rules";

type Callback = (err: Error | null, resp?: unknown) => void;
type RegisterRequest = resproto.RegisterResourceRequest;
type ReadRequest = resproto.ReadResourceRequest;

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

export class RecordingMonitor extends MockMonitor {
    readonly planned: PlannedResource[] = [];
    stackOutputs: Record<string, unknown> = {};
    readonly rules: EngineRules;
    readonly secrets = new SecretCollector();

    constructor(
        project: string,
        stack: string,
        private readonly deployed: Readonly<Record<string, StackOutputs>>,
    ) {
        super({
            newResource: () => {
                throw new Error("unreachable: RecordingMonitor registers resources itself");
            },
            call: (args) => {
                // Like awsx's tests: an invoke nobody mocked is a bug in the plan, not a value to make up.
                throw new Error(`offline plan: unmocked invoke ${args.token}`);
            },
        });
        this.rules = new EngineRules(project, stack);
    }

    /**
     * A refused registration still gets an answer: an error would reject a promise of
     * the SDK's that nothing handles, and crash the process instead of failing the plan.
     */
    private answerRefused(req: RegisterRequest | ReadRequest, callback: Callback, read: boolean): void {
        const urn = this.rules.urnOf(req);
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

    private async respond(
        urn: string,
        record: PlannedResource,
        state: Record<string, unknown>,
        callback: Callback,
        read: boolean,
    ) {
        this.rules.add(urn, record.type);
        this.planned.push(record);
        const serialized = await rpc.serializeProperties("", state);
        const id = `${record.name}-id`;
        // The SDK's MockMonitor reads its map of registered resources back (registerResourceOutputs, the
        // getResource invoke), so every registration this monitor answers goes into it (test/sdk-internals.test.ts).
        this.resources.set(urn, { urn, id, state: serialized });
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
            const references = [
                ...req.getDependenciesList(),
                ...propertyDeps,
                ...(options.deletedWith ? [options.deletedWith] : []),
                ...options.replaceWith,
            ];
            const { urn, provider } = this.rules.admit(req, req.getCustom(), references);
            this.rules.checkTimeouts(urn, options.customTimeouts);
            const raw = (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
            const state: Record<string, unknown> = {
                ...raw,
                ...mockOutputs(
                    req.getType(),
                    req.getName(),
                    rpc.deserializeProperties(req.getObject() as Parameters<typeof rpc.deserializeProperties>[0]),
                ),
            };
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
            if (req.getType() !== "pulumi:pulumi:StackReference")
                throw new Error(`offline plan: unexpected read of ${req.getType()}`);
            const { urn, provider } = this.rules.admit(req, true, req.getDependenciesList());
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
                outputs: Object.fromEntries(
                    Object.entries(peer).map(([k, o]) => [k, o.secret ? makeSecret(o.value) : o.value]),
                ),
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

    registerResourceOutputs(
        req: { getUrn(): string; getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined },
        callback: Callback,
    ): void {
        if (qualifiedTypeOf(req.getUrn()) === ROOT_STACK_TYPE)
            this.stackOutputs = req.getOutputs()?.toJavaScript() ?? {};
        this.secrets.addMarked(req.getOutputs()?.toJavaScript());
        super.registerResourceOutputs(req, callback);
    }
}

export function makeSecret(value: unknown): Record<string, unknown> {
    return { [rpc.specialSigKey]: rpc.specialSecretSig, value };
}

function isSecretValue(v: unknown): boolean {
    return (
        v !== null &&
        typeof v === "object" &&
        (v as Record<string, unknown>)[rpc.specialSigKey] === rpc.specialSecretSig
    );
}
