import { KubeConfig } from "@kubernetes/client-node";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { plainKeyProblems, readProjectFile, readStackFileConfig } from "./files";
import { LabConfig } from "./lab-config";
import { ConfigError, inStackFile, labWideKeyProblems, stackFileOf } from "./messages";
import { parseLabConfig } from "./parse";
import { fullKey, PROJECT, PROJECT_FILE, RawConfig, SECRET_KEYS, SecretKey } from "./schema";

/** Secret config values, kept as secret Outputs from the moment they are read. */
export type StackSecrets = Partial<Record<SecretKey, pulumi.Output<string>>>;

/** A config value as Pulumi hands it over: objects and lists as JSON text, anything else as it was written. */
function parsed(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
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
    const stackFile = root ? path.join(root, stackFileOf(stack)) : undefined;
    if (stackFile && fs.existsSync(stackFile)) {
        const own = readStackFileConfig(stackFile);
        // A private key in plain text under any key is refused before anything is declared, as the offline plan does.
        const projectFile = path.join(root as string, PROJECT_FILE);
        const keys = [...(fs.existsSync(projectFile) ? plainKeyProblems(PROJECT_FILE, readProjectFile(projectFile).block) : []), ...plainKeyProblems(stackFileOf(stack), own)];
        if (keys.length > 0) throw new ConfigError(keys);
        const drift = labWideKeyProblems(stack, Object.keys(own));
        if (drift.length > 0) throw new ConfigError(drift);
    }
    const raw: RawConfig = Object.fromEntries(
        Object.entries(pulumi.runtime.allConfig())
            .filter(([k]) => k.startsWith(`${PROJECT}:`))
            .map(([k, v]) => [k.slice(PROJECT.length + 1), parsed(v)] as const)
            .filter(([k]) => !(SECRET_KEYS as readonly string[]).includes(k)),
    );
    const secrets: StackSecrets = {};
    for (const key of SECRET_KEYS) {
        const value = config.getSecret(key);
        if (value !== undefined) secrets[key] = value;
    }
    // A brought kubeconfig is checked here, before anything is declared, not inside an Output
    // where a mistake would surface as an unhandled rejection. Its text is never in a message.
    const kubeconfigProblem = secrets.kubeconfig ? brokenKubeconfig(config.get("kubeconfig") ?? "") : undefined;
    if (kubeconfigProblem) throw new ConfigError(inStackFile(stack, [`${fullKey("kubeconfig")} (secret, not shown) ${kubeconfigProblem}`]));
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
    if (!kc.getCurrentCluster()?.server) return `has no current-context with a cluster server: set current-context, or ${fix}`;
    return undefined;
}
