// `npm run policy:plan`: the policy pack applied to the offline plan of both
// stacks. Exits 1 when a mandatory policy is violated. See README, "Policy as code".
import * as fs from "fs";
import * as path from "path";
import type { PlannedResource } from "../offline/evaluate";
import { LabPlan, planLab, STACKS } from "../offline/lab";
import { ConfigError } from "../stacks/config";
import { main } from "../stacks/main";
import { checkLab } from "./plan";

const USAGE = `usage: npm run policy:plan -- [--config-dir DIR] [--plan DIR]

Applies every policy of policy/ to the offline plan of comp2 and comp3 and
prints the violations; exits 1 if a mandatory policy is violated.
  --config-dir DIR  read Pulumi.comp2.yaml and Pulumi.comp3.yaml from DIR (default: the repo root)
  --plan DIR        check DIR/<stack>/resources.json written by \`npm run plan\` instead of planning afresh`;

async function run(): Promise<number> {
    const argv = process.argv.slice(2);
    let configDir = path.resolve(__dirname, "..");
    let planDir: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        const value = () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new ConfigError([`${argv[i - 1]} needs a value\n${USAGE}`]);
            return v;
        };
        if (argv[i] === "--config-dir") configDir = value();
        else if (argv[i] === "--plan") planDir = value();
        else if (argv[i] === "--help" || argv[i] === "-h") {
            console.log(USAGE);
            return 0;
        } else throw new ConfigError([`unknown argument ${argv[i]}\n${USAGE}`]);
    }
    const lab: LabPlan = planDir
        ? {
              stacks: STACKS.map((stack) => ({
                  stack,
                  resources: JSON.parse(fs.readFileSync(path.join(planDir as string, stack, "resources.json"), "utf8")) as PlannedResource[],
                  outputs: {},
                  warnings: [],
                  standIns: [],
                  secretValues: [],
              })),
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
        console.error(`policy:plan failed: ${err instanceof ConfigError ? err.message : String((err as Error)?.stack ?? err)}`);
        process.exit(2);
    },
);
