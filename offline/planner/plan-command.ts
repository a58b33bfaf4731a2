// `npm run plan`, as a function of its arguments: the offline plan of every stack of the
// lab (docs/offline-plan.md). offline/planner/plan.ts runs it with the process's arguments; the
// tests run it in process, reading what it prints and the exit code it returns.
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../../stacks/config/messages";
import { readFlags, UsageError } from "../cli";
import { EXIT, planExitCode } from "./exit";
import { checkOutDir, PLAN_MARKER, writeOutDir } from "./outdir";

interface Args {
    out: string;
    configDir: string;
    /** --stacks: the stacks of the lab; default every Pulumi.<stack>.yaml in configDir. */
    stacks?: string[];
    quiet: boolean;
    help?: boolean;
}

/** Where the command prints: the console, or a test's buffer. */
export interface PlanIo {
    out(text: string): void;
    err(text: string): void;
}

const CONSOLE: PlanIo = { out: (t) => console.log(t), err: (t) => console.error(t) };

const USAGE = `usage: npm run plan -- [--out DIR] [--config-dir DIR] [--stacks A,B,...] [--quiet]

Evaluates the program for every stack of the lab (each Pulumi.<stack>.yaml of the
config dir: comp2 and comp3 in this repository) on Pulumi's mock runtime, touching
no host, cluster, backend or network. It runs the stacks in the order of a first
deployment (the peer-role stacks, then the root stack), each with its peers' last
outputs, until no run changes anything, and prints that \`pulumi up\` sequence
and how many runs it took. For each stack it writes:
  DIR/<stack>/resources.json      every resource: type, name, urn, parent, dependsOn, provider, options, inputs
  DIR/<stack>/outputs.json        the stack outputs the peer reads (secrets as "[secret]")
  DIR/<stack>/manifests/*.yaml    one file per Kubernetes object
  DIR/<stack>/helm/*.yaml         chart, repository, version and values of each Helm release
  DIR/<stack>/summary.json        warnings and the stand-ins used for unset secrets
  DIR/<stack>/policy-config.json  the policy pack's config for the stack: pulumi preview
                                  --policy-pack policy --policy-pack-config DIR/<stack>/policy-config.json

  --out DIR         where to write (default: plan): a new or empty directory, or one an
                    earlier plan wrote (it holds a ${PLAN_MARKER} marker listing every file it
                    wrote with its sha256; only those are replaced, and only while unchanged).
                    Any other directory is refused, untouched.
  --config-dir DIR  read the stack files (every Pulumi.<stack>.yaml) from DIR (default: the repo root),
                    e.g. examples/three-clusters
  --stacks A,B,...  plan only these stacks of DIR (a roster entry naming another
                    stack of DIR is then a stack not deployed)
  --quiet           do not print the resource trees

It fails where the Pulumi engine would refuse the program: a resource bound to
a provider of another package, two resources with one URN, a bad custom timeout.

Exit codes: 0 the plan was written; 1 the input is wrong (a stack file, --out)
or the engine would refuse the program, with one message per problem naming the
file, key, value and fix; 2 the plan could not run (a bad flag, or an error of
the program itself).`;

function parseArgs(argv: string[]): Args {
    const flags = readFlags(argv, {
        out: { type: "string" },
        "config-dir": { type: "string" },
        stacks: { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
    });
    const args: Args = {
        out: flags.out ?? "plan",
        configDir: flags["config-dir"] ?? path.resolve(__dirname, "..", ".."),
        quiet: flags.quiet ?? false,
        help: flags.help,
    };
    if (flags.stacks !== undefined) {
        const stacks = flags.stacks
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== "");
        if (stacks.length === 0)
            throw new UsageError("--stacks needs stack names separated by commas, e.g. --stacks comp2,comp3");
        const twice = stacks.find((s, i) => stacks.indexOf(s) !== i);
        if (twice !== undefined) throw new UsageError(`--stacks names "${twice}" twice`);
        args.stacks = stacks;
    }
    return args;
}

async function plan(args: Args, io: PlanIo): Promise<void> {
    const started = Date.now();
    if (!fs.existsSync(args.configDir))
        throw new ConfigError([
            `--config-dir ${args.configDir} does not exist: give the directory that holds the stack files (Pulumi.<stack>.yaml)`,
        ]);
    if (!fs.statSync(args.configDir).isDirectory())
        throw new ConfigError([
            `--config-dir ${args.configDir} is not a directory: give the directory that holds the stack files (Pulumi.<stack>.yaml)`,
        ]);
    // Loaded once the flags are read: the program and the mock runtime take a second or two to load.
    const [
        { planLab, stackNameProblems, stacksIn },
        { planFiles },
        { clusterSummary, renderTree },
        { main },
        { policyConfigFiles },
    ] = await Promise.all([
        import("./lab"),
        import("./files"),
        import("./report"),
        import("../../stacks/main"),
        import("./policy-config"),
    ]);
    const stacks = args.stacks ?? stacksIn(args.configDir);
    // Stack names become folders under --out: checked before any path is made of them.
    const badNames = stackNameProblems(stacks, args.stacks ? "--stacks" : args.configDir);
    if (badNames.length > 0) throw new ConfigError(badNames);
    // Before evaluating anything: a refused --out, or a wrong stack file, is reported at once and nothing is touched.
    checkOutDir(args.out, stacks);
    const lab = await planLab(args.configDir, main, { stacks });
    // Every file is made, and checked for leaks, before any is written: a refusal writes and deletes nothing.
    const files = new Map<string, string>();
    for (const stack of lab.stacks)
        for (const [rel, text] of planFiles(stack)) files.set(path.join(stack.stack, rel), text);
    for (const [rel, text] of policyConfigFiles(args.configDir, stacks)) files.set(rel, text);
    writeOutDir(args.out, stacks, files);
    for (const stack of lab.stacks) {
        if (!args.quiet) io.out(renderTree(stack));
        for (const w of stack.warnings) io.out(`  warning: ${w}`);
        for (const s of stack.standIns) io.out(`  stand-in: ${s} is not set; the plan used a labelled placeholder`);
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const checks = lab.evaluations.length - lab.runs.length;
    io.out(`\n${lab.stacks.map(clusterSummary).join("\n")}`);
    io.out(
        `\nfirst deployment: ${lab.runs.length} runs of \`pulumi up\`, in this order: ${lab.runs.join(", ")}\n` +
            `converged: ${checks} more ${checks === 1 ? "run" : "runs"} (${lab.evaluations
                .filter((e) => !e.changed)
                .map((e) => e.stack)
                .join(", ")}) changed nothing`,
    );
    io.out(
        `plan written to ${path.resolve(args.out)} (${lab.stacks.map((s) => `${s.stack}: ${s.resources.length} resources`).join(", ")}) in ${seconds}s`,
    );
}

/** Runs `npm run plan -- <argv>`: prints to `io` and returns the exit code (docs/offline-plan.md, "Exit codes"). */
export async function planCommand(argv: string[], io: PlanIo = CONSOLE): Promise<number> {
    try {
        const args = parseArgs(argv);
        if (args.help) io.out(USAGE);
        else await plan(args, io);
        return EXIT.ok;
    } catch (err) {
        if (planExitCode(err) === EXIT.inputWrong) {
            io.err(`plan failed: ${(err as Error).message}`);
            return EXIT.inputWrong;
        }
        if (err instanceof UsageError) {
            io.err(`plan failed: ${err.message}\n\n${USAGE}`);
            return EXIT.cannotRun;
        }
        // An error of the program itself: one line, no stack (ZTA_DEBUG=1 shows it, for a bug report).
        io.err(`plan could not run: ${err instanceof Error ? err.message : String(err)}`);
        if (process.env.ZTA_DEBUG) console.error(err);
        return EXIT.cannotRun;
    }
}
