// Issue 17: bad input is refused before anything is touched, with one message
// and the documented exit code, never a stack trace; no command destroys what it
// did not make. The table of bad inputs is test/bad-inputs.ts: every row runs
// through the plan's up-front check in process, a subset through the real CLIs.
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { evaluateStack } from "../offline/engine/evaluate";
import { EngineRuleError } from "../offline/engine/rules";
import { planExitCode, SecretLeakError } from "../offline/planner/exit";
import { assertNoSecrets, planFiles } from "../offline/planner/files";
import { readLabConfig, readStackConfig, StackPlan } from "../offline/planner/lab";
import { brokenKubeconfig } from "../stacks/config/load";
import { main } from "../stacks/main";
import { checkOutDir, OutDirError, writeOutDir } from "../offline/planner/outdir";
import { ConfigError } from "../stacks/config/messages";
import { parseLabConfig } from "../stacks/config/parse";
import { ClusterIdentity } from "../model/lab";
import { intermediatesProblems } from "../stacks/peer-checks";
import { pulumiErrorMessage } from "../verify/stack";
import { KubeCluster } from "../verify/cluster";
import { badLabDir, CONFIG_CASES, FILE_CASES, GUARD_CASES, LAB_CASES, PLAIN_KEY } from "./bad-inputs";
import { byoLabDir, labDirWith, planCommandOutput, planOf, rawConfig, REPO, stackOf, TSX_LOADER_ARGS } from "./helpers";

/** A stack frame as Node prints it. */
const STACK_FRAME = /^    at /m;
/** The file that marks a directory as one the plan wrote (and may replace). */
const PLAN_MARKER = ".zta-plan";

/** What the plan's up-front check makes of a lab directory: the error it throws. */
function upFront(dir: string): Error {
    try {
        readLabConfig(dir);
    } catch (err) {
        return err as Error;
    }
    throw new Error(`the lab in ${dir} passed the up-front check`);
}

describe("every bad stack file is refused up front with exit 1 and one message naming the file", () => {
    const rows: ["config" | "lab" | "file", string, RegExp][] = [
        ...CONFIG_CASES.map(([label, , message]): ["config", string, RegExp] => ["config", label, message]),
        ...LAB_CASES.map(([label, , message]): ["lab", string, RegExp] => ["lab", label, message]),
        ...FILE_CASES.map(([label, , message]): ["file", string, RegExp] => ["file", label, message]),
    ];

    test("the table holds the committed config cases and the issue's", () => {
        expect(rows.length).toBeGreaterThanOrEqual(30 + 20);
    });

    test.each(rows)("%s: %s", (kind, label, message) => {
        const err = upFront(badLabDir(kind, label));
        expect(err).toBeInstanceOf(ConfigError);
        expect(planExitCode(err)).toBe(1);
        expect(err.message).toMatch(message);
        expect(err.message).not.toMatch(STACK_FRAME);
        // The line that reports it names the stack file it is about.
        const line = err.message.split("\n").find((l) => message.test(l)) ?? err.message;
        expect(line).toMatch(/Pulumi(\.comp[23])?\.yaml/);
    });
});

/** Runs a script of the repository with tsx, as `npm run <script>` does. */
function cli(script: string, args: string[], cwd = REPO): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [...TSX_LOADER_ARGS, path.join(REPO, script), ...args], {
        cwd,
        encoding: "utf8",
        env: { ...process.env, PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, ZTA_DEBUG: "" },
        timeout: 60_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sha256(text: string | Buffer): string {
    return crypto.createHash("sha256").update(text).digest("hex");
}

/** sha256 of every file under dir (a symbolic link as its target, an empty folder as such), by relative path: "byte-identical" made checkable. */
function snapshot(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
        const entries = fs.readdirSync(d, { withFileTypes: true });
        if (entries.length === 0 && d !== dir) out[`${path.relative(dir, d)}/`] = "empty folder";
        for (const e of entries) {
            const p = path.join(d, e.name);
            if (e.isSymbolicLink()) out[path.relative(dir, p)] = `link to ${fs.readlinkSync(p)}`;
            else if (e.isDirectory()) walk(p);
            else out[path.relative(dir, p)] = sha256(fs.readFileSync(p));
        }
    };
    walk(dir);
    return out;
}

function tmp(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A directory that is not a plan: a user's files, in a subfolder too. */
function notAPlan(): string {
    const dir = tmp("zta-notplan-");
    fs.writeFileSync(path.join(dir, "notes.txt"), "my notes\n");
    fs.mkdirSync(path.join(dir, "comp2"));
    fs.writeFileSync(path.join(dir, "comp2", "thesis.tex"), "\\documentclass{article}\n");
    return dir;
}

describe("the real CLIs: one message, the documented exit code, no stack frame", () => {
    // `inProcess`: run through planCommand in this process (what offline/planner/plan.ts calls), as the
    // spawned cases show the command line does; loading the program in a new node for each
    // case would be most of this file's time.
    const cases: [
        string,
        number,
        () => { script: string; args: string[]; cwd?: string; inProcess?: boolean },
        RegExp,
    ][] = [
        [
            "plan: pki.role root in both stacks",
            1,
            () => ({
                script: "offline/planner/plan.ts",
                args: [
                    "--config-dir",
                    badLabDir("lab", "pki.role root in both stacks"),
                    "--out",
                    path.join(tmp("zta-out-"), "p"),
                ],
            }),
            /Pulumi\.comp2\.yaml: zta-testbed:pki\.role is "root" here and "root"/,
        ],
        [
            "plan: a gateway address that is the host's own address",
            1,
            () => ({
                script: "offline/planner/plan.ts",
                args: [
                    "--config-dir",
                    badLabDir("config", "a gateway address that is the host's own address"),
                    "--out",
                    path.join(tmp("zta-out-"), "p"),
                ],
                inProcess: true,
            }),
            /Pulumi\.comp2\.yaml: zta-testbed:metallb\.federationAddress = "10\.5\.0\.3" is zta-testbed:host\.address/,
        ],
        [
            "plan: a YAML syntax error",
            1,
            () => ({
                script: "offline/planner/plan.ts",
                args: [
                    "--config-dir",
                    badLabDir("file", "a YAML syntax error"),
                    "--out",
                    path.join(tmp("zta-out-"), "p"),
                ],
                inProcess: true,
            }),
            /Pulumi\.comp2\.yaml, line \d+, column \d+: /,
        ],
        [
            "plan: a duplicate key",
            1,
            () => ({
                script: "offline/planner/plan.ts",
                args: ["--config-dir", badLabDir("file", "a duplicate key"), "--out", path.join(tmp("zta-out-"), "p")],
                inProcess: true,
            }),
            /Pulumi\.comp3\.yaml, line 8, column 5: Map keys must be unique/,
        ],
        [
            "plan: --config-dir that does not exist",
            1,
            () => ({
                script: "offline/planner/plan.ts",
                args: ["--config-dir", "/nonexistent-zta", "--out", path.join(tmp("zta-out-"), "p")],
                inProcess: true,
            }),
            /--config-dir \/nonexistent-zta does not exist/,
        ],
        [
            "plan: an unknown flag",
            2,
            () => ({ script: "offline/planner/plan.ts", args: ["--outdir", "x"] }),
            /plan failed: unknown argument --outdir[\s\S]*Exit codes: 0/,
        ],
        [
            "policy:plan: --plan that holds no plan",
            1,
            () => ({ script: "offline/simulate/check-policy.ts", args: ["--plan", "/nonexistent-zta"] }),
            /--plan \/nonexistent-zta: no <stack>\/resources\.json in it: write the plan first/,
        ],
        [
            "policy:plan: an unknown flag",
            2,
            () => ({ script: "offline/simulate/check-policy.ts", args: ["--plans", "x"] }),
            /policy:plan failed: unknown argument --plans[\s\S]*Exit codes: 0/,
        ],
        [
            "check:schemas: --schemas that does not exist",
            1,
            () => ({ script: "offline/check/check-schemas.ts", args: ["--schemas", "/nonexistent-zta"] }),
            /check:schemas failed: --schemas \/nonexistent-zta does not exist/,
        ],
        [
            "check:schemas: no --schemas",
            2,
            () => ({ script: "offline/check/check-schemas.ts", args: [] }),
            /--schemas DIR is required[\s\S]*Exit codes: 0/,
        ],
        [
            "verify: an unknown flag",
            2,
            () => ({ script: "verify/cli.ts", args: ["--stack", "comp2", "--colour"] }),
            /verify: Unknown option '--colour'/,
        ],
    ];

    test.each(cases)("%s exits %i", async (_label, exit, setup, message) => {
        const { script, args, cwd, inProcess } = setup();
        const r = inProcess ? await planCommandOutput(args) : cli(script, args, cwd);
        expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status: exit });
        expect(r.stdout + r.stderr).toMatch(message);
        expect(r.stdout).not.toMatch(STACK_FRAME);
        expect(r.stderr).not.toMatch(STACK_FRAME);
    });

    test("plan --out <a non-empty directory that is not a plan> exits 1 and leaves it byte-identical", async () => {
        const dir = notAPlan();
        const before = snapshot(dir);
        const r = await planCommandOutput(["--quiet", "--out", dir]);
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`--out ${dir}: ${dir} is not empty and holds no \\.zta-plan marker`));
        expect(r.stderr).not.toMatch(STACK_FRAME);
        expect(snapshot(dir)).toEqual(before);
        expect(Object.keys(before).sort()).toEqual(["comp2/thesis.tex", "notes.txt"]);
    });

    test("plan --out .. refuses the parent directory and leaves it byte-identical", () => {
        const outer = notAPlan();
        const inner = path.join(outer, "work");
        fs.mkdirSync(inner);
        const before = snapshot(outer);
        const r = cli("offline/planner/plan.ts", ["--quiet", "--out", ".."], inner);
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/--out \.\.: .* is not empty and holds no \.zta-plan marker/);
        expect(snapshot(outer)).toEqual(before);
    });
});

describe("re-planning into a plan directory replaces only what the plan wrote, and only while it is unchanged", () => {
    const plan = (version: string) =>
        new Map([
            ["comp2/resources.json", `[${version}]\n`],
            ["comp2/manifests/a.yaml", "a: 1\n"],
            ["comp3/resources.json", "[]\n"],
        ]);

    test("a directory an earlier plan wrote: its stack folders are replaced, a user's file beside them stays, the marker lists every file with its hash", () => {
        const dir = tmp("zta-replan-");
        writeOutDir(dir, ["comp2", "comp3"], new Map([...plan("1"), ["comp2/stale.json", "{}\n"]]));
        fs.writeFileSync(path.join(dir, "README.txt"), "mine\n");
        writeOutDir(dir, ["comp2", "comp3"], plan("2"));
        expect(Object.keys(snapshot(dir)).sort()).toEqual([
            PLAN_MARKER,
            "README.txt",
            "comp2/manifests/a.yaml",
            "comp2/resources.json",
            "comp3/resources.json",
        ]);
        expect(fs.readFileSync(path.join(dir, "comp2", "resources.json"), "utf8")).toBe("[2]\n");
        expect(fs.readFileSync(path.join(dir, "README.txt"), "utf8")).toBe("mine\n");
        expect(JSON.parse(fs.readFileSync(path.join(dir, PLAN_MARKER), "utf8"))).toEqual({
            tool: "zta-testbed offline plan",
            wrote: ["comp2", "comp3"],
            files: {
                "comp2/manifests/a.yaml": sha256("a: 1\n"),
                "comp2/resources.json": sha256("[2]\n"),
                "comp3/resources.json": sha256("[]\n"),
            },
        });
    });

    test.each([
        [
            "a hand-made marker without file hashes",
            (dir: string) =>
                fs.writeFileSync(
                    path.join(dir, PLAN_MARKER),
                    JSON.stringify({ tool: "zta-testbed offline plan", wrote: ["comp2", "comp3"] }),
                ),
            /without the list of files and hashes/,
        ],
        [
            "a marker that names a path outside the directory",
            (dir: string) =>
                fs.writeFileSync(
                    path.join(dir, PLAN_MARKER),
                    JSON.stringify({ tool: "zta-testbed offline plan", wrote: [".."], files: {} }),
                ),
            /names \.\., which a plan never writes/,
        ],
        [
            "a file added to a plan folder",
            (dir: string) => fs.writeFileSync(path.join(dir, "comp2", "notes.txt"), "mine\n"),
            /has comp2\/notes\.txt, which the earlier plan did not write/,
        ],
        [
            "a plan file edited",
            (dir: string) => fs.writeFileSync(path.join(dir, "comp3", "resources.json"), "[1]\n"),
            /has comp3\/resources\.json, changed since the earlier plan wrote it/,
        ],
        [
            "a plan file replaced by a symbolic link",
            (dir: string) => (
                fs.rmSync(path.join(dir, "comp3", "resources.json")),
                fs.symlinkSync("/etc/hostname", path.join(dir, "comp3", "resources.json"))
            ),
            /has comp3\/resources\.json, a symbolic link/,
        ],
    ])("%s is refused, and nothing is removed", (_label, change, message) => {
        const outer = tmp("zta-marker-");
        const dir = path.join(outer, "plan");
        writeOutDir(dir, ["comp2", "comp3"], plan("1"));
        fs.writeFileSync(path.join(outer, "precious.txt"), "keep\n");
        change(dir);
        const before = snapshot(outer);
        expect(() => writeOutDir(dir, ["comp2", "comp3"], plan("2"))).toThrow(OutDirError);
        expect(() => checkOutDir(dir, ["comp2", "comp3"])).toThrow(message);
        expect(snapshot(outer)).toEqual(before);
    });

    test("a stack folder the earlier plan did not list is refused", () => {
        const dir = tmp("zta-unlisted-");
        writeOutDir(dir, ["comp2"], new Map([["comp2/resources.json", "[]\n"]]));
        fs.mkdirSync(path.join(dir, "comp3"));
        expect(() => checkOutDir(dir, ["comp2", "comp3"])).toThrow(
            /comp3 exists but the earlier plan did not write it/,
        );
    });

    test("a new or empty directory is fine", () => {
        expect(() => checkOutDir(path.join(tmp("zta-new-"), "plan"), ["comp2"])).not.toThrow();
        expect(() => checkOutDir(tmp("zta-empty-"), ["comp2"])).not.toThrow();
    });

    test("a failure while writing leaves the earlier plan as it was, and no staging folder behind", () => {
        const dir = tmp("zta-midway-");
        writeOutDir(dir, ["comp2", "comp3"], plan("1"));
        const before = snapshot(dir);
        // comp2/a is a file and a folder at once: the write fails halfway through the new plan.
        const broken = new Map([...plan("2"), ["comp2/a", "x\n"], ["comp2/a/b", "y\n"]]);
        expect(() => writeOutDir(dir, ["comp2", "comp3"], broken)).toThrow();
        expect(snapshot(dir)).toEqual(before);
    });
});

describe("issue 27: every guarded mistake is refused by `npm run plan` with exit 1, naming file and key, and nothing changes", () => {
    test("the table covers each class of the issue", () => {
        expect(GUARD_CASES.length).toBeGreaterThanOrEqual(30);
    });

    test.each(GUARD_CASES.map((c) => [c.label, c] as const))("%s", async (_label, c) => {
        const root = tmp("zta-guard-");
        fs.cpSync(c.lab(), path.join(root, "lab"), { recursive: true });
        const args = [
            "--quiet",
            "--config-dir",
            path.join(root, "lab"),
            ...(c.args?.(root) ?? ["--out", path.join(root, "out")]),
        ];
        const before = snapshot(root);
        const r = await planCommandOutput(args);
        expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status: 1 });
        expect(r.stderr).toMatch(c.message);
        // The line that answers it names the file (or flag) it is about.
        const line = r.stderr.split("\n").find((l) => c.message.test(l)) ?? r.stderr;
        expect(line).toMatch(/Pulumi(\.[^ ]+)?\.yaml|--out|--stacks|--config-dir/);
        expect(r.stdout + r.stderr).not.toMatch(STACK_FRAME);
        // No credential, no key, ever printed.
        expect(r.stdout + r.stderr).not.toMatch(/s3cret-pass|PRIVATE KEY-----/);
        expect(r.stdout + r.stderr).not.toContain(PLAIN_KEY.split("\n")[1]);
        // Refused before anything was evaluated (no cluster summary) or written: the tree is as it was.
        expect(r.stdout).not.toMatch(/first deployment/);
        expect(snapshot(root)).toEqual(before);
    });

    test("a problem of Pulumi.yaml is reported once, under Pulumi.yaml, not under each stack file", async () => {
        const c = GUARD_CASES.find(
            (g) => g.label === "a misspelt section in Pulumi.yaml (reported once, there)",
        ) as (typeof GUARD_CASES)[number];
        const r = await planCommandOutput([
            "--quiet",
            "--config-dir",
            c.lab(),
            "--out",
            path.join(tmp("zta-once-"), "out"),
        ]);
        expect(r.stderr.split("\n").filter((l) => l.includes("netwrokPolicy"))).toEqual([
            expect.stringMatching(/^ {2}- Pulumi\.yaml: zta-testbed:netwrokPolicy is not a known setting/),
        ]);
    });

    test("the opt-ins let the value through, and every preview warns", async () => {
        const dir = labDirWith((_s, raw) => {
            raw.networkPolicy = { egressCidrs: ["0.0.0.0/0"], allowBroadEgress: true };
        });
        const r = await planCommandOutput([
            "--quiet",
            "--config-dir",
            dir,
            "--out",
            path.join(tmp("zta-optin-"), "out"),
        ]);
        expect(r.status).toBe(0);
        expect(r.stdout.split("\n").filter((l) => l.includes("allowBroadEgress")).length).toBeGreaterThanOrEqual(2);
        expect(r.stdout).toContain(
            "warning: zta-testbed:networkPolicy.allowBroadEgress is true: every pod of every segmented namespace, SPIRE's included, may reach 0.0.0.0/0",
        );
    });
});

describe("checks the real engine runs against the peer's outputs", () => {
    test("a peer-role stack whose root stack signed its requests under another name is refused before anything is declared", () => {
        const cfg = parseLabConfig("comp3", rawConfig("comp3"), new Set(["sshPrivateKey"]));
        const root = { stack: "comp2", identity: { clusterName: "cluster1" } as ClusterIdentity };
        expect(intermediatesProblems(cfg, { ...root, signedClusters: ["cluster1", "cluster2"] })).toEqual([]);
        expect(intermediatesProblems(cfg, { ...root, signedClusters: ["cluster1", "cluster9"] })).toEqual([
            'root stack "comp2" signed intermediates for "cluster1", "cluster9" but not for this cluster, zta-testbed:cluster.name = "cluster2": the roster it last ran with named this stack\'s cluster otherwise; ' +
                'run `pulumi up` on "comp2" first, with this Pulumi.yaml (its zta-testbed:roster entry for this stack says clusterName: cluster2)',
        ]);
        // The root signed only for itself: not yet for this cluster, which stacks/layers/pki.ts warns about.
        expect(intermediatesProblems(cfg, { ...root, signedClusters: ["cluster1"] })).toEqual([]);
        expect(intermediatesProblems(cfg, { stack: "comp2" })).toEqual([]);
        expect(intermediatesProblems(cfg, undefined)).toEqual([]);
    });
});

describe("what the Pulumi engine would refuse is wrong input", () => {
    test("an EngineRuleError exits 1, as a bad stack file does; an error of the program itself exits 2", () => {
        expect(
            planExitCode(
                new EngineRuleError(
                    "the Pulumi engine refuses urn:pulumi:comp2::zta-testbed::x::y: Duplicate resource URN",
                ),
            ),
        ).toBe(1);
        expect(planExitCode(new TypeError("x is undefined"))).toBe(2);
    });
});

describe("a root stack that ran with another clusterName for this stack, seen from the peer under the engine", () => {
    test("the peer stack's run is refused with its stack file and the fix, and the evaluation rejects cleanly", async () => {
        const lab = await planOf();
        const root = stackOf(lab, "comp2").outputs;
        // As the root stack would have exported it had it signed comp3's requests under the roster's clusterName "cluster9".
        const signed = root.signedIntermediates.value as Record<string, unknown>;
        const misnamed = {
            ...root,
            signedIntermediates: {
                ...root.signedIntermediates,
                value: { cluster1: signed.cluster1, cluster9: signed.cluster2 },
            },
        };
        const file = readStackConfig(REPO, "comp3");
        await expect(
            evaluateStack({
                project: "zta-testbed",
                stack: "comp3",
                config: file.config,
                secretKeys: file.secretKeys,
                deployed: { comp2: misnamed },
                program: main,
            }),
        ).rejects.toThrow(
            /Pulumi\.comp3\.yaml: root stack "comp2" signed intermediates for "cluster1", "cluster9" but not for this cluster, zta-testbed:cluster\.name = "cluster2": the roster it last ran with named this stack's cluster otherwise; run `pulumi up` on "comp2" first/,
        );
    });
});

describe("under the engine, a private key in a stack file is refused before anything is declared", () => {
    test("the program reads its stack file at the project root and names the key, never the key itself", async () => {
        const dir = labDirWith(() => undefined);
        const file = path.join(dir, "Pulumi.comp2.yaml");
        fs.writeFileSync(
            file,
            fs
                .readFileSync(file, "utf8")
                .replace("config:\n", `config:\n  zta-testbd:sshPrivateKey: ${JSON.stringify(PLAIN_KEY)}\n`),
        );
        // The engine runs the program at the project root; the mock runtime has none, so the test gives it.
        const root = jest.spyOn(pulumi.runtime, "getRootDirectory").mockReturnValue(dir);
        try {
            const stack = readStackConfig(REPO, "comp2");
            const run = evaluateStack({
                project: "zta-testbed",
                stack: "comp2",
                config: stack.config,
                secretKeys: stack.secretKeys,
                program: main,
            });
            await expect(run).rejects.toThrow(
                /Pulumi\.comp2\.yaml: zta-testbd:sshPrivateKey holds a private key in plain text \(PEM "PRIVATE KEY", not shown\)/,
            );
            await expect(run).rejects.not.toThrow(PLAIN_KEY.split("\n")[1]);
        } finally {
            root.mockRestore();
        }
    });
});

describe("a brought kubeconfig is checked before anything is declared", () => {
    test.each([
        ["an empty one", "", /^is empty: set it again/],
        ["one that is not YAML", "clusters: [", /^does not parse as a kubeconfig/],
        [
            "one without a current context",
            "apiVersion: v1\nkind: Config\nclusters: []\n",
            /^has no current-context with a cluster server/,
        ],
    ])("%s is named, never shown", (_label, text, message) => {
        expect(brokenKubeconfig(text)).toMatch(message);
    });

    test("the program refuses it with the stack file and key, and the evaluation rejects cleanly", async () => {
        const file = readStackConfig(byoLabDir(), "comp2");
        const config = { ...file.config, "zta-testbed:kubeconfig": "clusters: [" };
        await expect(
            evaluateStack({
                project: "zta-testbed",
                stack: "comp2",
                config,
                secretKeys: file.secretKeys,
                program: main,
            }),
        ).rejects.toThrow(
            /Pulumi\.comp2\.yaml: zta-testbed:kubeconfig \(secret, not shown\) does not parse as a kubeconfig/,
        );
        expect(brokenKubeconfig(file.config["zta-testbed:kubeconfig"])).toBeUndefined();
    });
});

describe("verify answers in one line", () => {
    test("an unknown stack: the Automation API's raw text becomes what to do", () => {
        // The shape of @pulumi/pulumi/automation's StackNotFoundError: its message is the CLI's whole output.
        const err = Object.assign(
            new Error("code: 255\n stdout: \n stderr: error: no stack named 'comp9' found\n err?: \n"),
            {
                name: "StackNotFoundError",
                commandResult: { code: 255, stderr: "error: no stack named 'comp9' found\n" },
            },
        );
        expect(pulumiErrorMessage(err, "comp9")).toBe(
            'no stack named "comp9" in the Pulumi backend you are logged in to: `pulumi stack ls` lists its stacks (`pulumi whoami -v` shows the backend)',
        );
        const other = Object.assign(
            new Error("code: 255\n stdout: \n stderr: warning: x\nerror: PULUMI_ACCESS_TOKEN must be set\n"),
            {
                commandResult: { code: 255, stderr: "warning: x\nerror: PULUMI_ACCESS_TOKEN must be set\n" },
            },
        );
        expect(pulumiErrorMessage(other, "comp2")).toBe("the Pulumi CLI said: error: PULUMI_ACCESS_TOKEN must be set");
    });

    test.each([
        ["an empty kubeconfig", "", "it is empty"],
        [
            "a kubeconfig with no cluster",
            "apiVersion: v1\nkind: Config\n",
            "its current-context names no cluster with a server URL",
        ],
    ])("%s is named, not a JavaScript error", (_label, kubeconfig, message) => {
        expect(() => new KubeCluster(kubeconfig, 1000, 1000)).toThrow(message);
    });
});

describe("the plan refuses any value that was secret anywhere in the program", () => {
    type Leak = "resource" | "base64" | "output" | "config" | "none";
    const program = (leak: Leak) => async () => {
        const password = new random.RandomPassword("admin", { length: 32, special: false });
        const provider = new k8s.Provider("k8s", { kubeconfig: pulumi.secret("apiVersion: v1") });
        const value = leak === "resource" ? pulumi.unsecret(password.result) : password.result;
        // A ConfigMap's data is plain: the password must stay a secret Output for the plan to redact it.
        new k8s.core.v1.ConfigMap("admin", { metadata: { name: "admin" }, data: { password: value } }, { provider });
        if (leak === "base64") {
            // binaryData holds base64, as a Secret's data does: only the guard's base64 form of the password matches it.
            const encoded = pulumi.unsecret(password.result).apply((p) => Buffer.from(p).toString("base64"));
            new k8s.core.v1.ConfigMap(
                "admin-binary",
                { metadata: { name: "admin-binary" }, binaryData: { password: encoded } },
                { provider },
            );
        }
        if (leak === "output") return { adminPassword: pulumi.unsecret(password.result) };
        if (leak === "config")
            return { token: pulumi.unsecret(new pulumi.Config("zta-testbed").requireSecret("apiToken")) };
        return { adminPassword: password.result };
    };
    const evaluate = async (leak: Leak): Promise<StackPlan> => ({
        ...(await evaluateStack({
            project: "zta-testbed",
            stack: "comp2",
            config: { "zta-testbed:apiToken": "a-token-that-is-secret-config" },
            secretKeys: ["zta-testbed:apiToken"],
            program: program(leak),
        })),
        standIns: [],
    });

    test("a program that keeps its secrets passes", async () => {
        const plan = await evaluate("none");
        expect(plan.secretValues).toContain("MOCK-PASSWORD(RandomPassword/admin)");
        expect(plan.secretValues).toContain("a-token-that-is-secret-config");
        expect(() => assertNoSecrets(plan)).not.toThrow();
    });

    test.each([
        [
            "a generated password passed on as a plain resource input",
            "resource" as const,
            /comp2\/resources\.json \(inputs of kubernetes:core\/v1:ConfigMap admin\)/,
        ],
        ["a generated password exported as a plain output", "output" as const, /comp2\/outputs\.json/],
        ["a secret config value exported as a plain output", "config" as const, /comp2\/outputs\.json/],
    ])("%s is refused, without printing it", async (_label, leak, where) => {
        const plan = await evaluate(leak);
        let err: Error | undefined;
        try {
            assertNoSecrets(plan);
        } catch (e) {
            err = e as Error;
        }
        expect(err?.message).toMatch(
            /a value that is secret elsewhere in the program would be written in plain text to /,
        );
        expect(err?.message).toMatch(where);
        expect(err?.message).not.toMatch(/MOCK-PASSWORD|a-token-that-is-secret/);
        expect(planExitCode(err)).toBe(1);
    });

    test("a generated password written base64-encoded into a resource's data is found by its base64 form, and named", async () => {
        const plan = await evaluate("base64");
        const binary = plan.resources.find((r) => r.name === "admin-binary") as unknown as {
            inputs: { binaryData: { password: string } };
        };
        // The plain password is nowhere in the plan: only the base64 needle can see it.
        expect(binary.inputs.binaryData.password).toBe(
            Buffer.from("MOCK-PASSWORD(RandomPassword/admin)").toString("base64"),
        );
        expect(JSON.stringify(plan.resources)).not.toContain("MOCK-PASSWORD(");
        expect(() => assertNoSecrets(plan)).toThrow(
            "offline plan: a value that is secret elsewhere in the program would be written in plain text to comp2/resources.json (inputs of kubernetes:core/v1:ConfigMap admin-binary) (a 35-character value, base64-encoded; not shown)",
        );
        expect(() => planFiles(plan)).toThrow(SecretLeakError);
    });

    test("the write-time guard names the resource and the key that carries key material", () => {
        const plan: StackPlan = {
            stack: "comp2",
            resources: [
                {
                    type: "kubernetes:core/v1:ConfigMap",
                    name: "tls",
                    urn: "urn:x",
                    parent: null,
                    custom: true,
                    inputs: {
                        kind: "ConfigMap",
                        metadata: { name: "tls" },
                        data: { "tls.key": "-----BEGIN EC PRIVATE KEY-----\nAAAA\n" },
                    },
                } as never,
            ],
            outputs: {},
            warnings: [],
            secretValues: [],
            standIns: [],
        } as unknown as StackPlan;
        expect(() => planFiles(plan)).toThrow(
            /secret material would be written to comp2\/resources\.json \(input data\.tls\.key of kubernetes:core\/v1:ConfigMap tls\)/,
        );
    });
});
