// The CrossGuard pack: `pulumi preview --stack comp2 --policy-pack policy
// --policy-pack-config plan/comp2/policy-config.json` (config.ts says what the config holds).
// Constructing a PolicyPack starts serving it to the engine, so only this
// file does; tests and the plan adapter import the policies from catalog.ts.
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, PREVIEW_POLICIES } from "./catalog";

new PolicyPack(PACK_NAME, {
    description:
        "Refuses what breaks zero trust in the zta-testbed: weak mTLS, an unauthenticated ingress, misaligned trust domains, foreign images, unpinned charts, an unprotected or second root CA.",
    policies: PREVIEW_POLICIES,
});
