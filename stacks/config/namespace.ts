// The project's config namespace and files: how a key is written in a stack file and in
// messages. Imports nothing, so every part of the config can name keys.
/** The Pulumi project name, which is also the config namespace. */
export const PROJECT = "zta-testbed";

/** Where a key is set: once for the lab in Pulumi.yaml's `config:` block, or per cluster in Pulumi.<stack>.yaml. */
export type Scope = "project" | "stack";

/** The project file, whose `config:` block holds the lab-wide keys (Pulumi project-level config). */
export const PROJECT_FILE = "Pulumi.yaml";

/** The documentation page with the full per-key table (generated from this schema). */
export const CONFIG_DOC = "docs/config.md";

/** A config key as a stack file and messages write it: `zta-testbed:cluster.id`. */
export function fullKey(path: string): string {
    return `${PROJECT}:${path}`;
}

/** A key of this project's namespace without it ("zta-testbed:cluster" is "cluster"); undefined for a key of another namespace, or of none. */
export function ownKey(full: string): string | undefined {
    return full.startsWith(`${PROJECT}:`) ? full.slice(PROJECT.length + 1) : undefined;
}
