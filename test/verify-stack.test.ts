// Which CA verify trusts for the lab issuer's token endpoint, from the stack outputs
// (verify/stack.ts): the lab-services CA of the stack that runs the issuer, never a
// mesh root, whether that stack is the one verified or its peer.
import { issuerTrust } from "../verify/stack";

const out = (values: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(values).map(([k, value]) => [k, { value, secret: false }]));
const ISSUER = {
    issuer: {
        url: "https://10.5.0.2:9443/realms/zta",
        tokenUrl: "https://10.5.0.2:9443/realms/zta/protocol/openid-connect/token",
        clientId: "zta-testbed",
    },
    issuerClientSecret: "s3cret",
};
const CLIENT = { tokenUrl: ISSUER.issuer.tokenUrl, clientId: "zta-testbed", clientSecret: "s3cret" };

describe("verify trusts the issuer's own CA for its token endpoint", () => {
    test("the root stack's labServicesCaCert, not its rootCaCert, when verifying the root stack itself or a peer", () => {
        const root = out({ ...ISSUER, rootCaCert: "MESH-ROOT", labServicesCaCert: "SERVICES-CA" });
        expect(issuerTrust(root, [])).toEqual({ issuer: CLIENT, issuerCaCert: "SERVICES-CA" });
        expect(issuerTrust(out({ rootCaCert: "PEER-ROOT" }), [out({}), root])).toEqual({
            issuer: CLIENT,
            issuerCaCert: "SERVICES-CA",
        });
    });

    test("a root stack deployed before the lab-services CA: its rootCaCert, which signed the issuer then; no issuer anywhere: nothing", () => {
        expect(issuerTrust(out({ rootCaCert: "PEER-ROOT" }), [out({ ...ISSUER, rootCaCert: "OLD-ROOT" })])).toEqual({
            issuer: CLIENT,
            issuerCaCert: "OLD-ROOT",
        });
        expect(issuerTrust(out({ rootCaCert: "ROOT" }), [out({ rootCaCert: "ROOT" })])).toEqual({});
    });
});
