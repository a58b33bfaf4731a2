// `npm run verify -- --stack <comp2|comp3>`: proves the deployed testbed is
// zero-trust, cross-cluster, with SPIRE identities. See docs/verify.md.
import { readFileSync } from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { CHECKS } from "./catalog";
import { VerifyOptions } from "./check";
import { Cluster, KubeCluster, ScopedReview, selfAccessReview } from "./cluster";
import { clientCredentialsToken, HttpGet, httpStatus, TokenFetch } from "./ingress";
import { CheckResult, formatResult, Report, reportOf, runChecks } from "./runner";
import type { StackAccess } from "./stack";

export const EXIT = { ok: 0, failed: 1, cannotVerify: 2 } as const;

export const DEFAULTS = { timeout: 30, connectTimeout: 10, requests: 20, ingressPath: "/headers" };

export function helpText(): string {
    const checks = CHECKS.map((c) => `  ${c.id}\n      ${c.proves}`).join("\n");
    return `Usage: npm run verify -- --stack <comp2|comp3> [options]

Checks the deployed testbed of a stack, after \`pulumi up\`. Reads the stack's
outputs and config (and its peer's outputs) with the Pulumi Automation API,
then talks to the cluster with its kubeconfig (API reads and exec, no kubectl)
and to the ingress gateway over HTTP. One PASS/FAIL line per check.

Checks, in order:
${checks}

Options:
  --stack <name>           the stack to verify (required)
  --json                   print a JSON report on stdout instead of PASS/FAIL lines
  --timeout <seconds>      bound of each check and of each API request (default ${DEFAULTS.timeout})
  --connect-timeout <s>    bound of the first contact with the API server (default ${DEFAULTS.connectTimeout})
  --requests <n>           helloworld calls in cross-cluster-traffic (default ${DEFAULTS.requests})
  --token <jwt>            a valid token for ingress-jwt (default: one from the lab issuer)
  --token-file <path>      the same, read from a file
  --ingress-path <path>    path requested at the ingress (default ${DEFAULTS.ingressPath})
  --ingress-host <host>    Host header for the ingress requests (default: the address)
  --only <id,...>          run only these checks
  --skip <id,...>          leave these checks out (reported as SKIP)
  --help                   this text

Progress goes to stderr. Exit codes: ${EXIT.ok} every check passed (or was skipped);
${EXIT.failed} a check failed; ${EXIT.cannotVerify} verify could not run (bad option, stack
unreadable, API server unreachable).
`;
}

/** What main needs from the outside world; tests pass fakes. */
export interface VerifyDeps {
    readStack(stack: string): Promise<StackAccess>;
    makeCluster(kubeconfig: string, timeoutMs: number, connectTimeoutMs: number): Cluster;
    /** SelfSubjectAccessReviews with a kubeconfig's credentials (a remote secret's), each bounded by timeoutMs. */
    accessReview(kubeconfig: string, timeoutMs: number): ScopedReview;
    readonly http: HttpGet;
    readonly fetchToken: TokenFetch;
    readFile(file: string): string;
    out(text: string): void;
    progress(text: string): void;
    now(): Date;
}

class UsageError extends Error {}

interface Parsed {
    stack: string;
    json: boolean;
    connectTimeoutMs: number;
    skip: Set<string>;
    options: VerifyOptions;
}

function seconds(value: string | undefined, flag: string, fallback: number): number {
    if (value === undefined) return fallback * 1000;
    const n = Number(value);
    if (!(n > 0)) throw new UsageError(`${flag} must be a positive number of seconds, got "${value}"`);
    return n * 1000;
}

function checkIds(value: string | undefined, flag: string): string[] {
    if (value === undefined) return [];
    const ids = value
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
    const unknown = ids.filter((id) => !CHECKS.some((c) => c.id === id));
    if (unknown.length > 0)
        throw new UsageError(
            `${flag}: unknown check ${unknown.join(", ")} (checks: ${CHECKS.map((c) => c.id).join(", ")})`,
        );
    return ids;
}

function parse(argv: string[], deps: VerifyDeps): Parsed | "help" {
    let values;
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                stack: { type: "string" },
                json: { type: "boolean" },
                timeout: { type: "string" },
                "connect-timeout": { type: "string" },
                requests: { type: "string" },
                token: { type: "string" },
                "token-file": { type: "string" },
                "ingress-path": { type: "string" },
                "ingress-host": { type: "string" },
                only: { type: "string" },
                skip: { type: "string" },
                help: { type: "boolean", short: "h" },
            },
            strict: true,
        }));
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
    if (values.help) return "help";
    if (!values.stack) throw new UsageError("--stack is required (comp2 or comp3)");
    const requests = values.requests === undefined ? DEFAULTS.requests : Number(values.requests);
    if (!Number.isInteger(requests) || requests < 2)
        throw new UsageError(`--requests must be an integer of at least 2, got "${values.requests}"`);
    if (values.token !== undefined && values["token-file"] !== undefined)
        throw new UsageError("give --token or --token-file, not both");
    let token = values.token?.trim();
    if (values["token-file"] !== undefined) {
        try {
            token = deps.readFile(values["token-file"]).trim();
        } catch (err) {
            throw new UsageError(`--token-file: ${(err as Error).message}`);
        }
    }

    const only = checkIds(values.only, "--only");
    const skip = new Set(checkIds(values.skip, "--skip"));
    if (only.length > 0) for (const c of CHECKS) if (!only.includes(c.id)) skip.add(c.id);

    return {
        stack: values.stack,
        json: values.json ?? false,
        connectTimeoutMs: seconds(values["connect-timeout"], "--connect-timeout", DEFAULTS.connectTimeout),
        skip,
        options: {
            timeoutMs: seconds(values.timeout, "--timeout", DEFAULTS.timeout),
            requests,
            ingressPath: values["ingress-path"] ?? DEFAULTS.ingressPath,
            ingressHost: values["ingress-host"],
            token: token === "" ? undefined : token,
            now: () => deps.now(),
        },
    };
}

/** Runs verify; resolves with the exit code. */
export async function main(argv: string[], deps: VerifyDeps): Promise<number> {
    let parsed: Parsed | "help";
    try {
        parsed = parse(argv, deps);
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        deps.progress(`verify: ${err.message}\n\n${helpText()}`);
        return EXIT.cannotVerify;
    }
    if (parsed === "help") {
        deps.out(helpText());
        return EXIT.ok;
    }
    const { stack, json, options } = parsed;
    const cannotVerify = (endpoint: string, message: string) => {
        deps.progress(`verify: ${message}\n`);
        if (json)
            deps.out(
                JSON.stringify({ stack, endpoint, ok: false, error: message, results: [] } satisfies Report, null, 2) +
                    "\n",
            );
        return EXIT.cannotVerify;
    };

    deps.progress(`verify: reading stack "${stack}" (Pulumi Automation API)\n`);
    let access: StackAccess;
    try {
        access = await deps.readStack(stack);
    } catch (err) {
        return cannotVerify("", `cannot read stack "${stack}": ${(err as Error).message}`);
    }

    let cluster: Cluster;
    try {
        cluster = deps.makeCluster(access.kubeconfig, options.timeoutMs, parsed.connectTimeoutMs);
    } catch (err) {
        return cannotVerify("", `the kubeconfig of stack "${stack}" is not usable: ${(err as Error).message}`);
    }
    deps.progress(`verify: contacting the Kubernetes API of stack "${stack}" at ${cluster.endpoint}\n`);
    try {
        await cluster.probe();
    } catch (err) {
        return cannotVerify(
            cluster.endpoint,
            `cannot reach the Kubernetes API of stack "${stack}" at ${cluster.endpoint}: ${(err as Error).message}`,
        );
    }

    const results: CheckResult[] = await runChecks(
        CHECKS,
        {
            cluster,
            http: deps.http,
            fetchToken: deps.fetchToken,
            target: access.target,
            options,
            accessReview: (kubeconfig) => deps.accessReview(kubeconfig, options.timeoutMs),
        },
        parsed.skip,
        {
            started: (check, i, total) => deps.progress(`[${i + 1}/${total}] ${check.id}: ${check.title} ...\n`),
            finished: (r) => {
                if (!json) deps.out(formatResult(r) + "\n");
            },
        },
    );
    const report = reportOf(stack, cluster.endpoint, results);
    if (json) deps.out(JSON.stringify(report, null, 2) + "\n");
    else {
        const failed = results.filter((r) => r.status === "fail").map((r) => r.id);
        deps.out(
            failed.length === 0
                ? `verify: stack "${stack}": all checks passed\n`
                : `verify: stack "${stack}": FAILED ${failed.join(", ")}\n`,
        );
    }
    return report.ok ? EXIT.ok : EXIT.failed;
}

/** The real world: the Automation API from the repository root, client-node, node:http. */
export const realDeps: VerifyDeps = {
    // Imported only here, so --help needs neither the Pulumi CLI nor a stack.
    readStack: async (stack) => (await import("./stack")).readStack(stack, path.resolve(__dirname, "..")),
    makeCluster: (kubeconfig, timeoutMs, connectTimeoutMs) => new KubeCluster(kubeconfig, timeoutMs, connectTimeoutMs),
    accessReview: selfAccessReview,
    http: httpStatus,
    fetchToken: clientCredentialsToken,
    readFile: (file) => readFileSync(file, "utf8"),
    out: (text) => void process.stdout.write(text),
    progress: (text) => void process.stderr.write(text),
    now: () => new Date(),
};

if (require.main === module) {
    main(process.argv.slice(2), realDeps).then(
        (code) => process.exit(code),
        (err) => {
            // An error of verify itself: one line, no stack (ZTA_DEBUG=1 shows it, for a bug report).
            process.stderr.write(`verify could not run: ${err instanceof Error ? err.message : String(err)}\n`);
            if (process.env.ZTA_DEBUG) console.error(err);
            process.exit(EXIT.cannotVerify);
        },
    );
}
