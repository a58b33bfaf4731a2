// Issue 27: the guards on what operators type, as pure functions (stacks/config/values.ts).
// The refusals as `npm run plan` gives them, with file and key: test/bad-inputs.ts.
import {
    broadEgressReason,
    checkIssuerImage,
    checkStackName,
    checkWorkloadImage,
    WORKLOAD_IMAGE_REPOSITORIES,
    checkStackReference,
    hasUserinfo,
    privateKeyPaths,
    redactUserinfo,
    validityProblem,
} from "../stacks/config/values";
import { checkEgress, checkPathPrefix, parseEgress } from "../stacks/config/workload-fields";
import { DEFAULT_ALLOWED_REGISTRIES } from "../policy/policies/allowed-registries";

const LAB_REGISTRY = "10.5.0.2:8443";
const DIGEST = `sha256:${"ab".repeat(32)}`;

describe("stack names are Pulumi's, and never climb out of a folder", () => {
    // pulumi/pulumi sdk/go/common/tokens/stack_name.go: 1 to 100 of [A-Za-z0-9_.-].
    test.each(["comp2", "Comp_3", "lab.v2", "a", "x".repeat(100), "..."])("%s is a stack name", (name) =>
        expect(checkStackName(name)).toBeUndefined(),
    );
    test.each(["", ".", "..", "../x", "a/b", "a b", "x".repeat(101), "comp2;rm"])("%j is refused", (name) =>
        expect(checkStackName(name)).toMatch(/expected a Pulumi stack name/),
    );
});

describe("a roster entry names a stack of this project", () => {
    test.each(["comp3", "acme/zta-testbed/comp3"])("%s is accepted", (ref) =>
        expect(checkStackReference(ref, "zta-testbed")).toBeUndefined(),
    );
    test("another project's stack is refused, with the fix", () => {
        expect(checkStackReference("acme/other/comp3", "zta-testbed")).toBe(
            'names a stack of Pulumi project "other", not of this project "zta-testbed": write "acme/zta-testbed/comp3" or just "comp3"',
        );
    });
    test.each(["acme/comp3", "acme/zta-testbed/..", "a/b/c/d", "../comp3"])("%s is refused", (ref) =>
        expect(checkStackReference(ref, "zta-testbed")).toMatch(/expected/),
    );
});

describe("the issuer image is a pinned reference from Keycloak's registry or the lab registry", () => {
    test.each([
        "quay.io/keycloak/keycloak:26.4.7",
        `quay.io/keycloak/keycloak@${DIGEST}`,
        `quay.io/keycloak/keycloak:26.4.7@${DIGEST}`,
        `${LAB_REGISTRY}/keycloak/keycloak:26.4.7`,
        `${LAB_REGISTRY}/mirror/keycloak@${DIGEST}`,
    ])("%s is accepted", (image) => expect(checkIssuerImage(image, LAB_REGISTRY)).toBeUndefined());
    test.each([
        ["quay.io/keycloak/keycloak:latest", /pinned/],
        ["quay.io/keycloak/keycloak", /pinned/],
        ["quay.io/keycloak/keycloak:26.4", /pinned/],
        ["quay.io/keycloak/keycloak:nightly", /pinned/],
        ["keycloak/keycloak:26.4.7", /expected an image from "quay\.io" or "10\.5\.0\.2:8443"/],
        ["docker.io/keycloak/keycloak:26.4.7", /expected an image from/],
        ["10.5.0.2:5000/keycloak/keycloak:26.4.7", /expected an image from/],
        ["--privileged", /expected a container image reference/],
        ["-v/:/host quay.io/keycloak/keycloak:26.4.7", /expected a container image reference/],
        ["quay.io/Keycloak/keycloak:26.4.7", /expected a container image reference/],
        ["quay.io/keycloak/keycloak:26.4.7 --privileged", /expected a container image reference/],
        ["quay.io/keycloak/keycloak@sha256:abc", /expected a container image reference/],
    ])("%s is refused", (image, message) => expect(checkIssuerImage(image, LAB_REGISTRY)).toMatch(message));
});

describe("a workload's image is pinned, from the lab registry or an upstream repository of the samples", () => {
    test.each([
        `${LAB_REGISTRY}/flask-hello:1.0.0`,
        `${LAB_REGISTRY}/lab/flask-hello@${DIGEST}`,
        `docker.io/curlimages/curl:8.16.0@${DIGEST}`,
        "curlimages/curl:8.16.0",
        `registry.istio.io/release/examples-helloworld-v1@${DIGEST}`,
    ])("%s is accepted", (image) => expect(checkWorkloadImage(image, LAB_REGISTRY)).toBeUndefined());
    test.each([
        [`${LAB_REGISTRY}/flask-hello:latest`, /pinned/],
        [`${LAB_REGISTRY}/flask-hello`, /pinned/],
        // A two-part tag may move (Keycloak's "26.4" does): major.minor.patch or a digest.
        [`${LAB_REGISTRY}/flask-hello:1.0`, /pinned/],
        ["python:3.13.1", /expected an image from "10\.5\.0\.2:8443" or "docker\.io\/curlimages"/],
        ["docker.io/curlimagesx/curl:8.16.0", /expected an image from/],
        ["10.5.0.2:5000/flask-hello:1.0.0", /expected an image from/],
        ["--privileged", /expected a container image reference/],
    ])("%s is refused", (image, message) => expect(checkWorkloadImage(image, LAB_REGISTRY)).toMatch(message));

    test("every upstream repository it allows is one the policy pack's allowed-registries allows too", () => {
        for (const repository of WORKLOAD_IMAGE_REPOSITORIES)
            expect(DEFAULT_ALLOWED_REGISTRIES.some((p) => repository === p || repository.startsWith(`${p}/`))).toBe(
                true,
            );
    });
});

describe("a workload's ingress path and egress entries", () => {
    test.each(["/hello", "/api/v1", "/a.b_c~d-e/"])("%s is a path prefix", (p) =>
        expect(checkPathPrefix(p)).toBeUndefined(),
    );
    test.each(["/", "hello", "//x", "/a/../b", "/a b", "/a?b", ""])("%j is refused", (p) =>
        expect(checkPathPrefix(p)).toMatch(/expected a path below "\/"/),
    );
    test("an address is a /32, a CIDR stays one, each with its port", () => {
        expect(parseEgress("192.0.2.10:443")).toEqual({ cidr: "192.0.2.10/32", port: 443 });
        expect(parseEgress("192.0.2.0/28:5432")).toEqual({ cidr: "192.0.2.0/28", port: 5432 });
    });
    test.each(["192.0.2.10", "192.0.2.1/28:80", "192.0.2.10:0", "192.0.2.10:65536", "db.example:5432", "::1:80"])(
        "%s is refused",
        (e) => expect(checkEgress(e)).toMatch(/expected "<IPv4 address or CIDR>:<port>"/),
    );
});

describe("URLs with credentials are found, and never printed", () => {
    test.each(["https://u:p@idp.example/x", "https://u@idp.example/x", "http://:p@10.5.0.2:8080/charts"])(
        "%s carries credentials",
        (url) => expect(hasUserinfo(url)).toBe(true),
    );
    test.each(["https://idp.example/x", "https://idp.example/x?next=a@b"])("%s does not", (url) =>
        expect(hasUserinfo(url)).toBe(false),
    );
    test("the message shows the URL without them", () =>
        expect(redactUserinfo("https://admin:hunter2@idp.example/realms/x")).toBe("https://***@idp.example/realms/x"));
});

describe("a private key is found under any key", () => {
    test("in nested objects, lists and a hand-made {secure: ...}, by path", () => {
        const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        expect(
            privateKeyPaths({
                "zta-testbed:host": { keys: ["x", key] },
                other: { secure: key },
                cert: "-----BEGIN CERTIFICATE-----",
                secure: { secure: "v1:abc" },
            }),
        ).toEqual(["zta-testbed:host.keys[1]", "other.secure"]);
    });
});

describe("broad egress", () => {
    const machines = { "registry.host": "10.5.0.2", "host.address": "10.5.0.3" };
    test.each([
        ["0.0.0.0/0", "a /0 opens egress to every address"],
        ["10.0.0.0/8", "a /8 opens egress to 16777216 addresses"],
        ["172.16.0.0/16", "a /16 opens egress to 65536 addresses"],
        ["10.5.0.0/24", 'it holds the lab machine address registry.host = "10.5.0.2"'],
        ["10.5.0.3/32", 'it holds the lab machine address host.address = "10.5.0.3"'],
    ])("%s: %s", (cidr, reason) => expect(broadEgressReason(cidr, machines)).toBe(reason));
    test.each(["192.0.2.0/24", "172.16.0.0/17", "10.5.0.4/32"])("%s is narrow", (cidr) =>
        expect(broadEgressReason(cidr, machines)).toBeUndefined(),
    );
});

describe("a certificate's validity", () => {
    const fs = jest.requireActual<typeof import("fs")>("fs");
    const expired = fs.readFileSync(`${__dirname}/fixtures/guards/expired-issuer-ca.pem`, "utf8");
    const valid = fs.readFileSync(`${__dirname}/fixtures/verify/other-root.pem`, "utf8");
    test("an expired CA is named with its end date", () =>
        expect(validityProblem(expired)).toBe(
            "the certificate expired on Jan  1 00:00:00 2025 GMT: give the issuer CA's current certificate",
        ));
    test("a CA valid now passes; before its start it does not", () => {
        expect(validityProblem(valid)).toBeUndefined();
        expect(validityProblem(valid, Date.parse("2026-01-01T00:00:00Z"))).toMatch(
            /^the certificate is not valid before Nov 23 16:39:53 2026 GMT/,
        );
    });
});

describe("every config value that reaches a host script's command line is one plain word", () => {
    test("in the reference plan, each argument after the script's name is a quoted word of address, CIDR, port, version, name, path or image characters, none an option", async () => {
        const { planOf, stackOf } = await import("./helpers");
        const lab = await planOf();
        const args: string[] = [];
        for (const stack of ["comp2", "comp3"]) {
            for (const r of stackOf(lab, stack).resources.filter((x) => x.type === "command:remote:Command")) {
                for (const command of [r.inputs.create, r.inputs.delete].filter(
                    (c): c is string => typeof c === "string" && c.includes(" bash -c "),
                )) {
                    // sudo -n bash -c '<script>' '<name>' '<arg>'...: the words after the script's name (scripts/<dir>/<file>.sh).
                    const words = [...command.matchAll(/'((?:[^']|'\\'')*)'/g)].map((m) => m[1]);
                    const name = words.findIndex((w) => /^(host|issuer|registry)\/[a-z-]+\.sh$/.test(w));
                    expect(name).toBeGreaterThan(0);
                    args.push(...words.slice(name + 1));
                }
            }
        }
        expect(args.length).toBeGreaterThan(10);
        for (const arg of args) expect(arg).toMatch(/^[A-Za-z0-9_/][A-Za-z0-9._:/@-]*$/);
        // The issuer's image is among them: what issuer.image's check guards.
        expect(args).toContain("quay.io/keycloak/keycloak:26.8.1");
    });
});
