// `npm run check:charts -- --charts DIR [--plan DIR] [--helm PATH] [--kube-version V]`:
// renders every Helm release of the offline plan with its values against the
// chart at its pinned version from a Helm repository folder (`<chart>-<version>.tgz`),
// with `helm template`, and fails on any error: a value the chart's schema or
// templates refuse, a chart whose kubeVersion excludes the pinned Kubernetes,
// a pinned version the folder lacks. No JavaScript library renders Helm charts,
// so this development check runs the Helm CLI (the program itself never does);
// build one from the Go module proxy with
// `GOBIN=$PWD/bin go install helm.sh/helm/v3/cmd/helm@v3.20.2`.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { readFlags, UsageError } from "../cli";
import { chartArchive, PlannedRelease, plannedReleases } from "./charts";

/** The `helm template` arguments that render one release the way the program installs it. */
export function templateArgs(
    release: PlannedRelease,
    archive: string,
    valuesFile: string,
    kubeVersion: string,
): string[] {
    return [
        "template",
        release.name,
        archive,
        "--namespace",
        release.namespace,
        "--values",
        valuesFile,
        "--kube-version",
        semver(kubeVersion),
    ];
}

/** Helm wants a full version: "1.36" -> "1.36.0". */
export function semver(kubernetes: string): string {
    return /^\d+\.\d+$/.test(kubernetes) ? `${kubernetes}.0` : kubernetes;
}

/** The Kubernetes version each stack pins, from its `identity` output in the plan. */
export function plannedKubernetes(planDir: string, stack: string): string | undefined {
    const file = path.join(planDir, stack, "outputs.json");
    if (!fs.existsSync(file)) return undefined;
    const outputs = JSON.parse(fs.readFileSync(file, "utf8")) as { identity?: { versions?: { kubernetes?: string } } };
    return outputs.identity?.versions?.kubernetes;
}

export interface RenderResult {
    readonly release: PlannedRelease;
    readonly error?: string;
    /** Kinds rendered, with counts. */
    readonly kinds: Map<string, number>;
    /** The rendered objects. */
    readonly objects: Record<string, any>[];
}

export function renderRelease(
    helm: string,
    chartsDir: string,
    release: PlannedRelease,
    kubeVersion: string,
): RenderResult {
    const archive = chartArchive(chartsDir, release.chart, release.version);
    const kinds = new Map<string, number>();
    const objects: Record<string, any>[] = [];
    if (!fs.existsSync(archive))
        return {
            release,
            kinds,
            objects,
            error: `${archive} does not exist: the plan pins ${release.chart} ${release.version}`,
        };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-render-"));
    try {
        const valuesFile = path.join(dir, "values.json");
        fs.writeFileSync(valuesFile, JSON.stringify(release.values));
        const run = spawnSync(helm, templateArgs(release, archive, valuesFile, kubeVersion), {
            encoding: "utf8",
            maxBuffer: 256 * 1024 * 1024,
        });
        if (run.error) return { release, kinds, objects, error: `could not run ${helm}: ${run.error.message}` };
        if (run.status !== 0) return { release, kinds, objects, error: run.stderr.trim() };
        for (const doc of YAML.parseAllDocuments(run.stdout)) {
            if (doc.errors.length > 0)
                return { release, kinds, objects, error: `rendered YAML does not parse: ${doc.errors[0].message}` };
            const obj = doc.toJS() as Record<string, any> | null;
            if (!obj?.kind) continue;
            kinds.set(obj.kind, (kinds.get(obj.kind) ?? 0) + 1);
            objects.push(obj);
        }
        return { release, kinds, objects };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * The fields of a release's workloads and Services that Kubernetes does not let
 * an update change (selectors, a StatefulSet's serviceName and claim templates, a
 * Service's clusterIP): equal before and after a chart upgrade means `helm upgrade`
 * updates these objects in place instead of failing or needing them deleted.
 */
export function immutableFields(objects: readonly Record<string, any>[]): Record<string, unknown> {
    const kept = objects.filter((o) => ["Deployment", "DaemonSet", "StatefulSet", "Service"].includes(o.kind));
    return Object.fromEntries(
        kept.map((o) => [
            `${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name}`,
            {
                selector: o.spec?.selector,
                serviceName: o.spec?.serviceName,
                volumeClaimTemplates: o.spec?.volumeClaimTemplates,
                clusterIP: o.spec?.clusterIP,
            },
        ]),
    );
}

const USAGE =
    "usage: npm run check:charts -- --charts DIR [--plan DIR] [--helm PATH] [--kube-version V]   (run `npm run plan` first)";

function main(argv: string[]): number {
    const flags = readFlags(argv, {
        charts: { type: "string" },
        plan: { type: "string" },
        helm: { type: "string" },
        "kube-version": { type: "string" },
        help: { type: "boolean", short: "h" },
    });
    if (flags.help) {
        console.log(USAGE);
        return 0;
    }
    const chartsDir = flags.charts;
    if (!chartsDir) throw new UsageError("--charts DIR is required");
    const planDir = flags.plan ?? "plan";
    const helm = flags.helm ?? process.env.HELM ?? "helm";
    let failures = 0;
    const releases = plannedReleases(planDir);
    for (const release of releases) {
        const kubeVersion = flags["kube-version"] ?? plannedKubernetes(planDir, release.stack);
        if (!kubeVersion) {
            console.log(
                `FAIL ${release.file}: no Kubernetes version (the plan's identity output has none; pass --kube-version)`,
            );
            failures++;
            continue;
        }
        const result = renderRelease(helm, chartsDir, release, kubeVersion);
        const what = `${release.chart} ${release.version} as "${release.name}" in ${release.namespace}, Kubernetes ${semver(kubeVersion)}`;
        if (result.error) {
            failures++;
            console.log(`FAIL ${release.file}: ${what}\n${result.error.replace(/^/gm, "     ")}`);
        } else {
            const objects = [...result.kinds.values()].reduce((a, b) => a + b, 0);
            console.log(
                `ok   ${release.file}: ${what}: ${objects} objects (${[...result.kinds].map(([k, n]) => `${n} ${k}`).join(", ")})`,
            );
        }
    }
    console.log(`${releases.length - failures} passed, ${failures} failed`);
    return failures > 0 || releases.length === 0 ? 1 : 0;
}

if (require.main === module) {
    try {
        process.exit(main(process.argv.slice(2)));
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        console.error(`check:charts failed: ${err.message}\n\n${USAGE}`);
        process.exit(2);
    }
}
