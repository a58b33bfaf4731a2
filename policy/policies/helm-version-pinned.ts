import type { ResourceValidationPolicy } from "@pulumi/policy";
import { Props, TYPES } from "../resources";

/** An exact SemVer 2.0 version (an optional leading v, as some charts tag): no range, no wildcard. */
const EXACT_SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** Problems of one Helm release: without an exact version Helm installs whatever is newest when it runs. */
export function chartVersionProblems(props: Props, name: string): string[] {
    const version = props.version;
    const chart = String(props.chart ?? "?");
    if (version === undefined || version === null || version === "") {
        return [`Helm release ${name} (chart ${chart}) has no version: pin an exact chart version from cfg.versions`];
    }
    if (typeof version !== "string" || !EXACT_SEMVER.test(version)) {
        return [
            `Helm release ${name} (chart ${chart}) has version ${JSON.stringify(version)}: it must be an exact version such as 1.2.3, not a range`,
        ];
    }
    return [];
}

export const helmVersionPinned: ResourceValidationPolicy = {
    name: "helm-version-pinned",
    description: "Every Helm release pins an exact chart version.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: (args, reportViolation) => {
        if (args.type !== TYPES.helmRelease && args.type !== TYPES.helmChartV4) return;
        for (const p of chartVersionProblems(args.props, args.name)) reportViolation(p);
    },
};
