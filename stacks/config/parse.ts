// Parsing a stack's configuration: the schema first, then the defaults that
// depend on other keys, then the rules between keys; every problem at once, each
// naming the file its key is set in.
import { crossFieldProblems, dependentProblems, labAddressProblems } from "./cross-field";
import { LabConfig, resolve } from "./lab-config";
import { ConfigError, RawOrigin, schemaProblems, stackFileOf } from "./messages";
import { withoutRetiredKeys } from "./roster";
import { CONFIG_SCHEMA, RawConfig, SecretKey } from "./schema";

/** Secrets this configuration needs, given the raw (unvalidated) values. */
export function requiredSecrets(raw: RawConfig): SecretKey[] {
    const access: SecretKey = raw.host === undefined ? "kubeconfig" : "sshPrivateKey";
    const pki = raw.pki as Record<string, unknown> | undefined;
    return pki?.rootCaCert === undefined ? [access] : [access, "rootCaKey"];
}

/**
 * Validates raw configuration (the stack's keys over the project's, as Pulumi
 * merges them). `secretsSet` says which secret keys have a value; secret values
 * themselves never pass through here. Every problem is reported at once, each
 * prefixed with the file its key is set in.
 */
export function parseLabConfig(
    stack: string,
    raw: RawConfig,
    secretsSet: ReadonlySet<SecretKey>,
    origin: RawOrigin = {},
): LabConfig {
    const { rest, problems: retired } = withoutRetiredKeys(stack, raw);
    const inStack = retired.map((text) => `${stackFileOf(stack)}: ${text}`);
    const parsed = CONFIG_SCHEMA.safeParse(rest);
    if (!parsed.success) {
        // A retired roster's message already says what to write in place of a missing `roster`.
        const unset = retired.length > 0 && rest.roster === undefined;
        const issues = parsed.error.issues.filter((i) => !unset || i.path.join(".") !== "roster");
        throw new ConfigError([
            ...inStack,
            ...schemaProblems(stack, rest, issues, origin).map((p) => `${p.file}: ${p.text}`),
        ]);
    }
    if (inStack.length > 0) throw new ConfigError(inStack);
    const config = resolve(stack, parsed.data);
    const own = dependentProblems(rest, parsed.data, config, origin);
    // Checks across fields run only on values that parsed, so one mistake is reported once.
    const problems =
        own.length > 0
            ? own
            : [...crossFieldProblems(config, secretsSet), ...labAddressProblems(config)].map((text) => ({
                  file: stackFileOf(stack),
                  text,
              }));
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `${p.file}: ${p.text}`));
    return config;
}
