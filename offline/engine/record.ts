// What the offline plan records of each resource: the registration as the engine
// would receive it (type, parent, dependencies, provider, resource options,
// inputs), with secret values redacted, and the stack outputs a StackReference reads.
import type * as aliasproto from "@pulumi/pulumi/proto/alias_pb";
import type * as resproto from "@pulumi/pulumi/proto/resource_pb";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import { providerUrn } from "./rules";

export const SECRET = "[secret]";
export const UNKNOWN = "[unknown]";

/** An alias as the SDK sends it: a URN, or a spec of what changed. */
export type RecordedAlias =
    | { readonly urn: string }
    | {
          readonly name?: string;
          readonly type?: string;
          readonly stack?: string;
          readonly project?: string;
          readonly parent?: string;
          readonly noParent?: boolean;
      };

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

type RegisterRequest = resproto.RegisterResourceRequest;

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

function aliasOf(alias: InstanceType<typeof aliasproto.Alias>): RecordedAlias {
    if (alias.hasSpec()) {
        const spec = alias.getSpec() as InstanceType<typeof aliasproto.Alias.Spec>;
        const fields = {
            name: spec.getName(),
            type: spec.getType(),
            stack: spec.getStack(),
            project: spec.getProject(),
            parent: spec.getParenturn(),
            noParent: spec.getNoparent(),
        };
        return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== "" && v !== false));
    }
    return { urn: alias.getUrn() };
}

/** The resource options of a registration, as the plan records them. */
export function optionsOf(req: RegisterRequest): RecordedOptions {
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
        customTimeouts:
            timeouts && (timeouts.getCreate() || timeouts.getUpdate() || timeouts.getDelete())
                ? { create: timeouts.getCreate(), update: timeouts.getUpdate(), delete: timeouts.getDelete() }
                : null,
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
