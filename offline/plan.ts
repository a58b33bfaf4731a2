// `npm run plan`: the offline plan of both stacks. See README, "The offline plan".
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../stacks/config";
import { main } from "../stacks/main";
import { EngineRuleError } from "./evaluate";
import { planLab, writePlan, renderTree, LabPlan } from "./lab";

interface Args {
    out: string;
    configDir: string;
    quiet: boolean;
}

const USAGE = `usage: npm run plan -- [--out DIR] [--config-dir DIR] [--quiet]

Evaluates the program for both stacks (comp2, comp3) on Pulumi's mock runtime,
touching no host, cluster, backend or network, and writes for each stack:
  DIR/<stack>/resources.json      every resource: type, name, urn, parent, dependsOn, provider, options, inputs
  DIR/<stack>/outputs.json        the stack outputs the peer reads (secrets as "[secret]")
  DIR/<stack>/manifests/*.yaml    one file per Kubernetes object
  DIR/<stack>/helm/*.yaml         chart, repository, version and values of each Helm release
  DIR/<stack>/summary.json        warnings and the stand-ins used for unset secrets

  --out DIR         where to write (default: plan)
  --config-dir DIR  read Pulumi.comp2.yaml and Pulumi.comp3.yaml from DIR (default: the repo root)
  --quiet           do not print the resource trees

It fails where the Pulumi engine would refuse the program: a resource bound to
a provider of another package, two resources with one URN, a bad custom timeout.`;

function parseArgs(argv: string[]): Args {
    const args: Args = { out: "plan", configDir: path.resolve(__dirname, ".."), quiet: false };
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        const value = () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
            return v;
        };
        if (flag === "--out") args.out = value();
        else if (flag === "--config-dir") args.configDir = value();
        else if (flag === "--quiet") args.quiet = true;
        else if (flag === "--help" || flag === "-h") {
            console.log(USAGE);
            process.exit(0);
        } else throw new UsageError(`unknown argument ${flag}`);
    }
    return args;
}

class UsageError extends Error {}

async function run(): Promise<void> {
    const started = Date.now();
    const args = parseArgs(process.argv.slice(2));
    const lab: LabPlan = await planLab(args.configDir, main);
    fs.rmSync(args.out, { recursive: true, force: true });
    for (const stack of lab.stacks) {
        writePlan(args.out, stack);
        if (!args.quiet) console.log(renderTree(stack));
        for (const w of stack.warnings) console.log(`  warning: ${w}`);
        for (const s of stack.standIns) console.log(`  stand-in: ${s} is not set; the plan used a labelled placeholder`);
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`\nplan written to ${path.resolve(args.out)} (${lab.stacks.map((s) => `${s.stack}: ${s.resources.length} resources`).join(", ")}) in ${seconds}s`);
}

run().catch((err: unknown) => {
    if (err instanceof ConfigError || err instanceof UsageError || err instanceof EngineRuleError) {
        console.error(`plan failed: ${err.message}`);
        if (err instanceof UsageError) console.error(USAGE);
    } else {
        console.error("plan failed:", err);
    }
    process.exit(1);
});
