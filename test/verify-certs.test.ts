// The workload-certificate check's X.509 logic, on certificates made with OpenSSL
// (test/fixtures/verify/README.md): SAN, signature chain to the lab root, validity.
import { X509Certificate } from "crypto";
import { readFileSync } from "fs";
import * as path from "path";
import { chainProblems, parsePemBundle, proxySecretsFromConfigDump, trustsRoot, uriSans } from "../verify/certs";

const fixture = (name: string) => readFileSync(path.join(__dirname, "fixtures", "verify", name), "utf8");
const cert = (name: string) => new X509Certificate(fixture(name));

const root = cert("lab-root.pem");
const intermediate = cert("cluster-intermediate.pem");
// The SAN the fixture leaf carries: Istio's workload SPIFFE ID for sample/curl in zta.lab.
const curlId = "spiffe://zta.lab/ns/sample/sa/curl";
const now = new Date("2030-01-01T00:00:00Z");

describe("a workload certificate chains to the lab root", () => {
    test("the curl SVID with its intermediate chains to the lab root and carries its SPIFFE ID", () => {
        expect(uriSans(cert("curl-leaf.pem"))).toEqual(["spiffe://zta.lab/ns/sample/sa/curl"]);
        expect(chainProblems([cert("curl-leaf.pem"), intermediate], root, curlId, now)).toEqual([]);
    });

    test("a chain that also carries the root itself is accepted", () => {
        expect(chainProblems([cert("curl-leaf.pem"), intermediate, root], root, curlId, now)).toEqual([]);
    });

    test("a leaf whose URI SAN is another identity is refused, naming both", () => {
        const problems = chainProblems([cert("wrong-san-leaf.pem"), intermediate], root, curlId, now);
        expect(problems).toEqual([`leaf URI SANs are [spiffe://other.lab/ns/default/sa/curl], expected ${curlId}`]);
    });

    test("a leaf from another root is refused even with the right SAN", () => {
        const problems = chainProblems([cert("other-root-leaf.pem"), cert("other-root.pem")], root, curlId, now);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(/not signed by the lab root or by a CA in its chain/);
    });

    test("an issuer name that matches the intermediate is not enough: the key ids must match", () => {
        const forged = cert("forged-issuer-leaf.pem");
        expect(forged.issuer).toBe(intermediate.subject);
        expect(forged.checkIssued(intermediate)).toBe(false);
        const problems = chainProblems([forged, intermediate], root, curlId, now);
        expect(problems).toEqual([expect.stringMatching(/is not signed by the lab root/)]);
    });

    test("issuer name and key id that match the intermediate are not enough: the signature must verify", () => {
        const forged = cert("forged-signature-leaf.pem");
        // The genuine leaf's signed bytes, so it passes every check before the signature's.
        expect(forged.checkIssued(intermediate)).toBe(true);
        expect(uriSans(forged)).toEqual([curlId]);
        expect(forged.verify(intermediate.publicKey)).toBe(false);
        const problems = chainProblems([forged, intermediate], root, curlId, now);
        expect(problems).toEqual([
            '"O=SPIRE" names "O=zta-testbed fixture\nCN=Fixture cluster1 Intermediate CA" as its issuer, but its signature does not verify with that CA\'s key',
        ]);
    });

    test("a chain without its intermediate does not reach the root", () => {
        expect(chainProblems([cert("curl-leaf.pem")], root, curlId, now)).toEqual([
            expect.stringMatching(/not signed by the lab root/),
        ]);
    });

    test("an expired certificate is refused", () => {
        const problems = chainProblems(
            [cert("curl-leaf.pem"), intermediate],
            root,
            curlId,
            new Date("2040-01-01T00:00:00Z"),
        );
        expect(problems).toEqual([expect.stringMatching(/^"O=SPIRE" is not valid at 2040-01-01/)]);
    });

    test("a CA certificate is not accepted as the workload's leaf", () => {
        expect(chainProblems([intermediate], root, curlId, now)).toContain("the leaf is a CA certificate");
    });

    test("no certificate at all is a problem, not a pass", () => {
        expect(chainProblems([], root, curlId, now)).toEqual(["the proxy holds no workload certificate"]);
    });
});

describe("the lab root is its key, not its name", () => {
    // impostor-root.pem is lab-root.pem in every field but its key (subject, serial, key ids
    // included), and impostor-intermediate.pem the cluster intermediate signed by that key.
    const impostor = cert("impostor-root.pem");
    const impostorIntermediate = cert("impostor-intermediate.pem");

    test("the impostor has the lab root's subject and key id, and is a self-signed CA of its own", () => {
        expect(impostor.subject).toBe(root.subject);
        expect(impostor.checkIssued(impostor) && impostor.verify(impostor.publicKey)).toBe(true);
        expect(impostor.fingerprint256).not.toBe(root.fingerprint256);
    });

    test("a chain that ends at a root with the lab root's subject and another key is refused, naming both fingerprints", () => {
        const problems = chainProblems([cert("curl-leaf.pem"), impostorIntermediate, impostor], root, curlId, now);
        expect(problems).toEqual([
            `"${root.subject}" has the lab root's subject but another key (SHA-256 fingerprint ${impostor.fingerprint256}, the lab root's ${root.fingerprint256})`,
        ]);
    });

    test("without the impostor in the chain, its intermediate names the lab root but the lab root's key did not sign it", () => {
        const problems = chainProblems([cert("curl-leaf.pem"), impostorIntermediate], root, curlId, now);
        expect(problems).toEqual([
            `"${intermediate.subject}" names "${root.subject}" as its issuer, but its signature does not verify with the lab root's key`,
        ]);
    });

    test("the same chain is good against the impostor as its root: only the key decides", () => {
        expect(chainProblems([cert("curl-leaf.pem"), impostorIntermediate], impostor, curlId, now)).toEqual([]);
        expect(chainProblems([cert("curl-leaf.pem"), intermediate], impostor, curlId, now)).toEqual([
            `"${intermediate.subject}" names "${root.subject}" as its issuer, but its signature does not verify with the lab root's key`,
        ]);
    });

    test("a proxy that trusts the impostor does not trust the lab root", () => {
        expect(trustsRoot([impostor], root)).toBe(false);
        expect(trustsRoot([impostor, root], root)).toBe(true);
    });
});

describe("the proxy's certificates come out of Envoy's config dump", () => {
    test("a SPIRE-fed proxy: chain from `default`, roots from the SPIFFE validator's trust bundles", () => {
        const secrets = proxySecretsFromConfigDump(fixture("envoy-secrets-spire.json"));
        expect(secrets.chain.map((c) => c.subject)).toEqual(["O=SPIRE", intermediate.subject]);
        expect(trustsRoot(secrets.roots, root)).toBe(true);
        expect(chainProblems(secrets.chain, root, curlId, now)).toEqual([]);
    });

    test("the ?resource=dynamic_active_secrets form with ROOTCA as trusted_ca", () => {
        const secrets = proxySecretsFromConfigDump(fixture("envoy-secrets-filtered.json"));
        expect(secrets.chain).toHaveLength(2);
        expect(secrets.roots.map((r) => r.fingerprint256)).toEqual([root.fingerprint256]);
    });

    test("a proxy that trusts another root is detected", () => {
        expect(trustsRoot(parsePemBundle(fixture("other-root.pem")), root)).toBe(false);
    });

    test("a dump without secrets yields no certificates", () => {
        const secrets = proxySecretsFromConfigDump(JSON.stringify({ configs: [] }));
        expect(secrets.chain).toEqual([]);
        expect(secrets.roots).toEqual([]);
    });
});
