import { KubeConfig } from "@kubernetes/client-node";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, fullKey, inStackFile, LabConfig, parseLabConfig, PROJECT, RawConfig, SECRET_KEYS, SecretKey } from "./config";

/** Config keys read as plain values (objects are JSON-parsed by Pulumi). */
export const PLAIN_KEYS = ["cluster", "host", "mesh", "metallb", "versions", "registry", "jwt", "peer", "peers", "pki", "addons", "samples", "cilium", "spire", "charts", "ingress", "networkPolicy", "issuer"] as const;

/** Secret config values, kept as secret Outputs from the moment they are read. */
export type StackSecrets = Partial<Record<SecretKey, pulumi.Output<string>>>;

/** Reads and validates this stack's configuration; throws ConfigError before any resource is declared. */
export function loadConfig(stack: string): { cfg: LabConfig; secrets: StackSecrets } {
    const config = new pulumi.Config(PROJECT);
    const unknown = Object.keys(pulumi.runtime.allConfig())
        .filter((k) => k.startsWith(`${PROJECT}:`))
        .map((k) => k.slice(PROJECT.length + 1))
        .filter((k) => !(PLAIN_KEYS as readonly string[]).includes(k) && !(SECRET_KEYS as readonly string[]).includes(k));
    if (unknown.length > 0) {
        throw new ConfigError(inStackFile(stack, unknown.map((k) => `${fullKey(k)} is not a known setting: check the spelling against the README's configuration table`)));
    }
    const raw: RawConfig = Object.fromEntries(PLAIN_KEYS.map((k) => [k, config.getObject<unknown>(k)]));
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
