// `npm run policy:plan`: the policy pack applied to the offline plan of both
// stacks. Exits 1 when a mandatory policy is violated. See README, "Policy as code".
import * as fs from "fs";
import * as path from "path";
import type { PlannedResource } from "../offline/evaluate";
import { LabPlan, planLab, stacksIn } from "../offline/lab";
import { ConfigError } from "../stacks/config";
import { main } from "../stacks/main";
import { checkLab } from "./plan";

const USAGE = `usage: npm run policy:plan -- [--config-dir DIR] [--plan DIR]

Applies every policy of policy/ to the offline plan of comp2 and comp3 and
prints the violations.
  --config-dir DIR  read Pulumi.comp2.yaml and Pulumi.comp3.yaml from DIR (default: the repo root)
  --plan DIR        check DIR/<stack>/resources.json written by \`npm run plan\` instead of planning afresh

Exit codes: 0 no mandatory policy is violated; 1 a mandatory policy is violated,
or the input is wrong (a stack file, a --plan DIR without a plan); 2 the check
could not run (a bad flag, or an error of the program itself).`;

/** A bad flag: exit 2 with the usage text. */
class UsageError extends Error {}
/** A --plan DIR that holds no plan: exit 1. */
class InputError extends Error {}

/** DIR/<stack>/resources.json of a plan written by `npm run plan`, or a ConfigError saying what is missing. */
function readPlannedResources(planDir: string, stack: string): PlannedResource[] {
    const file = path.join(planDir, stack, "resources.json");
    if (!fs.existsSync(file)) throw new InputError(`--plan ${planDir}: ${file} does not exist: write the plan first with \`npm run plan -- --out ${planDir}\``);
    try {
        const resources = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
        if (Array.isArray(resources)) return resources as PlannedResource[];
    } catch {
        // Reported below, like any other content that is not a plan.
    }
    throw new InputError(`--plan ${planDir}: ${file} is not a resource list written by \`npm run plan\`: write the plan again`);
}

async function run(): Promise<number> {
    const argv = process.argv.slice(2);
    let configDir = path.resolve(__dirname, "..");
    let planDir: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        const value = () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new UsageError(`${argv[i - 1]} needs a value`);
            return v;
        };
        if (argv[i] === "--config-dir") configDir = value();
        else if (argv[i] === "--plan") planDir = value();
        else if (argv[i] === "--help" || argv[i] === "-h") {
            console.log(USAGE);
            return 0;
        } else throw new UsageError(`unknown argument ${argv[i]}`);
    }
    const lab: LabPlan = planDir
        ? {
              stacks: stacksIn(configDir).map((stack) => ({
                  stack,
                  resources: readPlannedResources(planDir as string, stack),
                  outputs: {},
                  warnings: [],
                  standIns: [],
                  secretValues: [],
              })),
              // A plan read from disk does not record the order its runs were made in.
              runs: [],
              evaluations: [],
          }
        : await planLab(configDir, main);
    const violations = await checkLab(lab, configDir);
    for (const stack of lab.stacks) {
        const mine = violations.filter((v) => v.urn.startsWith(`urn:pulumi:${stack.stack}::`) || v.urn === "");
        console.log(`${stack.stack}: ${stack.resources.length} resources, ${mine.length} violation(s)`);
        for (const v of mine) console.log(`  [${v.enforcementLevel}] ${v.policy}: ${v.message}\n      ${v.urn}`);
    }
    return violations.some((v) => v.enforcementLevel === "mandatory") ? 1 : 0;
}

run().then(
    (code) => process.exit(code),
    (err: unknown) => {
        if (err instanceof ConfigError || err instanceof InputError) {
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
