// The support matrix: which versions of each component the program supports,
// and why. Config validation refuses anything outside it (stacks/config/cross-field.ts),
// and the version table of docs/versions.md is generated from it (`npm run docs:versions`).
// Each rule names its upstream source; change a rule only together with it.
import type { Versions } from "../model/lab";

export type Component = keyof Versions;

/** A range of versions: `min` is a full version (or a minor), `max` a minor whose every patch is included. */
export interface Range {
    readonly min: string;
    readonly max: string;
}

export interface RangeRule {
    readonly component: Component;
    readonly range: Range;
    /** The version the reference lab pins inside the range: what "nearest" suggests above the range. */
    readonly pinned: string;
    readonly reason: string;
    readonly source: string;
}

/** The Kubernetes minors an Istio or Cilium minor supports, from its release documentation. */
export interface KubernetesSupport {
    readonly component: "istio" | "cilium";
    /** "1.30" */
    readonly minor: string;
    readonly kubernetes: Range;
    /** The newest release of this minor the program is tested with (its chart is in the test tier's chart mirror). */
    readonly release: string;
    readonly source: string;
}

/** The spire-crds chart minor that the spire charts of a range need. */
export interface CrdsPairing {
    /** spire chart versions, e.g. 0.24.0 to 0.29.x */
    readonly spire: Range;
    /** spire-crds chart minor, "0.6" */
    readonly spireCrds: string;
    readonly pinned: string;
    readonly source: string;
}

const ISTIO_RELEASES = "istio.io/latest/docs/releases/supported-releases (support status table)";
const CILIUM_K8S = (v: string) => `docs.cilium.io/en/v${v}/network/kubernetes/compatibility`;
const SPIRE_UPGRADE_NOTES = 'spiffe/helm-charts-hardened charts/spire/README.md, "Upgrade notes"';

export const RANGE_RULES: readonly RangeRule[] = [
    {
        component: "kubernetes",
        range: { min: "1.35", max: "1.36" },
        pinned: "1.36",
        reason: "1.34 reached upstream end of life on 2026-10-27 (1.32 on 2026-02-28); 1.37 is newer than any Istio or Cilium release here supports",
        source: "kubernetes.io/releases (maintained release branches)",
    },
    {
        component: "istio",
        range: { min: "1.27.0", max: "1.30" },
        pinned: "1.30.3",
        reason: 'from 1.27 the gateway injection template leaves `workload-socket` a null emptyDir, so the SPIRE gateways\' CSI volume is accepted (before: "may not specify more than 1 volume type"); 1.30 is the newest minor rendered and tested here',
        source: "istio/istio#56217 (first in 1.27), istio/istio#46988",
    },
    {
        component: "cilium",
        range: { min: "1.17.0", max: "1.20" },
        pinned: "1.20.0",
        reason: "the minors whose values components/cilium.ts was checked against (keys unchanged from 1.17 to 1.20); 1.20 is the newest release",
        source: "cilium/cilium charts 1.17.18, 1.18.12, 1.19.6, 1.20.0 (values.yaml)",
    },
    {
        component: "metallb",
        range: { min: "0.14.9", max: "0.16" },
        pinned: "0.16.1",
        reason: "the gateways' fixed addresses use the `metallb.io/` annotations, read from 0.14.9 on; 0.16 is the newest minor (its default BGP backend frr-k8s is switched off for L2)",
        source: "metallb/metallb v0.14.9 release notes (annotation prefix), charts/metallb values.yaml at v0.16.1",
    },
    {
        component: "spire",
        range: { min: "0.24.0", max: "0.30" },
        pinned: "0.30.0",
        reason: "components/spire-values.ts's values render at 0.24.5 and 0.30.0 (every key it sets exists in both); the minors between are the steps of an upgrade, which upstream supports one minor at a time; each needs its spire-crds (below)",
        source: 'spiffe/helm-charts-hardened tags spire-0.24.5, spire-0.30.0; charts/spire/README.md, "Upgrade notes"',
    },
    {
        component: "prometheus",
        range: { min: "29.0.0", max: "29" },
        pinned: "29.27.0",
        reason: "Istio's add-on values (components/addons.ts) are written against this chart major; a new major may rename them",
        source: "prometheus-community/helm-charts prometheus-29.27.0",
    },
    {
        component: "kiali",
        range: { min: "2.0.0", max: "2" },
        pinned: "2.29.0",
        reason: "the kiali-server values (components/addons.ts) are written against this chart major",
        source: "kiali/helm-charts v2.29.0",
    },
    {
        component: "grafana",
        range: { min: "12.0.0", max: "12" },
        pinned: "12.11.1",
        reason: "Istio's add-on values (components/addons.ts) are written against this chart major",
        source: "grafana-community/helm-charts grafana-12.11.1",
    },
];

export const KUBERNETES_SUPPORT: readonly KubernetesSupport[] = [
    {
        component: "istio",
        minor: "1.27",
        kubernetes: { min: "1.29", max: "1.33" },
        release: "1.27",
        source: ISTIO_RELEASES,
    },
    {
        component: "istio",
        minor: "1.28",
        kubernetes: { min: "1.30", max: "1.34" },
        release: "1.28",
        source: ISTIO_RELEASES,
    },
    {
        component: "istio",
        minor: "1.29",
        kubernetes: { min: "1.31", max: "1.35" },
        release: "1.29",
        source: ISTIO_RELEASES,
    },
    {
        component: "istio",
        minor: "1.30",
        kubernetes: { min: "1.32", max: "1.36" },
        release: "1.30.3",
        source: ISTIO_RELEASES,
    },
    {
        component: "cilium",
        minor: "1.17",
        kubernetes: { min: "1.29", max: "1.32" },
        release: "1.17.18",
        source: CILIUM_K8S("1.17"),
    },
    {
        component: "cilium",
        minor: "1.18",
        kubernetes: { min: "1.30", max: "1.33" },
        release: "1.18.12",
        source: CILIUM_K8S("1.18"),
    },
    {
        component: "cilium",
        minor: "1.19",
        kubernetes: { min: "1.32", max: "1.35" },
        release: "1.19.6",
        source: CILIUM_K8S("1.19"),
    },
    {
        component: "cilium",
        minor: "1.20",
        kubernetes: { min: "1.33", max: "1.36" },
        release: "1.20.0",
        source: CILIUM_K8S("1.20"),
    },
];

export const CRDS_PAIRINGS: readonly CrdsPairing[] = [
    {
        spire: { min: "0.24.0", max: "0.29" },
        spireCrds: "0.5",
        pinned: "0.5.0",
        source: `${SPIRE_UPGRADE_NOTES}: 0.24.X needs spire-crds 0.5.0+, and the next CRD change is 0.30.X's`,
    },
    {
        spire: { min: "0.30.0", max: "0.30" },
        spireCrds: "0.6",
        pinned: "0.6.0",
        source: `${SPIRE_UPGRADE_NOTES}: 0.30.X, "upgrade the spire-crds chart first" (spire-crds 0.6.0 and spire 0.30.0 are tagged on one commit, 029f1985233e)`,
    },
];

/** Numeric parts of a version ("v1.30.3" -> [1, 30, 3]). */
function parts(version: string): number[] {
    return version
        .replace(/^v/, "")
        .split("-")[0]
        .split(".")
        .map((p) => Number(p));
}

/** Compares a with b on the parts b has: "1.36.3" vs "1.36" is 0 (same minor). */
function compareTo(a: string, b: string): number {
    const x = parts(a);
    const y = parts(b);
    for (let i = 0; i < y.length; i++) {
        const d = (x[i] ?? 0) - y[i];
        if (d !== 0) return Math.sign(d);
    }
    return 0;
}

/** Orders two versions on all their parts ("1.36" < "1.36.3" < "1.37"). */
export function compareVersions(a: string, b: string): number {
    const x = parts(a);
    const y = parts(b);
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
        const d = (x[i] ?? -1) - (y[i] ?? -1);
        if (d !== 0) return Math.sign(d);
    }
    return 0;
}

export function minorOf(version: string): string {
    return parts(version).slice(0, 2).join(".");
}

export function inRange(version: string, range: Range): boolean {
    return compareTo(version, range.min) >= 0 && compareTo(version, range.max) <= 0;
}

export function describeRange(range: Range): string {
    return `${range.min} to ${range.max}.x`.replace(/^(\d+\.\d+) to (\d+\.\d+)\.x$/, "$1 to $2");
}

const key = (component: Component) => `zta-testbed:versions.${component}`;

/**
 * Every way these versions leave the support matrix, one message each: the key,
 * the value, the rule and its source, and the nearest supported version.
 */
export function supportProblems(versions: Versions): string[] {
    const problems: string[] = [];
    for (const rule of RANGE_RULES) {
        const value = versions[rule.component];
        if (inRange(value, rule.range)) continue;
        const nearest = compareTo(value, rule.range.min) < 0 ? rule.range.min : rule.pinned;
        problems.push(
            `${key(rule.component)} = "${value}" is outside the supported ${describeRange(rule.range)}: ${rule.reason} (${rule.source}); ` +
                `nearest supported: "${nearest}"`,
        );
    }
    const k8s = versions.kubernetes;
    for (const component of ["istio", "cilium"] as const) {
        const minor = minorOf(versions[component]);
        const support = KUBERNETES_SUPPORT.find((s) => s.component === component && s.minor === minor);
        if (!support || inRange(k8s, support.kubernetes)) continue;
        // The minor of the component closest to this one that supports this Kubernetes (the newer on a tie).
        const distance = (s: KubernetesSupport) => Math.abs(parts(s.minor)[1] - parts(minor)[1]);
        const fits = KUBERNETES_SUPPORT.filter((s) => s.component === component && inRange(k8s, s.kubernetes)).reduce<
            KubernetesSupport | undefined
        >((best, s) => (best === undefined || distance(s) <= distance(best) ? s : best), undefined);
        problems.push(
            `${key(component)} = "${versions[component]}" supports Kubernetes ${describeRange(support.kubernetes)}, not ${key("kubernetes")} = "${k8s}" (${support.source}); ` +
                (fits
                    ? `nearest supported: ${component} "${fits.release}"`
                    : `no ${component} release here supports it: use Kubernetes ${describeRange(support.kubernetes)}`),
        );
    }
    const pairing = CRDS_PAIRINGS.find((p) => inRange(versions.spire, p.spire));
    if (pairing && minorOf(versions.spireCrds) !== pairing.spireCrds) {
        problems.push(
            `${key("spireCrds")} = "${versions.spireCrds}" does not go with ${key("spire")} = "${versions.spire}": spire ${describeRange(pairing.spire)} needs spire-crds ${pairing.spireCrds}.x ` +
                `(${pairing.source}); nearest supported: "${pairing.pinned}"`,
        );
    }
    return problems;
}

/** The version table of docs/versions.md: one row per rule. */
export function supportTable(): string {
    const rows: string[] = ["| component (`versions.*`) | supported | why | source |", "|---|---|---|---|"];
    for (const rule of RANGE_RULES) {
        rows.push(
            `| \`${rule.component}\` | ${describeRange(rule.range)} (pinned: ${rule.pinned}) | ${rule.reason} | ${rule.source} |`,
        );
    }
    for (const s of KUBERNETES_SUPPORT) {
        rows.push(
            `| \`${s.component}\` ${s.minor}.x needs \`kubernetes\` | ${describeRange(s.kubernetes)} | the Kubernetes minors ${s.component} ${s.minor} supports | ${s.source} |`,
        );
    }
    for (const p of CRDS_PAIRINGS) {
        rows.push(
            `| \`spire\` ${describeRange(p.spire)} needs \`spireCrds\` | ${p.spireCrds}.x (pinned: ${p.pinned}) | the CRDs the spire chart's controller manager reads | ${p.source} |`,
        );
    }
    return rows.join("\n");
}
