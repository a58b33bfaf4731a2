// Runs the policy pack (policy/) on the offline plan: every PlannedResource
// becomes the PolicyResource CrossGuard would hand a policy (props = recorded
// inputs, where secrets read "[secret]"), resource policies see each resource
// and stack policies the whole stack, as the engine's analyze / analyzeStack do;
// each policy gets its pack config as the engine reconciles and validates a
// `--policy-pack-config` file.
import Ajv, { ValidateFunction } from "ajv";
import type {
    EnforcementLevel,
    Policies,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidation,
    ResourceValidationPolicy,
    StackValidationPolicy,
} from "@pulumi/policy";
import { PREVIEW_POLICIES } from "../../policy/catalog";
import type { StackPolicyConfig } from "../../policy/config";
import type { PlannedResource } from "../engine/record";
import type { StackPlan } from "../planner/lab";
import { secretInputs } from "./secret-inputs";

/** Every policy of the pack, plus those only the plan can evaluate (secrecy: see secret-inputs.ts). */
export const PLAN_POLICIES: Policies = [...PREVIEW_POLICIES, secretInputs];

export interface Violation {
    readonly policy: string;
    readonly enforcementLevel: EnforcementLevel;
    readonly urn: string;
    readonly message: string;
}

/** Config the engine would refuse: it runs no policy then (`validating policy config for "zta-testbed": ...`). */
export class PolicyConfigError extends Error {}

class NotApplicable extends Error {}

function notApplicable(reason?: string): never {
    throw new NotApplicable(reason);
}

type Policy = ResourceValidationPolicy | StackValidationPolicy;

/** A `--policy-pack-config` file as read from disk: per policy name (or "all") a level, or an object of properties with an optional enforcementLevel. */
export type ConfigFile = Readonly<Record<string, unknown>>;

const LEVELS: readonly string[] = ["advisory", "mandatory", "remediate", "disabled"];

interface Reconciled {
    readonly enforcementLevel: EnforcementLevel;
    readonly properties: Record<string, unknown>;
}

/** A file's entry for one policy as the engine parses it: an enforcement level, or properties with an optional one. */
function entryOf(
    file: ConfigFile,
    name: string,
    source: string,
): { level?: EnforcementLevel; properties: Record<string, unknown> } {
    const entry = file[name];
    if (entry === undefined) return { properties: {} };
    if (typeof entry === "string") {
        if (!LEVELS.includes(entry))
            throw new PolicyConfigError(
                `${source}: "${name}": ${JSON.stringify(entry)} is not an enforcement level (${LEVELS.join(", ")})`,
            );
        return { level: entry as EnforcementLevel, properties: {} };
    }
    if (entry === null || typeof entry !== "object" || Array.isArray(entry))
        throw new PolicyConfigError(`${source}: "${name}" must be an enforcement level or an object`);
    const { enforcementLevel, ...properties } = entry as Record<string, unknown>;
    if (enforcementLevel !== undefined && !LEVELS.includes(enforcementLevel as string)) {
        throw new PolicyConfigError(
            `${source}: "${name}".enforcementLevel ${JSON.stringify(enforcementLevel)} is not an enforcement level (${LEVELS.join(", ")})`,
        );
    }
    return { level: enforcementLevel as EnforcementLevel | undefined, properties };
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new WeakMap<Policy, ValidateFunction>();

/** One message per schema error, in the words of the key it is about. */
function schemaProblems(policy: Policy, properties: Record<string, unknown>): string[] {
    if (!policy.configSchema) return [];
    // The object schema the engine builds from a configSchema (convertSchema), compiled once per policy.
    let validate = validators.get(policy);
    if (!validate) {
        validate = ajv.compile({
            type: "object",
            properties: policy.configSchema.properties,
            required: policy.configSchema.required ?? [],
        });
        validators.set(policy, validate);
    }
    if (validate(properties)) return [];
    return (validate.errors ?? []).map((e) => {
        const where = e.instancePath.slice(1).replace(/\//g, ".");
        const key = (k: unknown) => `${where ? `${where}.` : ""}${String(k)}`;
        if (e.keyword === "required") return `${policy.name}: ${key(e.params.missingProperty)} is required`;
        if (e.keyword === "additionalProperties")
            return `${policy.name}: ${key(e.params.additionalProperty)} is not a known key`;
        const allowed =
            e.keyword === "enum"
                ? ` (${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")})`
                : "";
        return `${policy.name}: ${where} ${e.message}${allowed}`;
    });
}

/**
 * The level and config each policy runs with, as the engine makes them from a
 * `--policy-pack-config` file (pkg/resource/analyzer ReconcilePolicyPackConfig):
 * the schema's defaults, then "all"'s level, then the policy's own entry, key by
 * key; then every policy's config checked against its configSchema. Any problem
 * is a PolicyConfigError naming `source` and stops everything, as under the engine.
 */
export function reconcileConfig(
    policies: Policies,
    file: ConfigFile | StackPolicyConfig,
    source = "policy config",
): Map<string, Reconciled> {
    const entries = file as ConfigFile;
    const all = entryOf(entries, "all", source).level;
    const result = new Map<string, Reconciled>();
    const problems: string[] = [];
    for (const policy of policies) {
        const defaults = Object.entries(policy.configSchema?.properties ?? {}).filter(
            ([, schema]) => schema.default !== undefined,
        );
        const given = entryOf(entries, policy.name, source);
        const properties = {
            ...Object.fromEntries(defaults.map(([key, schema]) => [key, schema.default])),
            ...given.properties,
        };
        problems.push(...schemaProblems(policy, properties));
        result.set(policy.name, {
            enforcementLevel: given.level ?? all ?? policy.enforcementLevel ?? "advisory",
            properties,
        });
    }
    if (problems.length > 0)
        throw new PolicyConfigError(`${source} is not what the pack needs: ${problems.sort().join("; ")}`);
    return result;
}

function isTypeOf(type: string) {
    return (resourceClass: unknown) => (resourceClass as { __pulumiType?: string }).__pulumiType === type;
}

/** The stack as CrossGuard's analyzeStack shows it: parents, dependencies and providers resolved to resources. */
export function toPolicyResources(planned: readonly PlannedResource[]): PolicyResource[] {
    const byUrn = new Map<string, PolicyResource>();
    const resources = planned.map((r) => {
        const opts: PolicyResourceOptions = {
            protect: r.protect,
            ignoreChanges: [],
            aliases: [],
            customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
            additionalSecretOutputs: r.additionalSecretOutputs,
            ...(r.parent ? { parent: r.parent } : {}),
        };
        const isType = isTypeOf(r.type);
        const resource = {
            type: r.type,
            props: r.inputs,
            urn: r.urn,
            name: r.name,
            opts,
            dependencies: [] as PolicyResource[],
            propertyDependencies: {},
            isType,
            asType: (cls: unknown) => (isType(cls) ? r.inputs : undefined),
        } as unknown as PolicyResource;
        byUrn.set(r.urn, resource);
        return resource;
    });
    planned.forEach((r, i) => {
        const resource = resources[i];
        if (r.parent && byUrn.has(r.parent)) resource.parent = byUrn.get(r.parent);
        resource.dependencies = r.dependsOn
            .map((urn) => byUrn.get(urn))
            .filter((d): d is PolicyResource => d !== undefined);
        const provider = r.provider ? byUrn.get(r.provider) : undefined;
        if (provider)
            resource.provider = { type: provider.type, props: provider.props, urn: provider.urn, name: provider.name };
    });
    return resources;
}

/**
 * Violations of `policies` in one stack's resources, each policy run with its
 * reconciled config. A policy that finds itself not applicable reports nothing.
 */
export async function checkResources(
    planned: readonly PlannedResource[],
    config: ConfigFile | StackPolicyConfig,
    policies: Policies = PLAN_POLICIES,
    source?: string,
): Promise<Violation[]> {
    const resources = toPolicyResources(planned);
    const reconciled = reconcileConfig(policies, config, source);
    const violations: Violation[] = [];
    for (const policy of policies) {
        const { enforcementLevel: level, properties } = reconciled.get(policy.name) as Reconciled;
        if (level === "disabled") continue;
        // A copy per call, as the engine hands each policy its own.
        const getConfig = <T extends object>() => JSON.parse(JSON.stringify(properties)) as T;
        const report = (fallbackUrn: string) => (message: string, urn?: string) =>
            violations.push({ policy: policy.name, enforcementLevel: level, urn: urn ?? fallbackUrn, message });
        try {
            if ("validateStack" in policy) {
                await policy.validateStack({ resources, stackTags: new Map(), getConfig, notApplicable }, report(""));
                continue;
            }
            const validations: ResourceValidation[] = ([] as ResourceValidation[]).concat(
                policy.validateResource ?? [],
            );
            for (const r of resources) {
                const args = {
                    type: r.type,
                    props: r.props,
                    urn: r.urn,
                    name: r.name,
                    opts: r.opts,
                    provider: r.provider,
                    stackTags: new Map(),
                    isType: r.isType,
                    asType: r.asType,
                    getConfig,
                    notApplicable,
                };
                for (const validate of validations) {
                    try {
                        await validate(args as Parameters<ResourceValidation>[0], report(r.urn));
                    } catch (err) {
                        if (!(err instanceof NotApplicable)) throw err;
                    }
                }
            }
        } catch (err) {
            if (!(err instanceof NotApplicable)) throw err;
        }
    }
    return violations;
}

/**
 * Violations in every stack of a lab plan, each stack checked with its own
 * pack config (`npm run plan` writes the same to plan/<stack>/policy-config.json).
 */
export async function checkLab(
    lab: { readonly stacks: readonly Pick<StackPlan, "stack" | "resources">[] },
    configs: ReadonlyMap<string, ConfigFile | StackPolicyConfig>,
    policies: Policies = PLAN_POLICIES,
): Promise<Violation[]> {
    const all: Violation[] = [];
    for (const stack of lab.stacks) {
        const config = configs.get(stack.stack);
        if (!config) throw new PolicyConfigError(`no policy config for stack ${stack.stack}`);
        all.push(...(await checkResources(stack.resources, config, policies, `the policy config of ${stack.stack}`)));
    }
    return all;
}
