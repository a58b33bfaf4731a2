// Reading a stack's raw configuration, one way for every reader: keys of this
// project's namespace, without it, each value as the schema takes it. Under the
// engine Pulumi hands the program the merged config (rawConfigOf), as the CLI
// does verify; the offline plan and the tests read the files themselves
// (readRawConfig: Pulumi.yaml's config block with the stack file's keys over it,
// as Pulumi merges them). Either way the files are guarded first: no private key
// in plain text under any key, no lab-wide key in a stack file.
import { KubeConfig } from "@kubernetes/client-node";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { mergedConfig, plainKeyProblems, projectFileIn, readProjectFile, readStackFile } from "./files";
import { LabConfig } from "./lab-config";
import { ConfigError, inStackFile, labWideKeyProblems, RawOrigin, stackFileOf } from "./messages";
import { parseLabConfig } from "./parse";
import { fullKey, ownKey, PROJECT, PROJECT_FILE } from "./namespace";
import { RawConfig, SECRET_KEYS, SecretKey } from "./schema";

/** Secret config values, kept as secret Outputs from the moment they are read. */
export type StackSecrets = Partial<Record<SecretKey, pulumi.Output<string>>>;

const isSecretKey = (key: string): key is SecretKey => (SECRET_KEYS as readonly string[]).includes(key);

/** A config value as Pulumi hands it over: objects and lists as JSON text, anything else as it was written. */
function parsed(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/**
 * The plain values of config as Pulumi hands it over (to the program, or through
 * the CLI to verify): namespaced keys, each value as text (objects as JSON). Keys
 * of other namespaces and the secret keys are left out.
 */
export function rawConfigOf(all: Readonly<Record<string, string>>): RawConfig {
    return Object.fromEntries(
        Object.entries(all).flatMap(([full, text]) => {
            const key = ownKey(full);
            return key === undefined || isSecretKey(key) ? [] : [[key, parsed(text)]];
        }),
    );
}

/** The secret keys set in config as Pulumi hands it over, with their values. */
export function secretsOf(all: Readonly<Record<string, string>>): Partial<Record<SecretKey, string>> {
    return Object.fromEntries(
        SECRET_KEYS.flatMap((key) => (all[fullKey(key)] === undefined ? [] : [[key, all[fullKey(key)]]])),
    );
}

/**
 * A stack's two config files in `dir`, read and guarded: no private key in plain
 * text under any key of either, no lab-wide key in the stack file. Under the
 * engine (`projectFile: "if present"`) a project without Pulumi.yaml is read as
 * having no project config; the offline plan requires one.
 */
function readConfigFiles(dir: string, stack: string, projectFile: "required" | "if present" = "required") {
    const file = path.join(dir, stackFileOf(stack));
    const own = readStackFile(file);
    const project =
        projectFile === "required" || fs.existsSync(path.join(dir, PROJECT_FILE))
            ? readProjectFile(projectFileIn(dir))
            : undefined;
    const keys = [
        ...(project ? plainKeyProblems(PROJECT_FILE, project.block) : []),
        ...plainKeyProblems(stackFileOf(stack), own.config),
    ];
    if (keys.length > 0) throw new ConfigError(keys);
    const drift = labWideKeyProblems(stack, Object.keys(own.config));
    if (drift.length > 0) throw new ConfigError(drift);
    return { file, own, project: project ?? { config: {}, block: {}, written: {} } };
}

/** Whether a config value is encrypted (`{secure: ...}`, as `pulumi config set --secret` writes it). */
export function isSecure(value: unknown): boolean {
    return value !== null && typeof value === "object" && "secure" in value;
}

/**
 * A stack's raw configuration from its files in `dir`: `merged` is the config
 * Pulumi would hand the program (namespaced, values as in the YAML, encrypted
 * ones as `{secure: ...}`), `raw` its plain values keyed without namespace (what
 * parseLabConfig takes), `origin` where each came from, for the messages. A
 * secret key in plain text is refused.
 */
export function readRawConfig(
    dir: string,
    stack: string,
): { merged: Record<string, unknown>; raw: Record<string, unknown>; origin: RawOrigin } {
    const { file, own, project } = readConfigFiles(dir, stack);
    const merged = mergedConfig(project.config, own.config);
    const projectKeys = new Set(
        Object.keys(project.config)
            .filter((k) => !(k in own.config))
            .map((k) => ownKey(k) ?? k),
    );
    const written = {
        ...Object.fromEntries(Object.entries(project.written).filter(([k]) => projectKeys.has(k.split(/[.[]/)[0]))),
        ...own.written,
    };
    const raw: Record<string, unknown> = {};
    for (const [full, value] of Object.entries(merged)) {
        const key = ownKey(full);
        if (key !== undefined && isSecretKey(key) && !isSecure(value)) {
            throw new ConfigError([
                `${full} is in plain text in ${file}: remove it and run \`pulumi config set --secret ${full}\``,
            ]);
        }
        if (key !== undefined && !isSecure(value)) raw[key] = value;
    }
    return { merged, raw, origin: { projectKeys, written } };
}

/**
 * Reads and validates this stack's configuration (Pulumi has merged Pulumi.yaml's
 * project config under the stack file's); throws ConfigError before any resource
 * is declared. Every key of the namespace goes to the schema, which refuses the
 * unknown ones with the nearest valid key.
 */
export function loadConfig(stack: string): { cfg: LabConfig; secrets: StackSecrets } {
    const config = new pulumi.Config(PROJECT);
    // Pulumi merges the two files, so only the stack file itself tells where a lab-wide key was set.
    // Under the engine the program runs at the project root; in the offline plan (no root) the
    // plan has checked the stack files itself before anything is evaluated.
    const root = pulumi.runtime.getRootDirectory();
    if (root && fs.existsSync(path.join(root, stackFileOf(stack)))) readConfigFiles(root, stack, "if present");
    const raw = rawConfigOf(pulumi.runtime.allConfig());
    const secrets: StackSecrets = {};
    for (const key of SECRET_KEYS) {
        const value = config.getSecret(key);
        if (value !== undefined) secrets[key] = value;
    }
    // A brought kubeconfig is checked here, before anything is declared, not inside an Output
    // where a mistake would surface as an unhandled rejection. Its text is never in a message.
    const kubeconfigProblem = secrets.kubeconfig ? brokenKubeconfig(config.get("kubeconfig") ?? "") : undefined;
    if (kubeconfigProblem)
        throw new ConfigError(
            inStackFile(stack, [`${fullKey("kubeconfig")} (secret, not shown) ${kubeconfigProblem}`]),
        );
    const cfg = parseLabConfig(stack, raw, new Set(Object.keys(secrets) as SecretKey[]));
    return { cfg, secrets };
}

/** What is wrong with a brought kubeconfig, or undefined: it must parse and name a server in its current context. */
export function brokenKubeconfig(text: string): string | undefined {
    const fix = "set it again with `pulumi config set --secret zta-testbed:kubeconfig < kubeconfig.yaml`";
    if (text.trim() === "") return `is empty: ${fix}`;
    const kc = new KubeConfig();
    try {
        kc.loadFromString(text);
    } catch {
        return `does not parse as a kubeconfig: ${fix}`;
    }
    if (!kc.getCurrentCluster()?.server)
        return `has no current-context with a cluster server: set current-context, or ${fix}`;
    return undefined;
}
