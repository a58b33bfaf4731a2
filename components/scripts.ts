// Host scripts (scripts/**.sh) as remote commands: how their text reaches the
// host, and the hash that makes Pulumi re-run them only when it changes.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** Where the host scripts live: scripts/ at the repository root. */
export const SCRIPTS_DIR = path.resolve(__dirname, "..", "scripts");

/** A script as the host runs it: scripts/lib.sh, then the script's own text. */
export interface HostScript {
    /** Path under scripts/, e.g. "host/prepare.sh"; the script's `$0` on the host. */
    readonly name: string;
    /** The full program text sent to the host. */
    readonly text: string;
}

export function hostScript(name: string, dir: string = SCRIPTS_DIR): HostScript {
    const lib = fs.readFileSync(path.join(dir, "lib.sh"), "utf8");
    const own = fs.readFileSync(path.join(dir, name), "utf8");
    return { name, text: `${lib}\n${own}` };
}

/** Quotes one word for a POSIX shell (the SSH server hands the command to the login shell). */
export function shellQuote(word: string): string {
    return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line that runs a script on the host: its text as `bash -c`'s
 * program (not a file left behind), its arguments after it, and standard input
 * free for data such as a key. As root through `sudo -n`, which fails instead of
 * waiting for a password; the connection gate checks that sudo works.
 */
export function scriptCommand(script: HostScript, args: readonly string[] = [], asRoot = true): string {
    const words = ["bash", "-c", shellQuote(script.text), shellQuote(script.name), ...args.map(shellQuote)];
    return (asRoot ? ["sudo", "-n", ...words] : words).join(" ");
}

/**
 * The re-run trigger of a script: sha256 over its text and the inputs it runs
 * with. A command whose trigger changes is replaced, which runs it again.
 */
export function scriptHash(text: string, inputs: readonly unknown[]): string {
    return createHash("sha256").update(text).update("\0").update(JSON.stringify(inputs)).digest("hex");
}

/**
 * Where a command runs, as "ssh://user@address:port". Commands carry it as their
 * first trigger: a step re-runs when it moves to another host, and the plan
 * shows the target (the SDK makes the whole `connection` input secret because
 * the key is in it).
 */
export function sshTarget(user: string, address: string, port: number): string {
    return `ssh://${user}@${address}:${port}`;
}
