// The one policy only the offline plan can evaluate, so it is not in the pack
// (policy/) but beside the plan that records secrecy.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asRecord, at, Props, TYPES } from "../../policy/resources";
import { SECRET } from "../engine/record";

/**
 * Inputs that carry key material, by resource type. Each must reach the
 * engine as a secret, or it is stored in plain text in the state.
 * A map whose every value is secret counts (a Secret's data, key by key).
 */
const SECRET_INPUTS: Record<string, { paths: string[]; map?: boolean }[]> = {
    [TYPES.secret]: [{ paths: ["data", "stringData"], map: true }],
    [TYPES.remoteCommand]: [
        { paths: ["connection.privateKey", "connection.password", "connection.privateKeyPassword"] },
    ],
    [TYPES.copyToRemote]: [
        { paths: ["connection.privateKey", "connection.password", "connection.privateKeyPassword"] },
    ],
    [TYPES.k8sProvider]: [{ paths: ["kubeconfig"] }],
};

/** Whether a path's value is secret as the offline plan records it: "[secret]" itself, or under a secret parent. */
function isSecretAt(props: Props, path: string): boolean {
    const steps = path.split(".");
    return steps.some((_, i) => at(props, steps.slice(0, i + 1).join(".")) === SECRET);
}

/**
 * Problems of one resource in the offline plan, where a secret value is
 * recorded as "[secret]". Only the plan can tell: under CrossGuard a policy
 * receives secret values already unwrapped, with no mark of their secrecy
 * (pulumi/pulumi-policy#241), so this policy is not in the pack policy/ serves.
 */
export function plainSecretProblems(type: string, props: Props, name: string): string[] {
    const problems: string[] = [];
    for (const rule of SECRET_INPUTS[type] ?? []) {
        for (const path of rule.paths) {
            const value = at(props, path);
            if (value === undefined || value === null || isSecretAt(props, path)) continue;
            if (rule.map) {
                const plain = Object.entries(asRecord(value))
                    .filter(([, v]) => v !== SECRET)
                    .map(([k]) => k);
                if (plain.length > 0)
                    problems.push(
                        `${type.split(":").pop()} ${name} passes ${path} ${plain.join(", ")} as plain values: wrap them in pulumi.secret()`,
                    );
            } else {
                problems.push(
                    `${type.split(":").pop()} ${name} passes ${path} as a plain value: it must be a secret (pulumi.secret / requireSecret)`,
                );
            }
        }
    }
    return problems;
}

export const secretInputs: ResourceValidationPolicy = {
    name: "secret-inputs",
    description:
        "Kubernetes Secret data, remote Command connection keys and kubeconfigs are passed as secrets (offline plan only).",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: (args, reportViolation) => {
        for (const p of plainSecretProblems(args.type, args.props, args.name)) reportViolation(p);
    },
};
