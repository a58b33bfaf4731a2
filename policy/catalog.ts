// The policies the CrossGuard pack serves (index.ts). Each checks what the
// engine shows a policy: resource properties with secrets unwrapped, resource
// options and dependencies, and its pack config (config.ts). The offline plan's
// adapter (offline/simulate/policy-plan.ts) runs these, and the plan-only ones, on the plan.
import type { Policies } from "@pulumi/policy";
import { allowedRegistries } from "./policies/allowed-registries";
import { helmVersionPinned } from "./policies/helm-version-pinned";
import { ingressGatewayJwt } from "./policies/ingress-gateway-jwt";
import { meshWideMtlsStrict } from "./policies/mesh-wide-mtls";
import { peerAuthenticationStrict } from "./policies/peer-authentication-strict";
import { rootCaProtected } from "./policies/root-ca-protected";
import { singleRootCa } from "./policies/single-root-ca";
import { spiffeIdTemplate } from "./policies/spiffe-id-template";
import { trustDomainAligned } from "./policies/trust-domain-aligned";

export const PACK_NAME = "zta-testbed";

export const PREVIEW_POLICIES: Policies = [
    meshWideMtlsStrict,
    peerAuthenticationStrict,
    ingressGatewayJwt,
    trustDomainAligned,
    spiffeIdTemplate,
    rootCaProtected,
    singleRootCa,
    allowedRegistries,
    helmVersionPinned,
];
