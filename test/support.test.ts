// The support matrix (stacks/support.ts): per rule, a version just outside is
// refused with the rule's reason and the nearest supported version, and one just
// inside is accepted. Upstream facts are stated here as literals.
import { Versions } from "../model/lab";
import { ConfigError } from "../stacks/config/messages";
import { parseLabConfig } from "../stacks/config/parse";
import { SecretKey } from "../stacks/config/schema";
import * as fs from "fs";
import * as path from "path";
import { withVersionTable } from "../offline/docs/docs-versions";
import { supportProblems } from "../stacks/support";
import { labDirWith, planOf, rawConfig, REPO } from "./helpers";

const SSH: ReadonlySet<SecretKey> = new Set(["sshPrivateKey"]);

/** The reference lab's pins, as docs/versions.md states them. */
const PINS: Versions = {
    kubernetes: "1.36",
    cilium: "1.20.0",
    metallb: "0.16.1",
    istio: "1.30.3",
    spireCrds: "0.6.0",
    spire: "0.30.0",
    prometheus: "29.27.0",
    kiali: "2.29.0",
    grafana: "12.11.1",
};

const problems = (change: Partial<Versions>) => supportProblems({ ...PINS, ...change });

describe("the reference pins", () => {
    test("are inside the matrix", () => {
        expect(supportProblems(PINS)).toEqual([]);
    });

    test.each(["comp2", "comp3"])("%s pins exactly these versions", (stack) => {
        expect(rawConfig(stack).versions).toEqual(PINS);
    });
});

// [label, just outside, the message it gets, just inside]
const RULES: [string, Partial<Versions>, RegExp, Partial<Versions>][] = [
    [
        "Kubernetes below the oldest minor maintained upstream",
        { kubernetes: "1.34" },
        /versions\.kubernetes = "1\.34" is outside the supported 1\.35 to 1\.36: 1\.34 reached upstream end of life on 2026-10-27.*nearest supported: "1\.35"/,
        { kubernetes: "1.35" },
    ],
    [
        "Kubernetes above what Istio 1.30 and Cilium 1.20 support",
        { kubernetes: "1.37.2" },
        /versions\.kubernetes = "1\.37\.2" is outside the supported 1\.35 to 1\.36.*nearest supported: "1\.36"/,
        { kubernetes: "1.36.3" },
    ],
    [
        "Istio before the gateway CSI fix",
        { istio: "1.26.5" },
        /versions\.istio = "1\.26\.5" is outside the supported 1\.27\.0 to 1\.30\.x: .*workload-socket.*istio\/istio#56217.*nearest supported: "1\.27\.0"/,
        { istio: "1.29.0", kubernetes: "1.35" },
    ],
    [
        "Istio newer than the newest minor tested",
        { istio: "1.31.0" },
        /versions\.istio = "1\.31\.0" is outside the supported 1\.27\.0 to 1\.30\.x.*nearest supported: "1\.30\.3"/,
        { istio: "1.30.9" },
    ],
    [
        "Istio 1.29 on Kubernetes 1.36 (it supports 1.31 to 1.35)",
        { istio: "1.29.2" },
        /versions\.istio = "1\.29\.2" supports Kubernetes 1\.31 to 1\.35, not zta-testbed:versions\.kubernetes = "1\.36".*nearest supported: istio "1\.30\.3"/,
        { istio: "1.29.2", kubernetes: "1.35" },
    ],
    [
        "Cilium 1.19 on Kubernetes 1.36 (it supports 1.32 to 1.35)",
        { cilium: "1.19.6" },
        /versions\.cilium = "1\.19\.6" supports Kubernetes 1\.32 to 1\.35, not zta-testbed:versions\.kubernetes = "1\.36".*nearest supported: cilium "1\.20\.0"/,
        { cilium: "1.19.6", kubernetes: "1.35" },
    ],
    [
        "Cilium 1.18 on Kubernetes 1.35 (it supports 1.30 to 1.33)",
        { cilium: "1.18.12", kubernetes: "1.35" },
        /versions\.cilium = "1\.18\.12" supports Kubernetes 1\.30 to 1\.33.*nearest supported: cilium "1\.19\.6"/,
        { cilium: "1.20.0", kubernetes: "1.35" },
    ],
    [
        "Cilium older than the values were checked against",
        { cilium: "1.16.9" },
        /versions\.cilium = "1\.16\.9" is outside the supported 1\.17\.0 to 1\.20\.x.*nearest supported: "1\.17\.0"/,
        { cilium: "1.20.0" },
    ],
    [
        "Cilium newer than the newest release",
        { cilium: "1.21.0" },
        /versions\.cilium = "1\.21\.0" is outside.*nearest supported: "1\.20\.0"/,
        { cilium: "1.20.0" },
    ],
    [
        "MetalLB without the metallb.io/ annotations",
        { metallb: "0.14.8" },
        /versions\.metallb = "0\.14\.8" is outside the supported 0\.14\.9 to 0\.16\.x: .*metallb\.io\/.*nearest supported: "0\.14\.9"/,
        { metallb: "0.14.9" },
    ],
    [
        "MetalLB newer than the newest minor",
        { metallb: "0.17.0" },
        /versions\.metallb = "0\.17\.0" is outside.*nearest supported: "0\.16\.1"/,
        { metallb: "0.16.9" },
    ],
    [
        "SPIRE chart newer than the newest",
        { spire: "0.31.0" },
        /versions\.spire = "0\.31\.0" is outside the supported 0\.24\.0 to 0\.30\.x.*nearest supported: "0\.30\.0"/,
        { spire: "0.30.1" },
    ],
    [
        "the spire 0.30 chart with the CRDs of 0.24 (upstream: upgrade spire-crds first)",
        { spireCrds: "0.5.0" },
        /versions\.spireCrds = "0\.5\.0" does not go with zta-testbed:versions\.spire = "0\.30\.0": spire 0\.30\.0 to 0\.30\.x needs spire-crds 0\.6\.x.*upgrade the spire-crds chart first.*nearest supported: "0\.6\.0"/,
        { spireCrds: "0.6.0" },
    ],
    [
        "a spire 0.24 to 0.29 chart with the CRDs of 0.30",
        { spire: "0.29.0", spireCrds: "0.6.0" },
        /versions\.spireCrds = "0\.6\.0" does not go with zta-testbed:versions\.spire = "0\.29\.0": spire 0\.24\.0 to 0\.29\.x needs spire-crds 0\.5\.x.*0\.24\.X needs spire-crds 0\.5\.0\+.*nearest supported: "0\.5\.0"/,
        { spire: "0.29.0", spireCrds: "0.5.0" },
    ],
    [
        "a spire chart older than the values were checked against",
        { spire: "0.23.9", spireCrds: "0.5.0" },
        /versions\.spire = "0\.23\.9" is outside the supported 0\.24\.0 to 0\.30\.x.*nearest supported: "0\.24\.0"/,
        { spire: "0.24.0", spireCrds: "0.5.0" },
    ],
    [
        "a Prometheus chart of another major",
        { prometheus: "30.0.0" },
        /versions\.prometheus = "30\.0\.0" is outside the supported 29\.0\.0 to 29\.x.*nearest supported: "29\.27\.0"/,
        { prometheus: "29.0.0" },
    ],
    [
        "a Kiali chart of another major",
        { kiali: "1.89.0" },
        /versions\.kiali = "1\.89\.0" is outside the supported 2\.0\.0 to 2\.x.*nearest supported: "2\.0\.0"/,
        { kiali: "2.0.0" },
    ],
    [
        "a Grafana chart of another major",
        { grafana: "13.0.0" },
        /versions\.grafana = "13\.0\.0" is outside the supported 12\.0\.0 to 12\.x.*nearest supported: "12\.11\.1"/,
        { grafana: "12.0.0" },
    ],
];

describe("each rule of the matrix", () => {
    test.each(RULES)("%s: refused just outside, accepted just inside", (_label, outside, message, inside) => {
        expect(problems(outside).join("\n")).toMatch(message);
        expect(problems(inside)).toEqual([]);
    });
});

describe("refused at preview, before any resource", () => {
    test("versions.istio 1.24.0, which docs/istio.md explains breaks the SPIRE gateways, fails config validation", () => {
        const raw = JSON.parse(JSON.stringify(rawConfig("comp2")));
        raw.versions.istio = "1.24.0";
        let error: unknown;
        try {
            parseLabConfig("comp2", raw, SSH);
        } catch (err) {
            error = err;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).problems.join("\n")).toMatch(
            /versions\.istio = "1\.24\.0" is outside.*istio\/istio#56217.*nearest supported: "1\.27\.0"/,
        );
    });

    test("the whole lab plan stops at the version with the same message", async () => {
        const dir = labDirWith((_stack, raw) => (raw.versions.cilium = "1.19.6"));
        await expect(planOf(dir)).rejects.toThrow(
            /versions\.cilium = "1\.19\.6" supports Kubernetes 1\.32 to 1\.35.*nearest supported: cilium "1\.20\.0"/,
        );
    });
});

describe("the version table of docs/versions.md", () => {
    const page = () => fs.readFileSync(path.join(REPO, "docs", "versions.md"), "utf8");

    test("is the one the matrix gives (`npm run docs:versions` writes it)", () => {
        expect(withVersionTable(page())).toBe(page());
    });

    test("states the rules the tests above check", () => {
        expect(page()).toContain("| `istio` | 1.27.0 to 1.30.x (pinned: 1.30.3) |");
        expect(page()).toContain("| `cilium` 1.20.x needs `kubernetes` | 1.33 to 1.36 |");
    });
});
