// The TypeScript half of test/engine/day2.sh (rotate, repair, rebuild on the running
// lab): what each cluster's intermediates are, whether each key matches its certificate,
// and deleting an object out of band. Checks print "PASS: ..." or "FAIL: ...", which
// run.sh counts.
import * as k8s from "@kubernetes/client-node";
import { createHash, createPublicKey, X509Certificate } from "crypto";
import * as fs from "fs";
import { Flags, one, readFlags } from "./flags";

function flagsOf(argv: string[]): Flags {
    return readFlags(argv, ["kubeconfig", "out", "before", "after", "namespace", "name", "stage"]);
}

function check(ok: boolean, what: string, detail: string): void {
    console.log(`${ok ? "PASS" : "FAIL"}: ${what}${ok ? "" : ` (${detail})`}`);
}

function coreOf(file: string): k8s.CoreV1Api {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(file);
    return kc.makeApiClient(k8s.CoreV1Api);
}

/** The Secrets that hold a cluster's intermediates: Istio's plugged-in CA and SPIRE's upstream authority (docs/pki.md). */
const HOLDERS = [
    { namespace: "istio-system", name: "cacerts", cert: "ca-cert.pem", key: "ca-key.pem", root: "root-cert.pem" },
    { namespace: "spire-server", name: "spire-upstream-ca", cert: "tls.crt", key: "tls.key", root: "bundle.crt" },
] as const;

/** One Secret's intermediate as the API server holds it: fingerprints, and whether its key is the certificate's. */
interface Held {
    readonly cert: string;
    readonly root: string;
    /** sha256 of the private key's public half (SubjectPublicKeyInfo). */
    readonly key: string;
    /** The certificate's public key is the private key's, and the root signed the certificate. */
    readonly keyMatches: boolean;
    readonly signedByRoot: boolean;
}

type Snapshot = Record<string, Record<string, Held | null>>;

async function heldBy(core: k8s.CoreV1Api, holder: (typeof HOLDERS)[number]): Promise<Held | null> {
    let data: Record<string, string>;
    try {
        data = (await core.readNamespacedSecret(holder.name, holder.namespace)).body.data ?? {};
    } catch (err) {
        if ((err as { response?: { statusCode?: number } }).response?.statusCode === 404) return null;
        throw err;
    }
    const text = (k: string) => Buffer.from(data[k] ?? "", "base64").toString();
    const cert = new X509Certificate(text(holder.cert));
    const root = new X509Certificate(text(holder.root));
    const spki = (k: { export(o: { type: "spki"; format: "der" }): Buffer }) =>
        k.export({ type: "spki", format: "der" }).toString("hex");
    const key = spki(createPublicKey(text(holder.key)));
    return {
        cert: cert.fingerprint256,
        root: root.fingerprint256,
        key: createHash("sha256").update(key, "hex").digest("hex"),
        keyMatches: key === spki(cert.publicKey),
        signedByRoot: cert.verify(root.publicKey),
    };
}

/** What every cluster's intermediates are now, by stack and Secret. */
async function snapshot(flags: Flags): Promise<Snapshot> {
    const out: Snapshot = {};
    for (const pair of flags.kubeconfig ?? []) {
        const [stack, file] = pair.split("=", 2);
        const core = coreOf(file);
        out[stack] = {};
        for (const h of HOLDERS) out[stack][`${h.namespace}/${h.name}`] = await heldBy(core, h);
    }
    return out;
}

/** `certs`: writes the snapshot to --out. */
async function certs(flags: Flags): Promise<void> {
    fs.writeFileSync(one(flags, "out"), JSON.stringify(await snapshot(flags), null, 2));
}

/**
 * `keys-match`: no cluster holds an intermediate whose certificate is not its key's (absent is
 * allowed: a stack waiting for the root's signature leaves them out). `--stage` names the moment.
 */
async function keysMatch(flags: Flags): Promise<void> {
    const stage = one(flags, "stage");
    for (const [stack, held] of Object.entries(await snapshot(flags))) {
        for (const [secret, h] of Object.entries(held)) {
            check(
                h === null || (h.keyMatches && h.signedByRoot),
                `${stack}: ${stage}: ${secret} ${h === null ? "absent" : "holds a certificate for its own key, signed by its root"}`,
                h === null
                    ? ""
                    : `key matches the certificate: ${h.keyMatches}, signed by root-cert: ${h.signedByRoot}`,
            );
        }
    }
}

/** `check-rotated`: in every cluster each intermediate is new, for its key, and chains to the same root as before. */
function checkRotated(flags: Flags): void {
    const read = (f: string) => JSON.parse(fs.readFileSync(f, "utf8")) as Snapshot;
    const before = read(one(flags, "before"));
    const after = read(one(flags, "after"));
    for (const [stack, held] of Object.entries(after)) {
        for (const [secret, h] of Object.entries(held)) {
            const old = before[stack]?.[secret];
            check(
                h !== null &&
                    old !== null &&
                    old !== undefined &&
                    h.cert !== old.cert &&
                    h.root === old.root &&
                    h.key === old.key &&
                    h.keyMatches &&
                    h.signedByRoot,
                `${stack}: ${secret} holds a renewed intermediate for the same key, signed by the same root`,
                h === null || !old
                    ? "absent"
                    : `renewed: ${h.cert !== old.cert}, same root: ${h.root === old.root}, same key: ${h.key === old.key}, key matches: ${h.keyMatches}, signed by the root: ${h.signedByRoot}`,
            );
        }
    }
}

/** `delete-secret`: deletes one Secret through the API server, as an operator's mistake would. */
async function deleteSecret(flags: Flags): Promise<void> {
    const [namespace, name] = [one(flags, "namespace"), one(flags, "name")];
    await coreOf(one(flags, "kubeconfig")).deleteNamespacedSecret(name, namespace);
    console.log(`  deleted Secret ${namespace}/${name}`);
}

/** `secret-names`: the names of a namespace's Secrets, one per line (the remote secrets to pick from). */
async function secretNames(flags: Flags): Promise<void> {
    const list = await coreOf(one(flags, "kubeconfig")).listNamespacedSecret(one(flags, "namespace"));
    for (const s of list.body.items) console.log(s.metadata?.name);
}

const commands: Record<string, (flags: Flags) => void | Promise<void>> = {
    certs,
    "keys-match": keysMatch,
    "check-rotated": checkRotated,
    "delete-secret": deleteSecret,
    "secret-names": secretNames,
};

async function run(): Promise<void> {
    const [command, ...rest] = process.argv.slice(2);
    const fn = commands[command];
    if (!fn) throw new Error(`usage: day2-tool.ts <${Object.keys(commands).join("|")}> [--flag value ...]`);
    await fn(flagsOf(rest));
}

run().catch((err: unknown) => {
    console.log(`FAIL: day2-tool ${process.argv[2]}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
});
