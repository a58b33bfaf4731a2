// The policy pack's config for each stack of the lab, from the validated stack
// config: `npm run plan` writes it to plan/<stack>/policy-config.json for
// `pulumi preview --policy-pack policy --policy-pack-config plan/<stack>/policy-config.json`,
// and `npm run policy:plan` feeds it to the policies as the engine does.
import * as fs from "fs";
import * as path from "path";
import type { StackPolicyConfig } from "../../policy/config";
import { LabConfig } from "../../stacks/config/lab-config";
import { parseLabConfig } from "../../stacks/config/parse";
import { ownKey } from "../../stacks/config/namespace";
import { SecretKey } from "../../stacks/config/schema";
import { labStacksIn, readLabConfig } from "./lab";

/** The pack config's file name under plan/<stack>/, as `npm run plan` writes it. */
export const POLICY_CONFIG_FILE = "policy-config.json";

/** What the pack needs to know of the lab for one stack: its registry, the trust model, and every other stack's pki.role. */
export function stackPolicyConfig(own: LabConfig, lab: readonly LabConfig[]): StackPolicyConfig {
    return {
        "allowed-registries": { labRegistry: `${own.registry.host}:${own.registry.port}` },
        "single-root-ca": {
            trustModel: own.mesh.trustModel,
            peers: lab.filter((c) => c.stack !== own.stack).map((c) => ({ stack: c.stack, pkiRole: c.pki.role })),
        },
    };
}

/**
 * The validated config of every stack of the lab in configDir, the roster's (a ConfigError, as
 * for the plan, when it is wrong): a stack file left there by a stack that left the lab is no peer.
 */
export function labConfigs(configDir: string): LabConfig[] {
    return readLabConfig(configDir, labStacksIn(configDir)).map((file) =>
        parseLabConfig(file.stack, file.raw, new Set(file.secretKeys.map(ownKey) as SecretKey[])),
    );
}

/** The pack config of every stack of the lab in configDir, by stack name. */
export function labPolicyConfigs(configDir: string): Map<string, StackPolicyConfig> {
    const lab = labConfigs(configDir);
    return new Map(lab.map((cfg) => [cfg.stack, stackPolicyConfig(cfg, lab)]));
}

/** The policy-config.json of each of `stacks` (the stacks the plan writes), by path under the plan ("comp2/policy-config.json"). */
export function policyConfigFiles(configDir: string, stacks: readonly string[]): Map<string, string> {
    return new Map(
        [...labPolicyConfigs(configDir)]
            .filter(([stack]) => stacks.includes(stack))
            .map(([stack, config]) => [path.join(stack, POLICY_CONFIG_FILE), JSON.stringify(config, null, 2) + "\n"]),
    );
}

/**
 * Writes outDir/<stack>/policy-config.json for each of `stacks` (the stacks the plan
 * wrote, so nothing lands outside the folders its marker lists), from the lab in configDir.
 */
export function writePolicyConfigs(outDir: string, configDir: string, stacks: readonly string[]): string[] {
    return [...policyConfigFiles(configDir, stacks)].map(([rel, text]) => {
        const file = path.join(outDir, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
        return file;
    });
}
