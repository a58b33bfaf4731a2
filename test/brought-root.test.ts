// A root CA the lab brings (pki.rootCaCert), checked as a pure function: what it
// must be for root -> SPIRE upstream -> SPIRE CA -> SVID and for the trust domain,
// on the fixtures of test/fixtures/brought-root (its make-roots.ts) at fixed times.
import { rootCertificateProblem, rootUseProblems } from "../stacks/config/brought-root";
import { broughtRoot } from "./bad-inputs";

const DEC_2026 = Date.parse("2026-12-07T00:00:00Z");

describe("a brought root on its own", () => {
    test("one CA with keyCertSign and pathLenConstraint 2 (two CAs below it: SPIRE's upstream and SPIRE's own) is taken", () => {
        expect(rootCertificateProblem(broughtRoot("good-root.pem"), DEC_2026)).toBeUndefined();
        expect(rootCertificateProblem(broughtRoot("unrelated-ca.pem"), DEC_2026)).toBeUndefined();
    });

    test("pathLenConstraint 1 is one CA short", () => {
        expect(rootCertificateProblem(broughtRoot("pathlen-1.pem"), DEC_2026)).toMatch(
            /has pathLenConstraint 1, but the lab puts 2 CAs below its root/,
        );
    });

    test("a root valid now but not at the time given is refused as not valid now", () => {
        expect(rootCertificateProblem(broughtRoot("good-root.pem"), Date.parse("2047-01-01T00:00:00Z"))).toMatch(
            /expected a certificate valid now; .* is valid from Dec {2}1 00:00:00 2026 GMT to Dec {2}1 00:00:00 2046 GMT/,
        );
    });
});

describe("a brought root in the lab", () => {
    test("URI name constraints: permitting zta.lab lets spiffe://zta.lab IDs through but not a subdomain (RFC 5280: no leading dot, that host only)", () => {
        expect(
            rootUseProblems(broughtRoot("good-root.pem"), {
                trustDomain: "zta.lab",
                intermediateValidityHours: 8760,
                now: DEC_2026,
            }),
        ).toEqual([]);
        expect(
            rootUseProblems(broughtRoot("good-root.pem"), {
                trustDomain: "cluster1.zta.lab",
                intermediateValidityHours: 8760,
                now: DEC_2026,
            }),
        ).toEqual([
            expect.stringMatching(
                /its name constraints permit URIs only under "zta\.lab", which shuts out spiffe:\/\/cluster1\.zta\.lab\/\.\.\./,
            ),
        ]);
        // ".example.com" covers hosts below example.com only.
        expect(
            rootUseProblems(broughtRoot("uri-permitted-elsewhere.pem"), {
                trustDomain: "lab.example.com",
                intermediateValidityHours: 8760,
                now: DEC_2026,
            }),
        ).toEqual([]);
        expect(
            rootUseProblems(broughtRoot("uri-permitted-elsewhere.pem"), {
                trustDomain: "example.com",
                intermediateValidityHours: 8760,
                now: DEC_2026,
            }),
        ).toHaveLength(1);
        // An excluded subtree shuts out that trust domain only.
        expect(
            rootUseProblems(broughtRoot("uri-excluded-lab.pem"), {
                trustDomain: "other.lab",
                intermediateValidityHours: 8760,
                now: DEC_2026,
            }),
        ).toEqual([]);
    });

    test("it must outlive the intermediates it signs now: a root ending 2034-06-01 carries one-year intermediates in 2026, not ten-year ones", () => {
        const use = { trustDomain: "zta.lab", now: DEC_2026 };
        expect(rootUseProblems(broughtRoot("ends-2034.pem"), { ...use, intermediateValidityHours: 8760 })).toEqual([]);
        expect(rootUseProblems(broughtRoot("ends-2034.pem"), { ...use, intermediateValidityHours: 87600 })).toEqual([
            expect.stringMatching(
                /ends 2034-06-01T00:00:00\.000Z, before the intermediates it would sign now \(zta-testbed:pki\.intermediateValidityHours = 87600, until 2036-12-04T00:00:00\.000Z\)/,
            ),
        ]);
    });
});
