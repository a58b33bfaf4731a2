// Every resource goes to a provider of its own package. The engine sends a
// resource to the provider it is bound to, and a provider of another package
// refuses it: a RandomPassword bound to the cluster's Kubernetes provider stops
// the first `pulumi up` with
//   unrecognized resource type: "random:index/randomPassword:RandomPassword" for this provider
// (issue 19). Checked over the whole offline plan of both stacks, in both trust
// models, and with the cluster from a kubeconfig instead of a host.
import { PlannedResource } from "../offline/engine/record";
import { LabPlan } from "../offline/planner/lab";
import { byoLabDir, labDirWith, planOf } from "./helpers";

/** `random` of "random:index/randomPassword:RandomPassword"; `kubernetes` of "pulumi:providers:kubernetes". */
function packageOf(type: string): string {
    return type.startsWith("pulumi:providers:") ? type.slice("pulumi:providers:".length) : type.split(":")[0];
}

/** Resources bound to a provider of another package, as "<type> <name> -> <provider type> <provider name>". */
function foreignBindings(plan: { resources: PlannedResource[] }): string[] {
    const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
    return plan.resources
        .filter((r) => r.provider !== null)
        .flatMap((r) => {
            const provider = byUrn.get(r.provider as string);
            if (!provider) return [`${r.type} ${r.name} -> ${r.provider} (not in the plan)`];
            return packageOf(provider.type) === packageOf(r.type)
                ? []
                : [`${r.type} ${r.name} -> ${provider.type} ${provider.name}`];
        });
}

const federated = (stack: string, raw: Record<string, any>) => {
    raw.mesh.trustModel = "federated";
    raw.cluster.trustDomain = `${stack === "comp2" ? "cluster1" : "cluster2"}.zta.lab`;
};

/** Each lab, and whether its root stack builds hosts (and so runs the lab issuer on comp1, with its generated credentials). */
const LABS: [string, () => string | undefined, boolean][] = [
    ["shared trust, cluster from the host", () => undefined, true],
    ["federated trust, cluster from the host", () => labDirWith(federated), true],
    ["shared trust, cluster from a kubeconfig", () => byoLabDir(), false],
];

describe.each(LABS)("%s", (_label, dir, hosts) => {
    let lab: LabPlan;
    beforeAll(async () => {
        lab = await planOf(dir());
    });

    test.each(["comp2", "comp3"])(
        "%s: every resource bound to a provider is bound to one of its own package",
        (stack) => {
            const plan = lab.stacks.find((s) => s.stack === stack);
            if (!plan) throw new Error(`no plan for ${stack}`);
            expect(foreignBindings(plan)).toEqual([]);
            // Not vacuous: the plan binds resources to explicit providers (the cluster's Kubernetes provider).
            const bound = plan.resources.filter((r) => r.provider !== null);
            expect(bound.length).toBeGreaterThan(20);
            // The add-ons' generated credentials (and the lab issuer's and registry's, in the root stack) exist and go to the random package's default provider.
            const passwords = plan.resources.filter((r) => r.type === "random:index/randomPassword:RandomPassword");
            const issuer =
                hosts && stack === "comp2"
                    ? [
                          `${stack}-issuer-client-secret`,
                          `${stack}-issuer-other-client-secret`,
                          `${stack}-registry-push-password`,
                      ]
                    : [];
            expect(passwords.map((p) => p.name).sort()).toEqual(
                [`${stack}-addons-grafana-admin`, `${stack}-addons-kiali-signing-key`, ...issuer].sort(),
            );
        },
    );
});

test("the check finds a resource bound to a provider of another package", () => {
    const urn = (type: string, name: string) => `urn:pulumi:comp2::zta-testbed::${type}::${name}`;
    const k8s = {
        type: "pulumi:providers:kubernetes",
        name: "comp2-k8s",
        urn: urn("pulumi:providers:kubernetes", "comp2-k8s"),
        provider: null,
    };
    const password = {
        type: "random:index/randomPassword:RandomPassword",
        name: "pw",
        urn: urn("random:index/randomPassword:RandomPassword", "pw"),
        provider: k8s.urn,
    };
    const secret = {
        type: "kubernetes:core/v1:Secret",
        name: "s",
        urn: urn("kubernetes:core/v1:Secret", "s"),
        provider: k8s.urn,
    };
    const resources = [k8s, password, secret] as unknown as PlannedResource[];
    expect(foreignBindings({ resources })).toEqual([
        "random:index/randomPassword:RandomPassword pw -> pulumi:providers:kubernetes comp2-k8s",
    ]);
});
