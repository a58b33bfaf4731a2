// Moving a lab to new versions: one set of versions in both stacks, and an
// upgrade that updates resources in place (same URNs) instead of replacing them.
import { ConfigError } from "../stacks/config/messages";
import { ClusterIdentity } from "../model/lab";
import { peerProblems, peerVersionCheck } from "../stacks/peer-checks";
import { LabPlan } from "../offline/planner/lab";
import { labDirWith, planOf, rawConfig, stackOf } from "./helpers";

/** The pins of the lab before issue 18 (the lab guide's), as its stack files had them. */
const OLD_PINS = {
    kubernetes: "1.32",
    cilium: "1.17.18",
    metallb: "0.14.9",
    istio: "1.30.3",
    spireCrds: "0.5.0",
    spire: "0.24.5",
    prometheus: "29.27.0",
    kiali: "2.29.0",
    grafana: "12.11.1",
};

function identity(stack: string, versions: Record<string, string>): ClusterIdentity {
    const raw = rawConfig(stack) as Record<string, any>;
    return {
        protocolVersion: 2,
        clusterName: raw.cluster.name,
        clusterId: raw.cluster.id,
        network: raw.cluster.network,
        meshId: raw.mesh.id,
        trustDomain: raw.mesh.trustDomain,
        trustModel: raw.mesh.trustModel,
        metallbAddresses: raw.metallb.addresses,
        podCidr: raw.cluster.podCidr,
        serviceCidr: raw.cluster.serviceCidr,
        eastWestAddress: raw.metallb.eastWestAddress,
        versions: versions as unknown as ClusterIdentity["versions"],
        pkiRole: raw.pki.role,
        labAddresses: {},
    };
}

describe("one set of versions in both stacks", () => {
    const NEW = rawConfig("comp2").versions as Record<string, string>;

    test("the identity output carries every pinned version", async () => {
        const lab = await planOf();
        expect(stackOf(lab, "comp2").outputs.identity.value).toMatchObject({ versions: NEW });
    });

    test("equal versions pass", () => {
        expect(peerVersionCheck(identity("comp3", NEW), identity("comp2", NEW), "comp2")).toEqual({
            problems: [],
            warnings: [],
        });
    });

    test("a stack behind its peer is refused, naming the key, both values and the fix", () => {
        const own = identity("comp3", { ...NEW, cilium: "1.19.6" });
        const problems = peerProblems(own, identity("comp2", NEW), "cluster1", "comp2");
        expect(problems).toEqual([
            'zta-testbed:versions.cilium is "1.19.6" here but peer stack "comp2" runs "1.20.0": both clusters run the same versions; set versions.cilium: "1.20.0" in Pulumi.yaml (or pull the checkout the peer was deployed from; docs/upgrade.md, "In place")',
        ]);
    });

    test("a stack ahead of its peer (an upgrade under way) passes with a warning naming the next run", () => {
        const check = peerVersionCheck(
            identity("comp2", NEW),
            identity("comp3", { ...NEW, metallb: "0.14.9" }),
            "comp3",
        );
        expect(check.problems).toEqual([]);
        expect(check.warnings.join()).toMatch(
            /upgrade under way: peer stack "comp3" still runs versions\.metallb "0\.14\.9" -> "0\.16\.1"; run `pulumi up` on "comp3" next/,
        );
    });

    test("ahead in one version and behind in another is refused", () => {
        const check = peerVersionCheck(
            identity("comp2", { ...NEW, metallb: "0.14.9" }),
            identity("comp3", { ...NEW, spire: "0.24.5", spireCrds: "0.5.0" }),
            "comp3",
        );
        expect(check.problems.join("\n")).toMatch(
            /versions\.metallb is "0\.14\.9" here but peer stack "comp3" runs "0\.16\.1"[\s\S]*also ahead of peer stack "comp3" in versions\.spireCrds "0\.5\.0" -> "0\.6\.0", versions\.spire "0\.24\.5" -> "0\.30\.0"/,
        );
    });

    test("a peer deployed before identities carried versions is refused, naming the stack to deploy again first and from which commit", () => {
        const { protocolVersion: _, versions: __, ...before } = identity("comp2", NEW);
        expect(peerVersionCheck(identity("comp3", NEW), before as ClusterIdentity, "comp2")).toEqual({
            problems: [
                'peer stack "comp2" was deployed by a program older than this checkout reads: its identity (protocol 1, no protocolVersion) has no versions; ' +
                    'run `pulumi up` on "comp2" from commit c42e6a9 first (it reads every earlier identity and exports a whole one), then here again (docs/upgrade.md, "The cross-stack protocol")',
            ],
            warnings: [],
        });
    });

    test("the offline plan refuses a stack file that pins its own versions (they are lab-wide, in Pulumi.yaml)", async () => {
        const dir = labDirWith((stack, raw) => {
            if (stack === "comp3") raw.versions.spire = "0.24.5";
            if (stack === "comp3") raw.versions.spireCrds = "0.5.0";
        });
        const error = await planOf(dir).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).problems).toEqual([
            "Pulumi.comp3.yaml: zta-testbed:versions is lab-wide, equal in every stack: set it once in Pulumi.yaml's config block (`zta-testbed:versions:` with its object under `value:`) and remove it from Pulumi.comp3.yaml",
        ]);
    });
});

describe("an upgrade from the old pins is an update, not a replace", () => {
    // The old pins are outside today's support matrix; the matrix is switched off
    // for this plan only, to see what the program would declare at them.
    let oldLab: LabPlan;
    let newLab: LabPlan;
    beforeAll(async () => {
        newLab = await planOf();
        const dir = labDirWith((_stack, raw) => (raw.versions = { ...OLD_PINS }));
        await jest.isolateModulesAsync(async () => {
            jest.doMock("../stacks/support", () => ({
                ...jest.requireActual("../stacks/support"),
                supportProblems: () => [],
            }));
            const isolated = await import("./helpers");
            oldLab = await isolated.planOf(dir, { shared: false });
        });
    });

    test.each(["comp2", "comp3"])("%s: the same resources (URNs) at the old and the new pins", (stack) => {
        const urns = (lab: LabPlan) =>
            stackOf(lab, stack)
                .resources.map((r) => r.urn)
                .sort();
        expect(urns(newLab)).toEqual(urns(oldLab));
        expect(urns(newLab).length).toBeGreaterThan(50);
    });

    test.each(["comp2", "comp3"])(
        "%s: what changes is the chart versions of the upgraded releases and the host's Kubernetes packages",
        (stack) => {
            const before = new Map(stackOf(oldLab, stack).resources.map((r) => [r.urn, r.inputs]));
            const changed: string[] = [];
            for (const r of stackOf(newLab, stack).resources) {
                const old = before.get(r.urn) as Record<string, unknown>;
                const keys = [...new Set([...Object.keys(old), ...Object.keys(r.inputs)])].filter(
                    (k) => JSON.stringify(old[k]) !== JSON.stringify(r.inputs[k]),
                );
                if (keys.length > 0) changed.push(`${r.name}: ${keys.sort().join(",")}`);
            }
            expect(changed.sort()).toEqual(
                [
                    `${stack}-cilium-release: version`,
                    `${stack}-metallb-release: version`,
                    `${stack}-spire-chart: version`,
                    `${stack}-spire-crds: version`,
                    // prepare.sh runs again with the new minor's apt repository and package prefix (a
                    // Command re-runs on new triggers; the script itself refuses to move a running
                    // cluster's minor: that is `kubeadm upgrade`, docs/upgrade.md, "In place").
                    `${stack}-hostprep-prepare: create,triggers`,
                ].sort(),
            );
        },
    );
});
