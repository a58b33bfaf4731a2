// Runs the policies on the offline plan: every PlannedResource becomes the
// PolicyResource CrossGuard would hand a policy (props = recorded inputs,
// where secrets read "[secret]"), resource policies see each resource and
// stack policies the whole stack, as the engine's analyze / analyzeStack do.
import type {
    EnforcementLevel,
    Policies,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidation,
    ResourceValidationPolicy,
    StackValidationPolicy,
} from "@pulumi/policy";
import type { PlannedResource } from "../offline/evaluate";
import type { LabPlan } from "../offline/lab";
import { PREVIEW_POLICIES } from "./catalog";
import { secretInputs } from "./policies/secret-inputs";
import { labRegistryFromStackFile, peerPkiRoleFromStackFiles, trustModelFromStackFile } from "./stack-config";

/** Every policy of the pack, plus those only the plan can evaluate (secrecy: see secret-inputs.ts). */
export const PLAN_POLICIES: Policies = [...PREVIEW_POLICIES, secretInputs];

export interface Violation {
    readonly policy: string;
    readonly enforcementLevel: EnforcementLevel;
    readonly urn: string;
    readonly message: string;
}

/** Policy config by policy name, as `--policy-pack-config` gives it. */
export type PackConfig = Record<string, Record<string, unknown>>;

class NotApplicable extends Error {}

function notApplicable(reason?: string): never {
    throw new NotApplicable(reason);
}

/** What getConfig returns under the engine: the schema's defaults overlaid with the given config. */
function configOf(policy: ResourceValidationPolicy | StackValidationPolicy, config: PackConfig): Record<string, unknown> {
    const defaults = Object.entries(policy.configSchema?.properties ?? {})
        .filter(([, schema]) => schema.default !== undefined)
        .map(([key, schema]) => [key, schema.default]);
    return { ...Object.fromEntries(defaults), ...(config[policy.name] ?? {}) };
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
        resource.dependencies = r.dependsOn.map((urn) => byUrn.get(urn)).filter((d): d is PolicyResource => d !== undefined);
        const provider = r.provider ? byUrn.get(r.provider) : undefined;
        if (provider) resource.provider = { type: provider.type, props: provider.props, urn: provider.urn, name: provider.name };
    });
    return resources;
}

/** Violations of `policies` in one stack's resources. A policy that finds itself not applicable reports nothing. */
export async function checkResources(planned: readonly PlannedResource[], policies: Policies = PLAN_POLICIES, config: PackConfig = {}): Promise<Violation[]> {
    const resources = toPolicyResources(planned);
    const violations: Violation[] = [];
    for (const policy of policies) {
        const level = policy.enforcementLevel ?? "advisory";
        if (level === "disabled") continue;
        const getConfig = <T extends object>() => configOf(policy, config) as T;
        const report = (fallbackUrn: string) => (message: string, urn?: string) => violations.push({ policy: policy.name, enforcementLevel: level, urn: urn ?? fallbackUrn, message });
        try {
            if ("validateStack" in policy) {
                await policy.validateStack({ resources, stackTags: new Map(), getConfig, notApplicable }, report(""));
                continue;
            }
            const validations: ResourceValidation[] = ([] as ResourceValidation[]).concat(policy.validateResource ?? []);
            for (const r of resources) {
                const args = { type: r.type, props: r.props, urn: r.urn, name: r.name, opts: r.opts, provider: r.provider, stackTags: new Map(), isType: r.isType, asType: r.asType, getConfig, notApplicable };
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
 * Violations in every stack of a lab plan. The lab registry each stack allows
 * is its zta-testbed:registry in configDir, as the pack reads it from the
 * stack file next to policy/; likewise the peer's pki.role and the trust model for single-root-ca.
 */
export async function checkLab(lab: LabPlan, configDir: string, policies: Policies = PLAN_POLICIES): Promise<Violation[]> {
    const all: Violation[] = [];
    for (const stack of lab.stacks) {
        const labRegistry = labRegistryFromStackFile(configDir, stack.stack);
        const peer = peerPkiRoleFromStackFiles(configDir, stack.stack);
        const trustModel = trustModelFromStackFile(configDir, stack.stack);
        all.push(
            ...(await checkResources(stack.resources, policies, {
                "allowed-registries": labRegistry ? { labRegistry } : {},
                "single-root-ca": { ...(peer ? { peerPkiRole: peer.role, peerStack: peer.stack } : {}), ...(trustModel ? { trustModel } : {}) },
            })),
        );
    }
    return all;
}
