// The cross-domain check's decision (federated trust model), on certificates made
// with OpenSSL (test/fixtures/verify/README.md) and XFCC headers as Envoy writes them.
import { createHash, X509Certificate } from "crypto";
import { readFileSync } from "fs";
import * as path from "path";
import { crossDomainProblems, CrossDomainEvidence } from "../verify/checks/cross-domain-identity";

const fixture = (name: string) =>
    new X509Certificate(readFileSync(path.join(__dirname, "fixtures", "verify", name), "utf8"));
const leaf = fixture("curl-leaf.pem");
const hashOf = (c: X509Certificate) => createHash("sha256").update(c.raw).digest("hex");
const reply = (by: string, uri: string, hash = hashOf(leaf)) =>
    JSON.stringify({ headers: { "X-Forwarded-Client-Cert": [`By=${by};Hash=${hash};Subject="";URI=${uri}`] } });
const CURL = "spiffe://zta.lab/ns/sample/sa/curl";
const PEER_HTTPBIN = "spiffe://cluster2.zta.lab/ns/sample/sa/httpbin";

const good: CrossDomainEvidence = {
    replies: [reply("spiffe://zta.lab/ns/sample/sa/httpbin", CURL), reply(PEER_HTTPBIN, CURL)],
    callerChain: [leaf, fixture("cluster-intermediate.pem")],
    callerId: CURL,
    ownRoot: fixture("lab-root.pem"),
    peers: [{ root: fixture("other-root.pem"), trustDomain: "cluster2.zta.lab" }],
    now: new Date("2030-01-01T00:00:00Z"),
};

describe("a caller's identity crosses into the peer's trust domain", () => {
    test("the peer's httpbin saw curl's own-domain ID and certificate, which chains to this stack's root", () => {
        expect(crossDomainProblems(good)).toEqual([]);
    });

    test("no reply from the peer's trust domain is a failure naming the servers seen", () => {
        const problems = crossDomainProblems({
            ...good,
            replies: [reply("spiffe://zta.lab/ns/sample/sa/httpbin", CURL)],
        });
        expect(problems).toEqual([
            "none of 1 calls was answered in the peer's trust domain cluster2.zta.lab (By= seen: spiffe://zta.lab/ns/sample/sa/httpbin)",
        ]);
    });

    test("the caller rewritten into the peer's trust domain is refused", () => {
        const problems = crossDomainProblems({
            ...good,
            replies: [reply(PEER_HTTPBIN, "spiffe://cluster2.zta.lab/ns/sample/sa/curl")],
        });
        expect(problems).toEqual([
            `the peer's httpbin (${PEER_HTTPBIN}) saw URI [spiffe://cluster2.zta.lab/ns/sample/sa/curl], expected the caller's ${CURL}`,
        ]);
    });

    test("a certificate on the wire that is not the caller's is refused", () => {
        const problems = crossDomainProblems({ ...good, replies: [reply(PEER_HTTPBIN, CURL, "00".repeat(32))] });
        expect(problems).toEqual([
            expect.stringMatching(
                /^the peer saw a client certificate with hash 0{64}, not the one the caller's proxy holds/,
            ),
        ]);
    });

    test("a caller certificate from another root is refused even with the right ID", () => {
        const other = fixture("other-root-leaf.pem");
        const problems = crossDomainProblems({
            ...good,
            callerChain: [other, fixture("other-root.pem")],
            replies: [reply(PEER_HTTPBIN, CURL, hashOf(other))],
        });
        expect(problems).toEqual([expect.stringMatching(/not signed by the lab root or by a CA in its chain/)]);
    });

    test("with two peers, a reply from either trust domain will do, and every domain that answered is checked", () => {
        const third = { root: fixture("other-root.pem"), trustDomain: "cluster3.zta.lab" };
        const thirdHttpbin = "spiffe://cluster3.zta.lab/ns/sample/sa/httpbin";
        expect(
            crossDomainProblems({ ...good, peers: [...good.peers, third], replies: [reply(thirdHttpbin, CURL)] }),
        ).toEqual([]);
        expect(
            crossDomainProblems({
                ...good,
                peers: [...good.peers, third],
                replies: [
                    reply(PEER_HTTPBIN, CURL),
                    reply(thirdHttpbin, "spiffe://cluster3.zta.lab/ns/sample/sa/curl"),
                ],
            }),
        ).toEqual([
            `the peer's httpbin (${thirdHttpbin}) saw URI [spiffe://cluster3.zta.lab/ns/sample/sa/curl], expected the caller's ${CURL}`,
        ]);
        expect(
            crossDomainProblems({
                ...good,
                peers: [...good.peers, third],
                replies: [reply("spiffe://zta.lab/ns/sample/sa/httpbin", CURL)],
            }),
        ).toEqual([
            "none of 1 calls was answered in the peers' trust domains cluster2.zta.lab, cluster3.zta.lab (By= seen: spiffe://zta.lab/ns/sample/sa/httpbin)",
        ]);
    });

    test("a peer root with this stack's root's subject and another key is the peer's own, not this stack's", () => {
        // Federated roots that share a name (as every generated root did before its subject named
        // the trust domain): the check tells them apart by key.
        const impostor = fixture("impostor-root.pem");
        expect(impostor.subject).toBe(good.ownRoot.subject);
        expect(crossDomainProblems({ ...good, peers: [{ ...good.peers[0], root: impostor }] })).toEqual([]);
        const problems = crossDomainProblems({
            ...good,
            callerChain: [leaf, fixture("impostor-intermediate.pem"), impostor],
        });
        expect(problems).toEqual([
            expect.stringMatching(
                /^"O=zta-testbed fixture\nCN=Fixture Lab Root CA" has the lab root's subject but another key/,
            ),
        ]);
    });

    test("one root for both trust domains is refused", () => {
        const problems = crossDomainProblems({ ...good, peers: [{ ...good.peers[0], root: fixture("lab-root.pem") }] });
        expect(problems).toEqual([
            expect.stringMatching(
                /^this stack and the peer export the same root "O=zta-testbed fixture, CN=Fixture Lab Root CA": the federated model needs a root per trust domain$/,
            ),
        ]);
    });
});
