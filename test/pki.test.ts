// The lab PKI as a security engineer would check it: every cluster's CA keys are
// made in that cluster's stack and never leave it (only signing requests and
// certificates cross), the root signs what each cluster asked for, the federated
// model gives every trust domain its own root, and a brought root replaces the
// generated one.
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { assembleIntermediates } from "../components/pki";
import { LabPlan } from "../offline/planner/lab";
import { PlannedResource } from "../offline/engine/record";
import { findResource, labDirWith, planOf, resourcesOfType, stackOf } from "./helpers";
import { mockCertName, mockCsrName, parseCsr } from "./mock-certs";

const KEY = "tls:index/privateKey:PrivateKey";
const SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert";
const SIGNED = "tls:index/locallySignedCert:LocallySignedCert";
const CSR = "tls:index/certRequest:CertRequest";
const CLUSTER = { comp2: "cluster1", comp3: "cluster2" } as const;
const STACKS = Object.keys(CLUSTER) as (keyof typeof CLUSTER)[];
// What the mock runtime returns for a key (offline/engine/mocks.ts), and what a real PEM key starts with.
const KEY_MATERIAL = /MOCK-PRIVATE-KEY|PRIVATE KEY/;

/** Both stacks in the federated trust model, one trust domain per cluster. */
const federatedDir = () =>
    labDirWith((stack, raw) => {
        raw.mesh.trustModel = "federated";
        raw.cluster.trustDomain = `${CLUSTER[stack as keyof typeof CLUSTER]}.zta.lab`;
    });

let shared: LabPlan;
let federated: LabPlan;
beforeAll(async () => {
    // One after the other: the mock runtime is one per process.
    shared = await planOf();
    federated = await planOf(federatedDir());
});

/** The lab's server keys and certificates (the registry's and the issuer's on comp1, the ingress gateway's) and the lab-services CA that signs comp1's: not the mesh PKI. */
const notServerLeaf = (r: PlannedResource) =>
    !["-registry-", "-issuer-", "-ingress-tls-", "-lab-services-ca-"].some((leaf) => r.name.includes(leaf));

/** The component a resource was declared in (its parent's URN ends in its type and name). */
const parentOf = (plan: { resources: PlannedResource[] }, r: PlannedResource) =>
    plan.resources.find((p) => p.urn === r.parent);

describe.each([
    ["shared", () => shared],
    ["federated", () => federated],
])("keys stay in the stack that made them (%s trust model)", (_model, lab) => {
    test.each(STACKS)("%s: no stack output, secret or not, holds key material", (stack) => {
        const outputs = stackOf(lab(), stack).outputs;
        expect(Object.keys(outputs).length).toBeGreaterThan(5);
        for (const [name, output] of Object.entries(outputs))
            expect([name, JSON.stringify(output.value)]).toEqual([name, expect.not.stringMatching(KEY_MATERIAL)]);
    });

    test.each(STACKS)("%s: makes its own cluster's two intermediate keys, and no key for another cluster", (stack) => {
        const plan = stackOf(lab(), stack);
        const own = CLUSTER[stack];
        const keys = resourcesOfType(plan, KEY).filter(notServerLeaf);
        const intermediateKeys = keys.filter((k) => parentOf(plan, k)?.type === "zta:pki:ClusterCa");
        expect(intermediateKeys.map((k) => k.name).sort()).toEqual([`${stack}-ca-istio-key`, `${stack}-ca-spire-key`]);
        // Any other key is a root's, under the stack's own Pki.
        for (const k of keys.filter((x) => !intermediateKeys.includes(x)))
            expect([k.name, parentOf(plan, k)?.type]).toEqual([`${stack}-pki-root-key`, "zta:pki:Pki"]);
        // The requests made from these keys name this cluster and no other.
        const subjects = resourcesOfType(plan, CSR)
            .filter(notServerLeaf)
            .map((c) => (c.inputs.subject as { commonName: string }).commonName);
        expect(subjects.sort()).toEqual([`Istio intermediate CA ${own}`, `SPIRE upstream CA ${own}`]);
    });
});

describe("the shared model: the root stack signs every cluster's own requests", () => {
    test.each(["cluster1", "cluster2"])(
        "%s: an Istio and a SPIRE intermediate, signed by comp2's root from the request its own stack made",
        (cluster) => {
            const comp2 = stackOf(shared, "comp2");
            const rootUrn = findResource(comp2, SELF_SIGNED, "comp2-pki-root-cert").urn;
            const requester = cluster === "cluster1" ? "comp2" : "comp3";
            for (const kind of ["istio", "spire"]) {
                const cert = findResource(comp2, SIGNED, `comp2-pki-${cluster}-${kind}-cert`);
                expect(mockCsrName(cert.inputs.certRequestPem)).toBe(
                    `MOCK-CSR(CertRequest/${requester}-ca-${kind}-csr)`,
                );
                expect(mockCertName(cert.inputs.caCertPem)).toBe("MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)");
                expect(cert.inputs.caPrivateKeyPem).toBe("[secret]");
                expect(cert.dependsOn).toContain(rootUrn);
                expect(cert.inputs.isCaCertificate).toBe(true);
                expect(cert.inputs.allowedUses).toEqual(expect.arrayContaining(["cert_signing", "crl_signing"]));
                expect(cert.protect).toBe(false);
            }
        },
    );

    test("SPIRE's upstream intermediate allows exactly one CA below it (the SPIRE server's); Istio's asks for no path length, which the TLS provider could not write as 0", () => {
        const comp2 = stackOf(shared, "comp2");
        for (const cluster of ["cluster1", "cluster2"]) {
            expect(findResource(comp2, SIGNED, `comp2-pki-${cluster}-spire-cert`).inputs.maxPathLength).toBe(1);
            // terraform-provider-tls sets x509 MaxPathLen but never MaxPathLenZero, and Go writes MaxPathLen 0 without it as "no constraint" (docs/pki.md, "Path lengths").
            expect(findResource(comp2, SIGNED, `comp2-pki-${cluster}-istio-cert`).inputs.maxPathLength).toBeUndefined();
        }
    });

    test("intermediates live a year and are re-issued in their last 30 days; no input depends on the time of the run", () => {
        const certs = resourcesOfType(stackOf(shared, "comp2"), SIGNED).filter((c) => c.name.startsWith("comp2-pki-"));
        expect(certs).toHaveLength(4);
        for (const cert of certs) {
            expect([cert.name, cert.inputs.validityPeriodHours, cert.inputs.earlyRenewalHours]).toEqual([
                cert.name,
                8760,
                720,
            ]);
        }
    });

    test("the generated root is protected with its key, a CA for signing only", () => {
        const comp2 = stackOf(shared, "comp2");
        const root = findResource(comp2, SELF_SIGNED, "comp2-pki-root-cert");
        expect(root.protect).toBe(true);
        expect(findResource(comp2, KEY, "comp2-pki-root-key").protect).toBe(true);
        expect(root.inputs.isCaCertificate).toBe(true);
        expect(root.inputs.privateKeyPem).toBe("[secret]");
    });

    test("what crosses: comp3's requests to comp2, comp2's certificates and root to comp3, all public", () => {
        const c2 = stackOf(shared, "comp2").outputs;
        const c3 = stackOf(shared, "comp3").outputs;
        expect(c3.signingRequests.secret).toBe(false);
        const requests = c3.signingRequests.value as Record<string, string>;
        expect(Object.fromEntries(Object.entries(requests).map(([k, pem]) => [k, mockCsrName(pem)]))).toEqual({
            istio: "MOCK-CSR(CertRequest/comp3-ca-istio-csr)",
            spire: "MOCK-CSR(CertRequest/comp3-ca-spire-csr)",
        });
        expect(c2.signedIntermediates.secret).toBe(false);
        const cluster2 = (c2.signedIntermediates.value as Record<string, Record<string, string>>).cluster2;
        expect(Object.fromEntries(Object.entries(cluster2).map(([k, pem]) => [k, mockCertName(pem)]))).toEqual({
            istio: "MOCK-CERT(LocallySignedCert/comp2-pki-cluster2-istio-cert)",
            spire: "MOCK-CERT(LocallySignedCert/comp2-pki-cluster2-spire-cert)",
        });
        // Each certificate carries the public key of the request of its kind, and the two requests are for two keys.
        for (const kind of ["istio", "spire"]) {
            const certKey = new X509Certificate(cluster2[kind]).publicKey.export({ type: "spki", format: "der" });
            expect([kind, certKey.equals(parseCsr(requests[kind]).publicKey)]).toEqual([kind, true]);
        }
        expect(parseCsr(requests.istio).publicKey.equals(parseCsr(requests.spire).publicKey)).toBe(false);
        expect({ ...c3.rootCaCert, value: mockCertName(c3.rootCaCert.value) }).toEqual({
            secret: false,
            value: "MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)",
        });
        // comp3 signs no CA and owns no root (its ingress leaf is signed by its own Istio intermediate, test/ingress-tls.test.ts).
        expect(resourcesOfType(stackOf(shared, "comp3"), SIGNED).filter(notServerLeaf)).toEqual([]);
        expect(resourcesOfType(stackOf(shared, "comp3"), "zta:pki:Pki")).toEqual([]);
        expect(c3.signedIntermediates).toBeUndefined();
    });

    test("each stack assembles cacerts and SPIRE's upstream files from its own key, its signed certificate and the root", () => {
        const files = assembleIntermediates(
            { istio: "ISTIO-KEY", spire: "SPIRE-KEY" },
            { istio: "ISTIO-CERT\n", spire: "SPIRE-CERT" },
            "ROOT\n",
        );
        expect(files.istio).toEqual({
            "ca-cert.pem": "ISTIO-CERT\n",
            "ca-key.pem": "ISTIO-KEY",
            "root-cert.pem": "ROOT\n",
            "cert-chain.pem": "ISTIO-CERT\nROOT\n",
        });
        expect(files.spire).toEqual({ "tls.crt": "SPIRE-CERT", "tls.key": "SPIRE-KEY", "bundle.crt": "ROOT\n" });
        for (const stack of STACKS) {
            expect(
                findResource(stackOf(shared, stack), "kubernetes:core/v1:Secret", `${stack}-istio-cacerts`).inputs
                    .stringData,
            ).toBe("[secret]");
        }
    });
});

describe.each([
    ["shared", () => shared],
    ["federated", () => federated],
])("comp1's servers (%s trust model): their own CA, never the mesh root", (_model, lab) => {
    test("the registry's and the issuer's certificates are issued by the root-role stack's lab-services CA, which signs nothing else", () => {
        const comp2 = stackOf(lab(), "comp2");
        const servicesCa = findResource(comp2, SELF_SIGNED, "comp2-lab-services-ca-cert");
        const signedByServicesCa = resourcesOfType(comp2, SIGNED).filter((c) => c.dependsOn.includes(servicesCa.urn));
        expect(signedByServicesCa.map((c) => c.name).sort()).toEqual(["comp2-issuer-cert", "comp2-registry-cert"]);
        for (const cert of signedByServicesCa) {
            expect(mockCertName(cert.inputs.caCertPem)).toBe("MOCK-CERT(SelfSignedCert/comp2-lab-services-ca-cert)");
            expect(cert.dependsOn).not.toContain(findResource(comp2, SELF_SIGNED, "comp2-pki-root-cert").urn);
            expect(cert.inputs.isCaCertificate).not.toBe(true);
        }
        // Protected like the lab root, with its key; the peer-role stack has none.
        expect(servicesCa.protect).toBe(true);
        expect(findResource(comp2, KEY, "comp2-lab-services-ca-key").protect).toBe(true);
        expect(servicesCa.inputs.isCaCertificate).toBe(true);
        expect(resourcesOfType(stackOf(lab(), "comp3"), "zta:pki:LabServicesCa")).toEqual([]);
    });

    test("its certificate crosses to the peer as the public output labServicesCaCert, which the peer uses for its registry trust", () => {
        const out = stackOf(lab(), "comp2").outputs.labServicesCaCert;
        expect({ ...out, value: mockCertName(out.value) }).toEqual({
            secret: false,
            value: "MOCK-CERT(SelfSignedCert/comp2-lab-services-ca-cert)",
        });
        expect(stackOf(lab(), "comp3").outputs.usedFromPeer.value).toMatchObject({
            cluster1: expect.arrayContaining(["labServicesCaCert"]),
        });
        expect(stackOf(lab(), "comp3").outputs.labServicesCaCert).toBeUndefined();
    });

    test("comp1's certificates live two years and are re-issued in their last 30 days by the root stack's next `pulumi up`", () => {
        for (const name of ["comp2-registry-cert", "comp2-issuer-cert"]) {
            const cert = findResource(stackOf(lab(), "comp2"), SIGNED, name);
            expect([name, cert.inputs.validityPeriodHours, cert.inputs.earlyRenewalHours]).toEqual([name, 17520, 720]);
        }
    });
});

describe("the federated model: a root per trust domain, nothing signed across", () => {
    test("the two stacks' roots differ, and each is its own stack's protected self-signed root", () => {
        const roots = STACKS.map((s) => stackOf(federated, s).outputs.rootCaCert.value);
        expect(roots.map(mockCertName)).toEqual([
            "MOCK-CERT(SelfSignedCert/comp2-pki-root-cert)",
            "MOCK-CERT(SelfSignedCert/comp3-pki-root-cert)",
        ]);
        expect(new Set(roots).size).toBe(2);
        for (const s of STACKS)
            expect(findResource(stackOf(federated, s), SELF_SIGNED, `${s}-pki-root-cert`).protect).toBe(true);
    });

    test("each generated root names its own trust domain in its subject, so the two roots differ by name as well as by key", () => {
        const subjects = STACKS.map(
            (s) => findResource(stackOf(federated, s), SELF_SIGNED, `${s}-pki-root-cert`).inputs.subject,
        );
        expect(subjects).toEqual([
            { commonName: "zta-testbed root CA cluster1.zta.lab", organization: "zta-testbed" },
            { commonName: "zta-testbed root CA cluster2.zta.lab", organization: "zta-testbed" },
        ]);
        // The shared model's one root names the lab's one trust domain.
        expect(findResource(stackOf(shared, "comp2"), SELF_SIGNED, "comp2-pki-root-cert").inputs.subject).toEqual({
            commonName: "zta-testbed root CA zta.lab",
            organization: "zta-testbed",
        });
    });

    test.each(STACKS)(
        "%s: its SPIRE and Istio intermediates are signed by its own root, for its own cluster only",
        (stack) => {
            const plan = stackOf(federated, stack);
            const signed = resourcesOfType(plan, SIGNED).filter(notServerLeaf);
            expect(signed.map((c) => c.name).sort()).toEqual([
                `${stack}-pki-${CLUSTER[stack]}-istio-cert`,
                `${stack}-pki-${CLUSTER[stack]}-spire-cert`,
            ]);
            for (const cert of signed) {
                expect(mockCertName(cert.inputs.caCertPem)).toBe(`MOCK-CERT(SelfSignedCert/${stack}-pki-root-cert)`);
                expect(mockCsrName(cert.inputs.certRequestPem)).toMatch(
                    new RegExp(`^MOCK-CSR\\(CertRequest/${stack}-ca-`),
                );
            }
            // The upstream chain SPIRE hands out ends at the root the stack exports (bundle.crt = rootCaCert, see assembleIntermediates).
            expect(mockCertName(plan.outputs.rootCaCert.value)).toBe(
                `MOCK-CERT(SelfSignedCert/${stack}-pki-root-cert)`,
            );
        },
    );

    test("no signing requests or signed certificates cross: only the public federation and root", () => {
        for (const s of STACKS) {
            const outputs = stackOf(federated, s).outputs;
            expect(outputs.signingRequests).toBeUndefined();
            expect(outputs.signedIntermediates).toBeUndefined();
            expect(outputs.federation.secret).toBe(false);
        }
    });
});

describe("bring your own root", () => {
    const fixtureRoot = fs.readFileSync(path.join(__dirname, "fixtures", "verify", "lab-root.pem"), "utf8");
    let brought: LabPlan;
    beforeAll(async () => {
        brought = await planOf(
            labDirWith((stack, raw) => {
                if (stack === "comp2") raw.pki.rootCaCert = fixtureRoot;
            }),
        );
    });

    test("no root is generated; the intermediates are signed with the brought certificate and key", () => {
        const comp2 = stackOf(brought, "comp2");
        // The one self-signed CA left is the lab-services CA, which signs comp1's servers only.
        expect(resourcesOfType(comp2, SELF_SIGNED).map((c) => c.name)).toEqual(["comp2-lab-services-ca-cert"]);
        expect(
            resourcesOfType(comp2, KEY)
                .filter(notServerLeaf)
                .map((k) => k.name)
                .sort(),
        ).toEqual(["comp2-ca-istio-key", "comp2-ca-spire-key"]);
        // The four intermediates; comp1's certificates stay with the lab-services CA, the ingress leaf with the Istio intermediate.
        const certs = resourcesOfType(comp2, SIGNED).filter(notServerLeaf);
        expect(certs).toHaveLength(4);
        for (const cert of certs) {
            expect(cert.inputs.caCertPem).toBe(fixtureRoot);
            expect(cert.inputs.caPrivateKeyPem).toBe("[secret]");
        }
        for (const name of ["comp2-registry-cert", "comp2-issuer-cert"])
            expect(mockCertName(findResource(comp2, SIGNED, name).inputs.caCertPem)).toBe(
                "MOCK-CERT(SelfSignedCert/comp2-lab-services-ca-cert)",
            );
        expect(mockCertName(findResource(comp2, SIGNED, "comp2-istio-ingress-tls-cert").inputs.caCertPem)).toBe(
            "MOCK-CERT(LocallySignedCert/comp2-pki-cluster1-istio-cert)",
        );
        expect(comp2.outputs.rootCaCert.value).toBe(fixtureRoot);
        expect(stackOf(brought, "comp3").outputs.rootCaCert.value).toBe(fixtureRoot);
    });

    test("a brought root that fits the lab (pathLenConstraint 2, keyCertSign, URIs permitted under zta.lab only) is taken", async () => {
        const fitting = fs.readFileSync(path.join(__dirname, "fixtures", "brought-root", "good-root.pem"), "utf8");
        const lab = await planOf(labDirWith((stack, raw) => stack === "comp2" && (raw.pki.rootCaCert = fitting)));
        expect(stackOf(lab, "comp3").outputs.rootCaCert.value).toBe(fitting);
    });

    test("its key is a secret stand-in in the plan and reaches no output", () => {
        const comp2 = stackOf(brought, "comp2");
        expect(comp2.standIns).toContain("zta-testbed:rootCaKey");
        for (const s of STACKS)
            expect(JSON.stringify(stackOf(brought, s).outputs)).not.toMatch(
                /STAND-IN\(zta-testbed:rootCaKey|MOCK-PRIVATE-KEY/,
            );
    });
});
