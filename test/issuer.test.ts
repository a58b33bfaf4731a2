// The lab's OIDC issuer as the offline plan shows it: Keycloak on comp1 run by
// the root stack, its certificate from the lab-services CA, the CA istiod trusts for
// the JWKS fetch equal to the issuer's CA (or to the configured CA of an
// external issuer), the generated client as the enforced audience.
import * as fs from "fs";
import * as path from "path";
import { realmImport } from "../components/issuer";
import { PlannedResource } from "../offline/engine/record";
import { LabPlan, StackPlan } from "../offline/planner/lab";
import { ConfigError } from "../stacks/config/messages";
import { parseLabConfig } from "../stacks/config/parse";
import { findResource, labDirWith, planOf, rawConfig, REPO, resourcesOfType, stackOf } from "./helpers";
import { mockCertName } from "./mock-certs";

const COMMAND = "command:remote:Command";
const SIGNED = "tls:index/locallySignedCert:LocallySignedCert";
const CSR = "tls:index/certRequest:CertRequest";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const REQUEST_AUTHN = "kubernetes:security.istio.io/v1:RequestAuthentication";
const EXTERNAL_CA = fs.readFileSync(path.join(__dirname, "fixtures/verify/other-root.pem"), "utf8");

const istiodValues = (plan: StackPlan) =>
    (resourcesOfType(plan, RELEASE).find((r) => r.inputs.name === "istiod") as PlannedResource).inputs.values as Record<
        string,
        any
    >;
const jwtRules = (plan: StackPlan) =>
    (resourcesOfType(plan, REQUEST_AUTHN)[0].inputs.spec as { jwtRules: Record<string, unknown>[] }).jwtRules;

let lab: LabPlan;
let external: LabPlan;
beforeAll(async () => {
    lab = await planOf();
    external = await planOf(
        labDirWith((_s, raw) => {
            // Without audiences: the opt-in (any client of the issuer), which every preview warns about.
            raw.jwt = {
                issuer: "https://idp.example.org/realms/lab",
                jwksUri: "https://idp.example.org/realms/lab/protocol/openid-connect/certs",
                caCert: EXTERNAL_CA,
                allowAnyAudience: true,
            };
        }),
    );
});

describe("by default the root stack runs the issuer on comp1", () => {
    test("a Keycloak container at the pinned image, on comp1 (registry.host) over SSH, serving the configured port and realm", () => {
        const comp2 = stackOf(lab, "comp2");
        const container = findResource(comp2, COMMAND, "comp2-issuer-container");
        expect(container.inputs.create).toMatch(
            / 'issuer\/run\.sh' 'quay\.io\/keycloak\/keycloak:26\.8\.1' '10\.5\.0\.2' '9443' 'zta'$/,
        );
        expect(container.inputs.create).toMatch(/^sudo -n bash -c /);
        expect((container.inputs.triggers as string[])[0]).toBe("ssh://ubuntu@10.5.0.2:22");
        // The certificate, key and client secrets go on standard input, as a secret.
        expect(container.inputs.stdin).toBe("[secret]");
        expect(resourcesOfType(stackOf(lab, "comp3"), COMMAND).filter((r) => r.name.includes("issuer"))).toEqual([]);
    });

    test("a replaced container is removed before its successor starts: both are the one container zta-issuer, which the old one's delete would remove", () => {
        const container = findResource(stackOf(lab, "comp2"), COMMAND, "comp2-issuer-container");
        expect(container.inputs.delete).toMatch(/'issuer\/remove\.sh'/);
        expect(container.deleteBeforeReplace).toBe(true);
    });

    test("its certificate is signed by the lab-services CA (not the mesh root) for comp1's address; its URL is what the ingress validates", () => {
        const comp2 = stackOf(lab, "comp2");
        const cert = findResource(comp2, SIGNED, "comp2-issuer-cert");
        expect(mockCertName(cert.inputs.caCertPem)).toBe("MOCK-CERT(SelfSignedCert/comp2-lab-services-ca-cert)");
        expect(cert.dependsOn).toContain(
            findResource(comp2, "tls:index/selfSignedCert:SelfSignedCert", "comp2-lab-services-ca-cert").urn,
        );
        expect(findResource(comp2, CSR, "comp2-issuer-csr").inputs.ipAddresses).toEqual(["10.5.0.2"]);
        expect(comp2.outputs.issuer).toEqual({
            value: {
                url: "https://10.5.0.2:9443/realms/zta",
                tokenUrl: "https://10.5.0.2:9443/realms/zta/protocol/openid-connect/token",
                clientId: "zta-testbed",
                otherClientId: "zta-testbed-other-audience",
            },
            secret: false,
        });
        expect(comp2.outputs.issuerClientSecret.secret).toBe(true);
        expect(comp2.outputs.issuerOtherClientSecret.secret).toBe(true);
    });

    test.each(["comp2", "comp3"])(
        "%s: istiod's JWKS CA is the issuer's CA (the lab-services CA), and istiod on comp2 starts after the issuer",
        (stack) => {
            const issuerCa = findResource(stackOf(lab, "comp2"), SIGNED, "comp2-issuer-cert").inputs.caCertPem;
            expect(istiodValues(stackOf(lab, stack)).jwksResolverExtraRootCA).toBe(issuerCa);
            if (stack === "comp2") {
                const istiod = resourcesOfType(stackOf(lab, stack), RELEASE).find(
                    (r) => r.inputs.name === "istiod",
                ) as PlannedResource;
                expect(istiod.dependsOn).toContain(
                    findResource(stackOf(lab, stack), COMMAND, "comp2-issuer-container").urn,
                );
            }
        },
    );

    test.each(["comp2", "comp3"])(
        "%s: the ingress accepts the lab issuer's tokens for the generated client only",
        (stack) => {
            expect(jwtRules(stackOf(lab, stack))).toEqual([
                {
                    issuer: "https://10.5.0.2:9443/realms/zta",
                    jwksUri: "https://10.5.0.2:9443/realms/zta/protocol/openid-connect/certs",
                    audiences: ["zta-testbed"],
                },
            ]);
        },
    );

    test("the realm import: confidential clients, client-credentials only, whose tokens each carry their own id as audience", () => {
        const realm = realmImport("zta", [
            { clientId: "zta-testbed", secret: "s3cret" },
            { clientId: "zta-testbed-other-audience", secret: "0ther" },
        ]);
        expect(realm).toMatchObject({ realm: "zta", enabled: true, sslRequired: "all" });
        expect(realm.clients.map((c) => [c.clientId, c.secret])).toEqual([
            ["zta-testbed", "s3cret"],
            ["zta-testbed-other-audience", "0ther"],
        ]);
        for (const client of realm.clients) {
            expect(client).toMatchObject({
                publicClient: false,
                serviceAccountsEnabled: true,
                standardFlowEnabled: false,
                directAccessGrantsEnabled: false,
            });
            expect(client.protocolMappers).toEqual([
                expect.objectContaining({
                    protocolMapper: "oidc-audience-mapper",
                    config: expect.objectContaining({
                        "included.client.audience": client.clientId,
                        "access.token.claim": "true",
                    }),
                }),
            ]);
        }
    });

    test("no admin: no admin password is made or exported, and Keycloak runs without its admin console and admin API, on a named database", () => {
        const comp2 = stackOf(lab, "comp2");
        expect(comp2.outputs.issuerAdminPassword).toBeUndefined();
        expect(resourcesOfType(comp2, "random:index/randomPassword:RandomPassword").map((r) => r.name)).not.toContain(
            "comp2-issuer-admin-password",
        );
        expect(
            findResource(comp2, "random:index/randomPassword:RandomPassword", "comp2-issuer-other-client-secret")
                .parent,
        ).toBe(findResource(comp2, "zta:host:LabIssuer", "comp2-issuer").urn);
        const run = fs.readFileSync(path.join(REPO, "scripts", "issuer", "run.sh"), "utf8");
        // Keycloak's bootstrap-admin variables (keycloak.org, "Bootstrapping an admin account") appear nowhere but in a comment.
        expect(
            run.split("\n").filter((l) => !l.trimStart().startsWith("#") && /KC_BOOTSTRAP_ADMIN|--env-file/.test(l)),
        ).toEqual([]);
        expect(run).toMatch(/rm -f "\$base\/admin\.env"/);
        // Keycloak's feature names: `admin` is the admin console, `admin-api` the REST API it calls.
        expect(run).toMatch(/"\$image" start \\\n\s+--db=dev-file \\\n\s+--features-disabled=admin,admin-api \\\n/);
    });
});

describe("the federated model: each stack has its own root, the issuer's CA is the root stack's lab-services CA", () => {
    let federated: LabPlan;
    beforeAll(async () => {
        federated = await planOf(
            labDirWith((stack, raw) => {
                raw.mesh.trustModel = "federated";
                raw.cluster.trustDomain = `${stack === "comp2" ? "cluster1" : "cluster2"}.zta.lab`;
            }),
        );
    });

    test("comp3's istiod trusts comp2's lab-services CA for the JWKS fetch, no mesh root", () => {
        const issuerCa = findResource(stackOf(federated, "comp2"), SIGNED, "comp2-issuer-cert").inputs.caCertPem;
        expect(mockCertName(issuerCa)).toBe("MOCK-CERT(SelfSignedCert/comp2-lab-services-ca-cert)");
        const comp3 = stackOf(federated, "comp3");
        expect(mockCertName(comp3.outputs.rootCaCert.value)).toBe("MOCK-CERT(SelfSignedCert/comp3-pki-root-cert)");
        expect(istiodValues(comp3).jwksResolverExtraRootCA).toBe(issuerCa);
        expect(istiodValues(stackOf(federated, "comp2")).jwksResolverExtraRootCA).toBe(issuerCa);
    });
});

describe("an external issuer", () => {
    test.each(["comp2", "comp3"])(
        "%s: istiod trusts exactly the configured CA for the JWKS fetch, and no issuer runs on comp1",
        (stack) => {
            const plan = stackOf(external, stack);
            expect(istiodValues(plan).jwksResolverExtraRootCA).toBe(EXTERNAL_CA);
            expect(resourcesOfType(plan, COMMAND).filter((r) => r.name.includes("issuer"))).toEqual([]);
            expect(plan.outputs.issuer).toBeUndefined();
            expect(jwtRules(plan)).toEqual([
                {
                    issuer: "https://idp.example.org/realms/lab",
                    jwksUri: "https://idp.example.org/realms/lab/protocol/openid-connect/certs",
                },
            ]);
            // jwt.allowAnyAudience is the opt-in for that: every preview says so.
            expect(plan.warnings).toContain(
                "zta-testbed:jwt.allowAnyAudience is true: the ingress accepts a token https://idp.example.org/realms/lab signs for any of its clients (no audience check)",
            );
        },
    );
});

describe("bad issuer input is refused before anything is declared, naming the key", () => {
    const parse = (jwt: Record<string, unknown>) => () =>
        parseLabConfig("comp2", { ...rawConfig("comp2"), jwt }, new Set(["sshPrivateKey"]));
    test.each([
        [
            "an external issuer without its CA certificate",
            { issuer: "https://idp.example.org/realms/lab", jwksUri: "https://idp.example.org/realms/lab/certs" },
            /zta-testbed:jwt\.caCert is not set: give the PEM certificate of the CA that signed https:\/\/idp\.example\.org\/realms\/lab's certificate/,
        ],
        [
            "an http:// issuer",
            {
                issuer: "http://idp.example.org/realms/lab",
                jwksUri: "https://idp.example.org/realms/lab/certs",
                caCert: EXTERNAL_CA,
            },
            /zta-testbed:jwt\.issuer = "http:\/\/idp\.example\.org\/realms\/lab": expected an https:\/\/ URL/,
        ],
        [
            "an http:// JWKS URI",
            {
                issuer: "https://idp.example.org/realms/lab",
                jwksUri: "http://idp.example.org/certs",
                caCert: EXTERNAL_CA,
            },
            /zta-testbed:jwt\.jwksUri = "http:\/\/idp\.example\.org\/certs": expected an https:\/\/ URL/,
        ],
        [
            "a CA certificate that is not PEM",
            {
                issuer: "https://idp.example.org/realms/lab",
                jwksUri: "https://idp.example.org/certs",
                caCert: "not a certificate",
            },
            /zta-testbed:jwt\.caCert = "not a certificate": expected a PEM certificate/,
        ],
        [
            "an external issuer without its JWKS URI",
            { issuer: "https://idp.example.org/realms/lab", caCert: EXTERNAL_CA },
            /zta-testbed:jwt\.jwksUri is not set: give the https:\/\/ URL of https:\/\/idp\.example\.org\/realms\/lab's signing keys/,
        ],
    ])("%s", (_what, jwt, message) => {
        expect(parse(jwt)).toThrow(ConfigError);
        expect(parse(jwt)).toThrow(message);
    });
});
