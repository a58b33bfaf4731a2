// The pack's config, as `pulumi preview --policy-pack policy --policy-pack-config <file>`
// reads it: one entry per policy that needs to know the lab, keyed by policy name.
// The pack never reads the checkout's stack files: what it needs of the lab comes
// from here, and `npm run plan` writes it per stack (plan/<stack>/policy-config.json).
// Each policy's configSchema says what is required; the engine refuses to run the
// pack without it. Like any `--policy-pack-config` file it may also set a policy's
// level: {"<policy>": "advisory"}, or {"<policy>": {"enforcementLevel": ..., ...}},
// or {"all": "disabled"}.
import type { AllowedRegistriesConfig } from "./policies/allowed-registries";
import type { SingleRootCaConfig } from "./policies/single-root-ca";

/** The config of one stack: what the policies with a configSchema require. */
export interface StackPolicyConfig {
    readonly "allowed-registries": AllowedRegistriesConfig;
    readonly "single-root-ca": SingleRootCaConfig;
}
