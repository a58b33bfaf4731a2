// What the Pulumi engine refuses and the mock runtime lets through (pulumi/pulumi
// v3.248.0, pkg/resource/deploy), checked on each registration so that a program
// that would stop `pulumi up` stops the plan and the tests. It loads no Pulumi SDK
// (the types only), so a tool can name EngineRuleError before it loads the program.
import type * as resproto from "@pulumi/pulumi/proto/resource_pb";

/**
 * ENGINE RULES: what the engine refuses and the mock runtime lets through
 * (EngineRules.admit and checkTimeouts, called by the recording monitor):
 * - a custom resource bound to a provider of another package (that provider refuses it);
 * - two resources with one URN, URNs computed as the engine does;
 * - a parent, dependency, deletedWith or replaceWith that is not a resource of the stack;
 * - a provider reference that is not a provider of the stack;
 * - a custom timeout that is not a Go duration.
 * Each message says what the engine says, then what to change.
 */
export class EngineRuleError extends Error {}

type RegisterRequest = resproto.RegisterResourceRequest;
type ReadRequest = resproto.ReadResourceRequest;

export const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";
const PROVIDER_TYPE_PREFIX = "pulumi:providers:";

// A provider reference is "<urn>::<id>".
export function providerUrn(ref: string): string | null {
    return ref ? ref.slice(0, ref.lastIndexOf("::")) : null;
}

/** The type of a URN with its parents' types: "zta:addons:Addons$kubernetes:core/v1:Secret". */
export function qualifiedTypeOf(urn: string): string {
    return urn.split("::")[2];
}

/** The package a resource type belongs to ("random" of "random:index/randomPassword:RandomPassword"), or a provider's package. */
export function packageOf(type: string): string {
    return type.startsWith(PROVIDER_TYPE_PREFIX) ? type.slice(PROVIDER_TYPE_PREFIX.length) : type.split(":")[0];
}

// A Go duration as time.ParseDuration reads it: "0", or numbers with units ("1h30m", "90s", "1.5h").
const GO_DURATION = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

/** The engine's checks of one stack's registrations, over what the stack registered so far. */
export class EngineRules {
    /** What the engine would have refused, in order. */
    readonly refusals: EngineRuleError[] = [];
    /** Every URN registered or read so far, with its type. */
    private readonly registered = new Map<string, string>();

    constructor(
        private readonly project: string,
        private readonly stack: string,
    ) {}

    /** A registration the engine took: later ones may name it as parent, dependency or provider. */
    add(urn: string, type: string): void {
        this.registered.set(urn, type);
    }

    /**
     * The URN the engine gives the resource (Deployment.generateURN): the parent's
     * qualified type, unless the parent is the root stack, "$", the type. The mock
     * runtime keeps only the parent's last type and counts the stack, so its URNs
     * differ from the ones in real state, and so do the collisions.
     */
    urnOf(req: RegisterRequest | ReadRequest): string {
        const parent = req.getParent();
        const parentType = parent ? qualifiedTypeOf(parent) : "";
        const type = parentType && parentType !== ROOT_STACK_TYPE ? `${parentType}$${req.getType()}` : req.getType();
        return `urn:pulumi:${this.stack}::${this.project}::${type}::${req.getName()}`;
    }

    /**
     * Records and throws what the engine would say about `urn`, with the fix. The
     * registration is then answered as if it had worked (the monitor's `answerRefused`):
     * the evaluation fails with the first refusal once the program is done.
     */
    private refuse(urn: string, engineSays: string, fix: string): never {
        const err = new EngineRuleError(`the Pulumi engine refuses ${urn}: ${engineSays}; ${fix}`);
        this.refusals.push(err);
        throw err;
    }

    /** Refuses what the engine refuses; returns the URN and the provider the engine keeps. */
    admit(
        req: RegisterRequest | ReadRequest,
        custom: boolean,
        deps: string[],
    ): { urn: string; provider: string | null } {
        const type = req.getType();
        const urn = this.urnOf(req);
        // step_generator.go generateURN.
        if (this.registered.has(urn))
            this.refuse(
                urn,
                `Duplicate resource URN '${urn}'`,
                "give one of the two resources another name (or parent)",
            );
        // step_generator.go checkParent.
        const parent = req.getParent();
        if (parent && !this.registered.has(parent))
            this.refuse(urn, `could not find parent resource ${parent}`, "parent it to a resource of this stack");
        // The snapshot integrity check (snapshot.go): every dependency is a resource of this stack, registered before.
        for (const dep of deps) {
            if (!this.registered.has(dep))
                this.refuse(
                    urn,
                    `dependency ${dep} refers to missing resource`,
                    "depend only on resources of this stack",
                );
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

    /** source_eval.go: each custom timeout is a Go duration. */
    checkTimeouts(urn: string, timeouts: Record<string, string> | null): void {
        for (const value of Object.values(timeouts ?? {})) {
            if (value !== "" && !GO_DURATION.test(value))
                this.refuse(
                    urn,
                    `unable to parse customTimeout Value ${value}`,
                    'use a Go duration such as "10m" or "1h30m"',
                );
        }
    }
}
