import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/** An upstream Helm chart at a pinned version, referenced by its repository URL. */
export interface ChartRef {
    readonly chart: string;
    readonly repo: string;
    readonly version: string;
}

export interface ReleaseArgs {
    readonly ref: ChartRef;
    readonly namespace: pulumi.Input<string>;
    readonly values: pulumi.Input<Record<string, unknown>>;
    /** The Helm release name; defaults to the chart name. Some charts derive labels and selectors from it. */
    readonly releaseName?: string;
}

/**
 * Every chart of the testbed is a `helm.v3.Release`: Helm owns the release, so
 * chart hooks, `lookup` and CRD installation behave exactly as upstream
 * documents them, `helm list` on a node shows what runs, and the plan shows
 * chart, repository, pinned version and values. (`helm.v4.Chart` would render
 * client-side, where `lookup` is empty and hooks become plain objects; several
 * of our charts rely on both.) Namespaces are created by the components, with
 * the labels each needs, never by Helm.
 */
export function helmRelease(name: string, args: ReleaseArgs, opts: pulumi.CustomResourceOptions): k8s.helm.v3.Release {
    return new k8s.helm.v3.Release(
        name,
        {
            name: args.releaseName ?? args.ref.chart,
            chart: args.ref.chart,
            version: args.ref.version,
            repositoryOpts: { repo: args.ref.repo },
            namespace: args.namespace,
            createNamespace: false,
            values: args.values,
            // Wait for the release's resources to be ready, so that what depends on it really finds it running.
            skipAwait: false,
            cleanupOnFail: true,
        },
        opts,
    );
}

/**
 * Takes every Helm release's chart from one repository (an air-gapped lab's
 * mirror) instead of its upstream one. Chart names and pinned versions stay as
 * they are, so the mirror must serve the same packages (`helm repo index` of
 * the upstream .tgz files). Registered once per stack, it reaches every
 * release of every component without each one carrying the setting.
 */
export function fromChartMirror(mirror: string): pulumi.ResourceTransformation {
    return ({ type, props, opts }) => {
        if (type !== "kubernetes:helm.sh/v3:Release") return undefined;
        return { props: { ...props, repositoryOpts: { ...(props.repositoryOpts as object), repo: mirror } }, opts };
    };
}
