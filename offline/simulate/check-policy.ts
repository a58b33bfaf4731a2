// `npm run policy:plan`: the policy pack (policy/) applied to the offline plan of
// every stack, each with the pack config `npm run plan` writes for it. Exits 1
// when a mandatory policy is violated. See docs/policy.md.
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../../stacks/config/messages";
import type { PlannedResource } from "../engine/record";
import { readFlags, UsageError } from "../cli";
import { POLICY_CONFIG_FILE } from "../planner/policy-config";
import { checkLab, ConfigFile, PolicyConfigError } from "./policy-plan";

/** The lab planned afresh from its stack files, with the pack config of each stack. */
async function planAfresh(
    configDir: string,
): Promise<{ stacks: { stack: string; resources: PlannedResource[] }[]; configs: ReadonlyMap<string, object> }> {
    // Loaded only here: they bring in the program and the mock runtime, which --plan does not need.
    const [{ planLab }, { main }, { labPolicyConfigs }] = await Promise.all([
        import("../planner/lab"),
        import("../../stacks/main"),
        import("../planner/policy-config"),
    ]);
    return { stacks: (await planLab(configDir, main)).stacks, configs: labPolicyConfigs(configDir) };
}

const USAGE = `usage: npm run policy:plan -- [--config-dir DIR] [--plan DIR]

Applies every policy of policy/ to the offline plan of each stack of the lab,
with the pack config of that stack, and prints the violations.
  --config-dir DIR  plan the stack files in DIR (default: the repo root); the pack
                    config of each stack comes from its validated config, as
                    \`npm run plan\` writes it to <stack>/${POLICY_CONFIG_FILE}
  --plan DIR        check what \`npm run plan -- --out DIR\` wrote instead of planning
                    afresh: DIR/<stack>/resources.json with DIR/<stack>/${POLICY_CONFIG_FILE}

Exit codes: 0 no mandatory policy is violated; 1 a mandatory policy is violated,
or the input is wrong (a stack file, a --plan DIR without a plan, a policy
config the pack refuses); 2 the check could not run (a bad flag, or an error of
the program itself).`;

/** A --plan DIR that holds no plan: exit 1. */
class InputError extends Error {}

function readJson(file: string, what: string, planDir: string): unknown {
    if (!fs.existsSync(file))
        throw new InputError(
            `--plan ${planDir}: ${file} does not exist: write the plan again with \`npm run plan -- --out ${planDir}\``,
        );
    try {
        return JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
    } catch {
        throw new InputError(
            `--plan ${planDir}: ${file} is not ${what} written by \`npm run plan\`: write the plan again`,
        );
    }
}

/** The stacks of a plan written by `npm run plan`: every DIR/<stack>/ holding resources.json, with their pack configs. */
function readPlan(planDir: string): {
    stacks: { stack: string; resources: PlannedResource[] }[];
    configs: Map<string, ConfigFile>;
} {
    const names = fs.existsSync(planDir)
        ? fs.readdirSync(planDir).filter((name) => fs.existsSync(path.join(planDir, name, "resources.json")))
        : [];
    if (names.length === 0)
        throw new InputError(
            `--plan ${planDir}: no <stack>/resources.json in it: write the plan first with \`npm run plan -- --out ${planDir}\``,
        );
    const stacks = names.sort().map((stack) => {
        const resources = readJson(path.join(planDir, stack, "resources.json"), "a resource list", planDir);
        if (!Array.isArray(resources))
            throw new InputError(
                `--plan ${planDir}: ${path.join(planDir, stack, "resources.json")} is not a resource list written by \`npm run plan\`: write the plan again`,
            );
        return { stack, resources: resources as PlannedResource[] };
    });
    const configs = new Map(
        names.map((stack) => {
            const config = readJson(path.join(planDir, stack, POLICY_CONFIG_FILE), "a policy config", planDir);
            if (config === null || typeof config !== "object" || Array.isArray(config)) {
                throw new InputError(
                    `--plan ${planDir}: ${path.join(planDir, stack, POLICY_CONFIG_FILE)} is not a policy config written by \`npm run plan\`: write the plan again`,
                );
            }
            return [stack, config as ConfigFile];
        }),
    );
    return { stacks, configs };
}

async function run(): Promise<number> {
    const flags = readFlags(process.argv.slice(2), {
        "config-dir": { type: "string" },
        plan: { type: "string" },
        help: { type: "boolean", short: "h" },
    });
    if (flags.help) {
        console.log(USAGE);
        return 0;
    }
    const configDir = flags["config-dir"] ?? path.resolve(__dirname, "..", "..");
    const planDir = flags.plan;
    const { stacks, configs } = planDir ? readPlan(planDir) : await planAfresh(configDir);
    const violations = await checkLab({ stacks }, configs as ReadonlyMap<string, ConfigFile>);
    for (const stack of stacks) {
        const mine = violations.filter((v) => v.urn.startsWith(`urn:pulumi:${stack.stack}::`) || v.urn === "");
        console.log(`${stack.stack}: ${stack.resources.length} resources, ${mine.length} violation(s)`);
        for (const v of mine) console.log(`  [${v.enforcementLevel}] ${v.policy}: ${v.message}\n      ${v.urn}`);
    }
    return violations.some((v) => v.enforcementLevel === "mandatory") ? 1 : 0;
}

run().then(
    (code) => process.exit(code),
    (err: unknown) => {
        if (err instanceof ConfigError || err instanceof InputError || err instanceof PolicyConfigError) {
            console.error(`policy:plan failed: ${err.message}`);
            process.exit(1);
        }
        if (err instanceof UsageError) {
            console.error(`policy:plan failed: ${err.message}\n\n${USAGE}`);
            process.exit(2);
        }
        // An error of the program itself: one line, no stack (ZTA_DEBUG=1 shows it, for a bug report).
        console.error(`policy:plan could not run: ${err instanceof Error ? err.message : String(err)}`);
        if (process.env.ZTA_DEBUG) console.error(err);
        process.exit(2);
    },
);
