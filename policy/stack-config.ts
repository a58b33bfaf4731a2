// The one piece of stack config a policy needs (the lab registry), read from
// the committed stack file: @pulumi/policy 1.21 does not hand stack config
// to a pack (its configureStack keeps only the stack tags).
import * as fs from "fs";
import * as path from "path";
import { PROJECT } from "../stacks/config";
import { readStackFileConfig } from "../stacks/stackfile";
/** The repo root, where Pulumi.<stack>.yaml lives: the pack runs from policy/. */
const REPO = path.resolve(__dirname, "..");

/** The stack name of a URN: urn:pulumi:<stack>::<project>::<type>::<name>. */
export function stackOfUrn(urn: string): string | undefined {
    const m = /^urn:pulumi:([^:]+)::/.exec(urn);
    return m?.[1];
}

/** "host:port" of zta-testbed:registry in configDir/Pulumi.<stack>.yaml, or undefined when the file or key is missing. */
export function labRegistryFromStackFile(configDir: string, stack: string): string | undefined {
    const file = path.join(configDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) return undefined;
    const registry = readStackFileConfig(file)[`${PROJECT}:registry`] as { host?: unknown; port?: unknown } | undefined;
    if (typeof registry?.host !== "string") return undefined;
    return registry.port === undefined ? registry.host : `${registry.host}:${String(registry.port)}`;
}

/** The lab registry of the stack a resource belongs to. */
export function labRegistryOf(urn: string, configDir = REPO): string | undefined {
    const stack = stackOfUrn(urn);
    return stack ? labRegistryFromStackFile(configDir, stack) : undefined;
}

/**
 * A peer stack of the roster (zta-testbed:peers, or the older single zta-testbed:peer)
 * in configDir/Pulumi.<stack>.yaml and that stack file's pki.role: the peer with
 * pki.role "root" when there is one, else the first whose file is there.
 */
export function peerPkiRoleFromStackFiles(configDir: string, stack: string): { readonly stack: string; readonly role: string } | undefined {
    const own = path.join(configDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(own)) return undefined;
    const config = readStackFileConfig(own);
    const roster = (config[`${PROJECT}:peers`] ?? (config[`${PROJECT}:peer`] !== undefined ? [config[`${PROJECT}:peer`]] : [])) as { stack?: unknown }[];
    const peers = (Array.isArray(roster) ? roster : []).flatMap((entry) => {
        if (typeof entry?.stack !== "string") return [];
        // "org/project/comp3" names the stack file Pulumi.comp3.yaml.
        const peerStack = entry.stack.split("/").pop() as string;
        const file = path.join(configDir, `Pulumi.${peerStack}.yaml`);
        if (peerStack === stack || !fs.existsSync(file)) return [];
        const pki = readStackFileConfig(file)[`${PROJECT}:pki`] as { role?: unknown } | undefined;
        return typeof pki?.role === "string" ? [{ stack: peerStack, role: pki.role }] : [];
    });
    return peers.find((p) => p.role === "root") ?? peers[0];
}

/** zta-testbed:mesh.trustModel in configDir/Pulumi.<stack>.yaml ("shared" or "federated"), when the file sets it. */
export function trustModelFromStackFile(configDir: string, stack: string): string | undefined {
    const file = path.join(configDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) return undefined;
    const mesh = readStackFileConfig(file)[`${PROJECT}:mesh`] as { trustModel?: unknown } | undefined;
    return typeof mesh?.trustModel === "string" ? mesh.trustModel : undefined;
}

/** The trust model of the stack a resource belongs to, from the stack files beside policy/. */
export function trustModelOf(urn: string, configDir = REPO): string | undefined {
    const stack = stackOfUrn(urn);
    return stack ? trustModelFromStackFile(configDir, stack) : undefined;
}

/** The pki.role of the peer of the stack a resource belongs to, from the stack files beside policy/. */
export function peerPkiRoleOf(urn: string, configDir = REPO): { readonly stack: string; readonly role: string } | undefined {
    const stack = stackOfUrn(urn);
    return stack ? peerPkiRoleFromStackFiles(configDir, stack) : undefined;
}
