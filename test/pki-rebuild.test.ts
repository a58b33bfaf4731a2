// A peer-role stack rebuilt with new intermediate keys, as an operator would meet it:
// the root stack still exports certificates signed for the old requests, and the peer
// must not deploy a `cacerts` (or SPIRE's upstream CA) of a new key and an old
// certificate, which istiod and SPIRE refuse. It reads the requests it last exported
// through a StackReference to itself and compares their keys with the certificates'.
import { createPublicKey, X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { signedForOtherKeys } from "../components/pki";
import { evaluateStack, Evaluation } from "../offline/engine/evaluate";
import { mockCertificatePem, mockCsrPem, mockPrivateKey } from "../offline/engine/mock-cert";
import { StackOutputs } from "../offline/engine/record";
import { readStackConfig } from "../offline/planner/lab";
import { main } from "../stacks/main";
import { findResource, REPO, resourcesOfType } from "./helpers";

const SECRET = "kubernetes:core/v1:Secret";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const STACK_REFERENCE = "pulumi:pulumi:StackReference";
const SIGNED = "tls:index/locallySignedCert:LocallySignedCert";
/** The warning of a rebuilt peer: which stack to run, and what is left out meanwhile. */
const REBUILT =
    /root stack "comp2" signed this cluster's intermediates \(cluster2\) for other keys than this stack's \(rebuilt with new keys\?\): Istio's CA and SPIRE are left out until it signs the current requests; run `pulumi up --stack comp2`, then here again/;

const run = (stack: string, deployed: Record<string, StackOutputs> = {}): Promise<Evaluation> => {
    const file = readStackConfig(REPO, stack);
    return evaluateStack({
        project: "zta-testbed",
        stack,
        config: file.config,
        secretKeys: file.secretKeys,
        deployed,
        program: main,
    });
};

const names = (e: Evaluation, type: string) => resourcesOfType(e, type).map((r) => r.name);
/** Istio's `cacerts` and SPIRE's upstream CA: what a mismatched pair of key and certificate would break. */
const hasTrust = (e: Evaluation) =>
    ["comp3-istio-cacerts", "comp3-spire-upstream-ca"].map((n) => names(e, SECRET).includes(n));
const spki = (pem: string) => new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });

/** The PKCS #10 requests and certificates of keys this stack no longer has: what it exported and was signed before a rebuild. */
const OLD_KEY = (kind: string) => `MOCK-PRIVATE-KEY(PrivateKey/comp3-ca-${kind}-key) before the rebuild`;
const oldRequests = () => ({
    istio: mockCsrPem("MOCK-CSR(CertRequest/comp3-ca-istio-csr)", OLD_KEY("istio")),
    spire: mockCsrPem("MOCK-CSR(CertRequest/comp3-ca-spire-csr)", OLD_KEY("spire")),
});
const oldCertificates = () => ({
    istio: mockCertificatePem("MOCK-CERT(LocallySignedCert/comp2-pki-cluster2-istio-cert)", true, oldRequests().istio),
    spire: mockCertificatePem("MOCK-CERT(LocallySignedCert/comp2-pki-cluster2-spire-cert)", true, oldRequests().spire),
});

/** `outputs` with one output's value replaced. */
function withOutput(outputs: StackOutputs, name: string, value: unknown): StackOutputs {
    return { ...outputs, [name]: { secret: false, value } };
}

describe("signedForOtherKeys: the public key of each certificate against its request's", () => {
    // RSA requests and certificates as the TLS provider makes them (made with openssl: `req -new -newkey rsa:2048`, then
    // `x509 -req` with a test root); old-cert.pem was signed for another key's request.
    const fixture = (name: string) => fs.readFileSync(path.join(__dirname, "fixtures", "rebuild", name), "utf8");

    test("a certificate signed for the request matches; one signed for another key's request does not", () => {
        const request = fixture("istio-request.pem");
        const requests = { istio: request, spire: request };
        expect(
            signedForOtherKeys(requests, { istio: fixture("istio-cert.pem"), spire: fixture("istio-cert.pem") }),
        ).toEqual([]);
        expect(
            signedForOtherKeys(requests, { istio: fixture("istio-cert.pem"), spire: fixture("old-cert.pem") }),
        ).toEqual(["spire"]);
        expect(
            signedForOtherKeys(requests, { istio: fixture("old-cert.pem"), spire: fixture("old-cert.pem") }),
        ).toEqual(["istio", "spire"]);
    });
});

describe("a peer-role stack deploys Istio's CA and SPIRE only from certificates signed for its own current keys", () => {
    // The first deployment (comp3, comp2, comp3), then the rebuild: comp3 alone again with a root that still
    // holds certificates for its old keys, comp2, comp3.
    let first: Evaluation;
    let second: Evaluation;
    let converged: Evaluation;
    beforeAll(async () => {
        first = await run("comp3");
        second = await run("comp2", { comp3: first.outputs });
        converged = await run("comp3", { comp2: second.outputs, comp3: first.outputs });
    });

    test("it reads its own last outputs through a StackReference to itself, named after the stack; the root stack does not", () => {
        const self = findResource(converged, STACK_REFERENCE, "comp3-self");
        expect(self.inputs.name).toBe("comp3");
        expect(names(second, STACK_REFERENCE)).not.toContain("comp2-self");
    });

    test("(a) converged: the root's certificates match the requests it last exported, so cacerts and SPIRE's upstream CA are declared", () => {
        expect(hasTrust(converged)).toEqual([true, true]);
        expect(converged.warnings.join("\n")).not.toMatch(/other keys/);
        expect(names(converged, RELEASE)).toContain("comp3-istio-istiod");
    });

    test("(b) rebuilt: no requests of its own exported yet while the root holds certificates for its cluster, so both are left out, with the run to do", async () => {
        const rebuilt = await run("comp3", { comp2: second.outputs });
        expect(hasTrust(rebuilt)).toEqual([false, false]);
        expect(names(rebuilt, RELEASE)).not.toContain("comp3-istio-istiod");
        expect(rebuilt.warnings.join("\n")).toMatch(REBUILT);
        // It exports its requests, for comp2 to sign, and does not say it used comp2's certificates.
        expect(Object.keys(rebuilt.outputs.signingRequests.value as object).sort()).toEqual(["istio", "spire"]);
        expect((rebuilt.outputs.usedFromPeer.value as Record<string, string[]>).cluster1).not.toContain(
            "signedIntermediates",
        );
    });

    test("(c) the root signed for other keys than the requests of its last run: left out likewise", async () => {
        const e = await run("comp3", {
            comp2: second.outputs,
            comp3: withOutput(first.outputs, "signingRequests", oldRequests()),
        });
        expect(hasTrust(e)).toEqual([false, false]);
        expect(e.warnings.join("\n")).toMatch(REBUILT);
    });

    test("(d) the documented runs after a rebuild (comp3, comp2, comp3) end with a cacerts whose certificate is for the stack's key", async () => {
        // comp2 as it was before comp3 was rebuilt: its certificates for cluster2 carry the old keys.
        const signed = second.outputs.signedIntermediates.value as Record<string, unknown>;
        const before = withOutput(second.outputs, "signedIntermediates", { ...signed, cluster2: oldCertificates() });
        const rebuilt = await run("comp3", { comp2: before });
        expect(hasTrust(rebuilt)).toEqual([false, false]);
        expect(rebuilt.warnings.join("\n")).toMatch(REBUILT);

        const root = await run("comp2", { comp3: rebuilt.outputs });
        expect(root.warnings.join("\n")).toMatch(
            /peer stack "comp3" has not used .*signedIntermediates.*run `pulumi up` on "comp3" next/,
        );
        const last = await run("comp3", { comp2: root.outputs, comp3: rebuilt.outputs });
        expect(hasTrust(last)).toEqual([true, true]);
        expect(last.warnings.join("\n")).not.toMatch(/run `pulumi up/);
        // cacerts' ca-cert.pem is the certificate the ingress leaf is signed with (its caCertPem, public in the plan),
        // and ca-key.pem the stack's Istio key: their public keys are one.
        const caCert = String(findResource(last, SIGNED, "comp3-istio-ingress-tls-cert").inputs.caCertPem);
        const istioKey = createPublicKey(mockPrivateKey("MOCK-PRIVATE-KEY(PrivateKey/comp3-ca-istio-key)"));
        expect(spki(caCert).equals(istioKey.export({ type: "spki", format: "der" }))).toBe(true);
        expect(spki(caCert).equals(spki(oldCertificates().istio))).toBe(false);
    });
});
