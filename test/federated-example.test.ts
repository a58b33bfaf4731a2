// examples/federated, planned as a new user would plan it: two stacks of the
// federated trust model with their own names, addresses and trust domains, the root
// role (registry and issuer on the utility host) on the second stack. The calls
// verify makes are replayed on this plan in test/verify-calls.test.ts.
import * as fs from "fs";
import * as path from "path";
import { PlannedResource } from "../offline/engine/record";
import { planLabQuietly, REPO } from "./helpers";

const FEDERATED = path.join(REPO, "examples", "federated");
const SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert";

describe("npm run plan -- --config-dir examples/federated", () => {
    let out: string;
    let stdout: string;
    const resources = (stack: string) =>
        JSON.parse(fs.readFileSync(path.join(out, stack, "resources.json"), "utf8")) as PlannedResource[];
    beforeAll(async () => {
        ({ out, stdout } = await planLabQuietly(FEDERATED, "zta-federated-"));
    });

    test("plans both stacks, each cluster with its own id and network, in 3 runs with the peer-role stack first", () => {
        expect(stdout).toContain(
            "alpha: cluster-a (cluster id 11, net-a); remote secrets for cluster-b\nbravo: cluster-b (cluster id 12, net-b); remote secrets for cluster-a",
        );
        expect(stdout).toContain("first deployment: 3 runs of `pulumi up`, in this order: alpha, bravo, alpha");
    });

    test("each stack owns the protected root of its own trust domain", () => {
        for (const [stack, domain] of [
            ["alpha", "alpha.fed.lab"],
            ["bravo", "bravo.fed.lab"],
        ]) {
            const roots = resources(stack).filter((r) => r.type === SELF_SIGNED && r.name.endsWith("-pki-root-cert"));
            expect(
                roots.map((r) => [r.name, r.protect, (r.inputs.subject as { commonName: string }).commonName]),
            ).toEqual([[`${stack}-pki-root-cert`, true, `zta-testbed root CA ${domain}`]]);
        }
    });

    test.each([
        ["docs/deploy.md", path.join(REPO, "docs", "deploy.md"), "### The federated model"],
        ["its README", path.join(FEDERATED, "README.md"), "## Tearing it down"],
    ])(
        "%s unprotects, in each stack, exactly the plan's protected resources before destroying it",
        (_doc, file, heading) => {
            const page = fs.readFileSync(file, "utf8");
            const section = page.slice(
                page.indexOf(heading),
                page.indexOf("```\n", page.indexOf("```sh", page.indexOf(heading)) + 5),
            );
            // The URNs as the shell expands them in the loop: `\$` is a literal dollar sign, `$stack` the stack;
            // those inside `if [ $stack = $root_stack ]` only for the stack with the root role (bravo).
            const rootOnly = section.slice(section.indexOf("if [ $stack = $root_stack ]"), section.indexOf("  fi\n"));
            expect(rootOnly).toContain("urn:pulumi:");
            const urnsIn = (text: string, stack: string) =>
                [...text.matchAll(/"(urn:pulumi:[^"]+)"/g)].map((m) =>
                    m[1]
                        .split("\\$")
                        .map((part) => part.replaceAll("$stack", stack))
                        .join("$"),
                );
            const urnsFor = (stack: string) =>
                stack === "bravo" ? urnsIn(section, stack) : urnsIn(section.replace(rootOnly, ""), stack);
            expect(section).toMatch(/pulumi destroy --stack \$stack/);
            for (const [stack, count] of [
                ["alpha", 2],
                ["bravo", 4],
            ] as const) {
                const protectedUrns = resources(stack)
                    .filter((r) => r.protect)
                    .map((r) => r.urn);
                expect(protectedUrns).toHaveLength(count);
                expect(urnsFor(stack).sort()).toEqual(protectedUrns.sort());
            }
        },
    );

    test("the root role is on the second stack: bravo alone runs the registry and the issuer on the utility host", () => {
        const comp1 = (stack: string) =>
            resources(stack).filter((r) => ["zta:host:Registry", "zta:host:LabIssuer"].includes(r.type));
        expect(comp1("alpha")).toEqual([]);
        expect(comp1("bravo").map((r) => r.type)).toEqual(["zta:host:Registry", "zta:host:LabIssuer"]);
    });
});
