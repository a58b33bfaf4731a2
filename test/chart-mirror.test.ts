// An air-gapped lab takes every chart from one Helm repository mirror.
import { isHelmRelease } from "../offline/planner/files";
import { parseLabConfig } from "../stacks/config/parse";
import { labDirWith, planOf, rawConfig } from "./helpers";

const MIRROR = "http://10.5.0.2:8080/charts";

function releases(lab: Awaited<ReturnType<typeof planOf>>) {
    return lab.stacks.flatMap((s) =>
        s.resources.filter(isHelmRelease).map((r) => ({
            stack: s.stack,
            name: r.name,
            chart: r.inputs.chart,
            version: r.inputs.version,
            repo: (r.inputs.repositoryOpts as { repo?: string }).repo,
        })),
    );
}

describe("charts.mirror", () => {
    let upstream: ReturnType<typeof releases>;
    let mirrored: ReturnType<typeof releases>;
    beforeAll(async () => {
        upstream = releases(await planOf());
        mirrored = releases(await planOf(labDirWith((_stack, raw) => (raw.charts = { mirror: MIRROR }))));
    });

    test("without it, each chart comes from its upstream repository", () => {
        const repoOf = (chart: string) => upstream.find((r) => r.chart === chart)?.repo;
        expect(repoOf("cilium")).toBe("https://helm.cilium.io");
        expect(repoOf("istiod")).toBe("https://istio-release.storage.googleapis.com/charts");
        expect(repoOf("spire")).toBe("https://spiffe.github.io/helm-charts-hardened");
        expect(repoOf("metallb")).toBe("https://metallb.github.io/metallb");
    });

    test("with it, every release of both stacks takes its chart from the mirror, same chart and pinned version", () => {
        expect(mirrored.length).toBeGreaterThanOrEqual(10);
        expect(mirrored.filter((r) => r.repo !== MIRROR)).toEqual([]);
        const key = (r: { stack: string; name: string; chart: unknown; version: unknown }) =>
            `${r.stack} ${r.name} ${r.chart}@${r.version}`;
        expect(mirrored.map(key).sort()).toEqual(upstream.map(key).sort());
    });

    test("a mirror that is not an http(s) URL is refused naming the key", () => {
        const raw = { ...rawConfig("comp2"), charts: { mirror: "ftp://10.5.0.2/charts" } };
        expect(() => parseLabConfig("comp2", raw, new Set(["sshPrivateKey"]))).toThrow(
            /zta-testbed:charts\.mirror = "ftp:\/\/10\.5\.0\.2\/charts": expected an http:\/\/ or https:\/\/ URL/,
        );
    });
});
