// The configuration schema: every key of a stack's configuration, declared once
// with its check and its documentation, in one table (SECTIONS) from which the
// zod schema the program validates with (CONFIG_SCHEMA), the types, and the
// configuration tables of README.md and docs/config.md (offline/docs/config-docs.ts)
// all come. Config is read once, validated into a typed object, then passed
// down; components never read pulumi.Config themselves.
import { z } from "zod";
import {
    addonFields,
    chartFields,
    ciliumFields,
    clusterFields,
    hostFields,
    hostSchema,
    ingressFields,
    issuerFields,
    jwtFields,
    meshFields,
    metallbFields,
    networkPolicyFields,
    pkiFields,
    registryFields,
    rosterEntrySchema,
    rosterFields,
    sampleFields,
    samplesSchema,
    spireFields,
    versionFields,
} from "./fields";
import { section } from "./keys";
import { Scope } from "./namespace";
import { workloadFields, workloadsSchema } from "./workload-fields";

// ---------------------------------------------------------------- the sections

/** Whether a top-level key must be set, and what an unset one reads as: absent (`optional`), or every key at its default (`defaulted`). */
type Presence = "required" | "optional" | "defaulted";

/** One top-level config key: where it is set, whether it must be, what it holds. */
export interface Section {
    readonly scope: Scope;
    readonly presence: Presence;
    readonly description: string;
    /** A list of objects (`roster`) rather than one object. */
    readonly list?: boolean;
    readonly fields: Readonly<Record<string, z.ZodType>>;
    /** The section's schema when it is more than its keys in a strict object: a transform, a rule between its keys, a list of them. */
    readonly schema?: z.ZodType;
}

/**
 * Every top-level key, in the order the tables list them. `project` keys are
 * lab-wide: set once in Pulumi.yaml's `config:` block, refused in a stack file.
 */
export const SECTIONS = {
    cluster: {
        scope: "stack",
        presence: "required",
        description: "this cluster's name, id, network and ranges",
        fields: clusterFields,
    },
    host: {
        scope: "stack",
        presence: "optional",
        description: "the bare host Pulumi builds the cluster on; unset: bring your own cluster (secret `kubeconfig`)",
        fields: hostFields,
        schema: hostSchema,
    },
    metallb: {
        scope: "stack",
        presence: "required",
        description: "this cluster's MetalLB pool and gateway addresses",
        fields: metallbFields,
    },
    pki: { scope: "stack", presence: "required", description: "this stack's part in the lab PKI", fields: pkiFields },
    addons: { scope: "stack", presence: "defaulted", description: "observability add-ons", fields: addonFields },
    samples: {
        scope: "stack",
        presence: "defaulted",
        description: "the sample workloads",
        fields: sampleFields,
        schema: samplesSchema,
    },
    cilium: { scope: "stack", presence: "defaulted", description: "Cilium switches and NICs", fields: ciliumFields },
    spire: { scope: "stack", presence: "defaulted", description: "SPIRE switches", fields: spireFields },
    ingress: {
        scope: "stack",
        presence: "defaulted",
        description: "how the ingress gateway serves",
        fields: ingressFields,
    },
    networkPolicy: {
        scope: "stack",
        presence: "defaulted",
        description: "micro-segmentation: what lab workloads may reach outside the cluster",
        fields: networkPolicyFields,
    },
    roster: {
        scope: "project",
        presence: "required",
        list: true,
        description: "every stack of the lab and the cluster it builds, one entry each: a stack's peers are the others",
        fields: rosterFields,
        schema: z.array(rosterEntrySchema, {
            error: "expected a list of {stack, clusterName} entries, one per stack of the lab",
        }),
    },
    versions: {
        scope: "project",
        presence: "required",
        description: "Kubernetes and every chart, pinned: one set for the lab",
        fields: versionFields,
    },
    mesh: {
        scope: "project",
        presence: "required",
        description: "the one mesh: id, trust domain, trust model",
        fields: meshFields,
    },
    registry: {
        scope: "project",
        presence: "required",
        description: "the lab registry on comp1",
        fields: registryFields,
    },
    issuer: {
        scope: "project",
        presence: "defaulted",
        description: "the lab's own OIDC issuer (Keycloak on comp1)",
        fields: issuerFields,
    },
    jwt: { scope: "project", presence: "defaulted", description: "JWT validation at every ingress", fields: jwtFields },
    charts: {
        scope: "project",
        presence: "defaulted",
        description: "where Helm charts come from",
        fields: chartFields,
    },
    workloads: {
        scope: "project",
        presence: "optional",
        list: true,
        description:
            'the lab\'s own workloads on the mesh, one entry each: its namespace, identity, callers, ingress route and egress (docs/zero-trust.md, "Adding your workload")',
        fields: workloadFields,
        schema: workloadsSchema,
    },
} as const satisfies Record<string, Section>;

export type SectionName = keyof typeof SECTIONS;

/** The lab-wide keys: equal in every stack by construction, set once in Pulumi.yaml. */
export const LAB_WIDE_KEYS = (Object.keys(SECTIONS) as SectionName[]).filter((k) => SECTIONS[k].scope === "project");

/** The secret config keys, read with `requireSecret`/`getSecret` and never validated by value. */
export const SECRET_KEYS = ["sshPrivateKey", "kubeconfig", "rootCaKey"] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

/** What the tables say of each secret key (set with `pulumi config set --secret`, never validated by value). */
export const SECRET_KEY_DOCS: Readonly<Record<SecretKey, string>> = {
    sshPrivateKey: "SSH key for the hosts; required when `host` is set",
    kubeconfig: "a cluster you bring, instead of `host`",
    rootCaKey: "the key of `pki.rootCaCert`; required with it",
};

// ---------------------------------------------------------------- the schema, from the sections

/** A section's schema before its presence: its own, or its keys in a strict object. */
type InnerSchema<S extends Section> = S extends { readonly schema: infer T extends z.ZodType }
    ? T
    : ReturnType<typeof section<S["fields"]>>;
/** A section's schema, as sectionSchema builds it. */
type SectionSchema<S extends Section> = S["presence"] extends "optional"
    ? z.ZodOptional<InnerSchema<S>>
    : S["presence"] extends "defaulted"
      ? z.ZodPrefault<InnerSchema<S>>
      : InnerSchema<S>;

/** A section's schema: its own or its keys', unset as its presence says (SectionSchema is its type). */
function sectionSchema(s: Section): z.ZodType {
    const inner = s.schema ?? section(s.fields);
    return s.presence === "optional" ? inner.optional() : s.presence === "defaulted" ? inner.prefault({}) : inner;
}

/** The whole stack configuration as Pulumi hands it to the program (project config merged under the stack's). */
export const CONFIG_SCHEMA = z.strictObject(
    Object.fromEntries(Object.entries(SECTIONS).map(([name, s]) => [name, sectionSchema(s)])) as {
        -readonly [K in SectionName]: SectionSchema<(typeof SECTIONS)[K]>;
    },
    {
        error: "expected a mapping of zta-testbed:<key> entries",
    },
);

/** The configuration as the schema parses it, before the defaults that depend on other keys (lab-config.ts). */
export type Parsed = z.output<typeof CONFIG_SCHEMA>;

/** One entry of the roster: a stack of the lab and the cluster name it must report. */
export type PeerRef = Readonly<z.output<typeof rosterEntrySchema>>;

/** Config values as Pulumi hands them over (objects already JSON-parsed), keyed without namespace. */
export type RawConfig = Readonly<Record<string, unknown>>;
