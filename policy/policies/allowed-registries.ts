import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asArray, asRecord, at, Props, TYPES } from "../resources";

/**
 * Upstream image repositories the testbed's charts and samples pull from;
 * everything else must come through the lab registry. Policy config
 * `allowedRegistries` replaces this list.
 */
export const DEFAULT_ALLOWED_REGISTRIES = [
    "docker.io/istio", // istiod, proxyv2
    "registry.istio.io/release", // Istio's own registry: the helloworld and httpbin samples at 1.30
    "gcr.io/istio-release", // Istio's second hub
    "ghcr.io/spiffe", // SPIRE server, agent, CSI driver, controller manager, OIDC provider
    "registry.k8s.io/sig-storage", // the CSI node-driver-registrar beside the SPIFFE CSI driver
    "quay.io/cilium",
    "quay.io/metallb",
    "quay.io/frrouting", // MetalLB's FRR speaker
    "quay.io/prometheus",
    "quay.io/prometheus-operator", // the Prometheus chart's config reloader
    "quay.io/kiali",
    "docker.io/grafana",
    "docker.io/curlimages", // the sleep sample
    "docker.io/mccutchen", // the httpbin sample (go-httpbin)
];

/** Pack config of `allowed-registries` (the offline plan writes labRegistry; allowedRegistries defaults to the list above). */
export interface AllowedRegistriesConfig {
    /** host:port of the lab registry (zta-testbed:registry of the stack), always allowed. */
    readonly labRegistry: string;
    /** Repository prefixes (registry host, optionally with a path) images may come from, besides the lab registry. */
    readonly allowedRegistries?: readonly string[];
}

/** Where an image reference points: registry and repository, no tag or digest, docker.io made explicit. */
export function normalizeImage(ref: string): string {
    let name = ref.split("@")[0];
    const slash = name.lastIndexOf("/");
    const colon = name.lastIndexOf(":");
    if (colon > slash) name = name.slice(0, colon);
    const parts = name.split("/");
    const hasRegistry =
        parts.length > 1 && (parts[0].includes(".") || parts[0].includes(":") || parts[0] === "localhost");
    if (hasRegistry) return name;
    return parts.length === 1 ? `docker.io/library/${name}` : `docker.io/${name}`;
}

function underPrefix(repo: string, prefix: string): boolean {
    const p = prefix.replace(/\/+$/, "");
    return repo === p || repo.startsWith(`${p}/`);
}

/** Pod specs of the workload kinds that run containers. */
function podSpecsOf(type: string, props: Props): Props[] {
    const kind = type.split(":").pop();
    if (!type.startsWith("kubernetes:") || type.startsWith("kubernetes:helm.sh/")) return [];
    if (kind === "Pod") return [asRecord(props.spec)];
    if (kind === "CronJob") return [asRecord(at(props, "spec.jobTemplate.spec.template.spec"))];
    if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(kind ?? ""))
        return [asRecord(at(props, "spec.template.spec"))];
    return [];
}

/** `image` of every container, init container and ephemeral container. "auto" is Istio's injection placeholder. */
export function workloadImages(type: string, props: Props): string[] {
    return podSpecsOf(type, props)
        .flatMap((spec) => [
            ...asArray(spec.containers),
            ...asArray(spec.initContainers),
            ...asArray(spec.ephemeralContainers),
        ])
        .map((c) => asRecord(c).image)
        .filter((i): i is string => typeof i === "string" && i !== "auto");
}

/**
 * Image repositories named in Helm values, in the shapes the testbed's charts
 * use: `{registry, repository}` (SPIRE), `repository` alone (Cilium,
 * MetalLB), `hub` (Istio; `image: pilot` is then relative to it), and full
 * `image: "host/path:tag"` strings. A `registry` alone is returned as the
 * host. Images a chart takes from its own defaults are not in the values and
 * cannot be seen here.
 */
export function helmValueImages(values: unknown): string[] {
    const found: string[] = [];
    const walk = (v: unknown) => {
        if (Array.isArray(v)) return v.forEach(walk);
        if (v === null || typeof v !== "object") return;
        const o = v as Record<string, unknown>;
        const { registry, repository, hub, image } = o;
        if (typeof repository === "string" && repository !== "") {
            found.push(
                normalizeImage(
                    typeof registry === "string" && registry !== "" ? `${registry}/${repository}` : repository,
                ),
            );
        } else if (typeof registry === "string" && registry !== "") {
            found.push(registry);
        }
        if (typeof hub === "string" && hub !== "") found.push(hub);
        if (typeof image === "string" && image.includes("/")) found.push(normalizeImage(image));
        Object.values(o).forEach(walk);
    };
    walk(values);
    return [...new Set(found)];
}

/** Problems of one resource: every image it names must be under the lab registry or an allowed prefix. */
export function imageProblems(type: string, props: Props, name: string, allowed: readonly string[]): string[] {
    const isRelease = type === TYPES.helmRelease || type === TYPES.helmChartV4;
    const images = isRelease ? helmValueImages(props.values) : workloadImages(type, props);
    const repos = isRelease ? images : images.map(normalizeImage);
    return repos
        .filter(
            (repo) => !allowed.some((p) => underPrefix(repo, p) || (!repo.includes("/") && p.split("/")[0] === repo)),
        )
        .map(
            (repo) =>
                `${type.split(":").pop()} ${name} uses images from ${repo}, which is neither the lab registry nor in allowedRegistries (${allowed.join(", ")})`,
        );
}

export const allowedRegistries: ResourceValidationPolicy = {
    name: "allowed-registries",
    description: "Container images come only from the lab registry or an allow-listed upstream repository.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: {
        properties: {
            labRegistry: {
                type: "string",
                minLength: 1,
                description:
                    "host:port of the lab registry (zta-testbed:registry of the stack): npm run plan writes it to plan/<stack>/policy-config.json",
            },
            allowedRegistries: {
                type: "array",
                items: { type: "string", minLength: 1 },
                default: DEFAULT_ALLOWED_REGISTRIES,
                description: "upstream repository prefixes allowed besides the lab registry",
            },
        },
        // Without it every image from the lab registry would be refused: the engine refuses to run the pack instead.
        required: ["labRegistry"],
    },
    validateResource: (args, reportViolation) => {
        const cfg = args.getConfig<AllowedRegistriesConfig>();
        const allowed = [cfg.labRegistry, ...(cfg.allowedRegistries ?? DEFAULT_ALLOWED_REGISTRIES)];
        for (const p of imageProblems(args.type, args.props, args.name, allowed)) reportViolation(p);
    },
};
