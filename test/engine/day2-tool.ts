// The TypeScript half of test/engine/day2.sh (rotate, repair, rebuild, upgrade on the
// running lab): what each cluster's intermediates are, whether each key matches its
// certificate, deleting an object out of band, and the upgrade step's edits of a stack's
// state (the lab as an earlier program left it) and its check of the server's StatefulSet. Checks print "PASS: ..." or "FAIL: ...", which
// run.sh counts.
import * as k8s from "@kubernetes/client-node";
import { createHash, createPublicKey, X509Certificate } from "crypto";
import * as fs from "fs";
import { Flags, one, readFlags } from "./flags";

function flagsOf(argv: string[]): Flags {
    return readFlags(argv, [
        "kubeconfig",
        "out",
        "before",
        "after",
        "namespace",
        "name",
        "stage",
        "state",
        "release",
        "versions",
        "claim",
    ]);
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

/** `delete-configmap`: deletes one ConfigMap through the API server, if it is there. */
async function deleteConfigMap(flags: Flags): Promise<void> {
    const [namespace, name] = [one(flags, "namespace"), one(flags, "name")];
    try {
        await coreOf(one(flags, "kubeconfig")).deleteNamespacedConfigMap(name, namespace);
        console.log(`  deleted ConfigMap ${namespace}/${name}`);
    } catch (err) {
        if ((err as { response?: { statusCode?: number } }).response?.statusCode !== 404) throw err;
        console.log(`  no ConfigMap ${namespace}/${name}`);
    }
}

/** `secret-names`: the names of a namespace's Secrets, one per line (the remote secrets to pick from). */
async function secretNames(flags: Flags): Promise<void> {
    const list = await coreOf(one(flags, "kubeconfig")).listNamespacedSecret(one(flags, "namespace"));
    for (const s of list.body.items) console.log(s.metadata?.name);
}

/** `orphan-statefulset`: deletes a StatefulSet with `propagationPolicy: Orphan` (kubectl's --cascade=orphan): its pods and claims stay. */
async function orphanStatefulSet(flags: Flags): Promise<void> {
    const [namespace, name] = [one(flags, "namespace"), one(flags, "name")];
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(one(flags, "kubeconfig"));
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    await apps.deleteNamespacedStatefulSet(name, namespace, undefined, undefined, undefined, undefined, "Orphan");
    // Gone before Helm creates it again (an orphan delete only removes the owner references first).
    for (let i = 0; i < 150; i++) {
        try {
            await apps.readNamespacedStatefulSet(name, namespace);
        } catch (err) {
            if ((err as { response?: { statusCode?: number } }).response?.statusCode === 404) {
                console.log(`  deleted StatefulSet ${namespace}/${name} (--cascade=orphan)`);
                return;
            }
            throw err;
        }
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`StatefulSet ${namespace}/${name} still there 30 s after its orphan delete`);
}

/**
 * `drop-claim`: deletes a PersistentVolumeClaim and waits until it is gone (its protection
 * finalizer holds it while a pod uses it), then makes its volume Available again (no claimRef),
 * as an administrator reclaims a `Retain` volume: the simulated cluster has no provisioner to
 * make a new one for the next claim, its volumes hold no data (lab-tool.ts `cluster`), and a new
 * volume would be an object the teardown finds left over.
 */
async function dropClaim(flags: Flags): Promise<void> {
    const [namespace, name] = [one(flags, "namespace"), one(flags, "claim")];
    const core = coreOf(one(flags, "kubeconfig"));
    const volume = (await core.readNamespacedPersistentVolumeClaim(name, namespace)).body.spec?.volumeName;
    await core.deleteNamespacedPersistentVolumeClaim(name, namespace);
    for (let i = 0; ; i++) {
        try {
            await core.readNamespacedPersistentVolumeClaim(name, namespace);
        } catch (err) {
            if ((err as { response?: { statusCode?: number } }).response?.statusCode === 404) break;
            throw err;
        }
        if (i >= 300)
            throw new Error(`claim ${namespace}/${name} still there 60 s after its delete (a pod still uses it)`);
        await new Promise((r) => setTimeout(r, 200));
    }
    if (volume) {
        const pv = (await core.readPersistentVolume(volume)).body;
        if (pv.spec) delete pv.spec.claimRef;
        await core.replacePersistentVolume(volume, pv);
    }
    console.log(
        `  deleted PersistentVolumeClaim ${namespace}/${name}; its volume ${volume ?? "(none)"} Available again`,
    );
}

/** `statefulset-claims`: the claim templates of a StatefulSet, as JSON (what the chart asked the API server for). */
async function statefulSetClaims(flags: Flags): Promise<void> {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(one(flags, "kubeconfig"));
    const sts = await kc
        .makeApiClient(k8s.AppsV1Api)
        .readNamespacedStatefulSet(one(flags, "name"), one(flags, "namespace"));
    const templates = (sts.body.spec?.volumeClaimTemplates ?? []).map((t) => ({
        name: t.metadata?.name,
        storageClassName: t.spec?.storageClassName ?? null,
        storage: t.spec?.resources?.requests?.storage,
    }));
    const volumes = (sts.body.spec?.template.spec?.volumes ?? []).map((v) => ({
        name: v.name,
        emptyDir: v.emptyDir !== undefined,
    }));
    console.log(JSON.stringify({ volumeClaimTemplates: templates, volumes }));
}

/** A resource of an exported deployment (`pulumi stack export`): only the fields edited here. */
interface StateResource {
    urn: string;
    type: string;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
}
interface StateFile {
    deployment: { resources: StateResource[] };
}

function readState(flags: Flags): StateFile {
    return JSON.parse(fs.readFileSync(one(flags, "state"), "utf8")) as StateFile;
}

function writeState(flags: Flags, state: StateFile): void {
    fs.writeFileSync(one(flags, "out"), JSON.stringify(state, null, 2));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A secret value of an export: `{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ...}`. */
function isSecret(v: unknown): boolean {
    return isPlainObject(v) && "4dabf18193072939515e22adb298388d" in v;
}

/**
 * `old-spire-state`: the state of the spire Release (--release, the resource's name) as a
 * program before commit 238f2cc recorded it: `values["spire-server"].persistence` is
 * `{type: "emptyDir"}` in its inputs, in its outputs (the values it installed) and in the
 * inputs the provider keeps among the outputs (`__inputs`, a secret: the export must be
 * `--show-secrets`, whose plaintext `stack import` encrypts again). Nothing else of the release
 * changed in that commit.
 */
function oldSpireState(flags: Flags): void {
    const state = readState(flags);
    const name = one(flags, "release");
    const release = state.deployment.resources.find(
        (r) => r.type === "kubernetes:helm.sh/v3:Release" && r.urn.endsWith(`::${name}`),
    );
    if (!release) throw new Error(`no kubernetes:helm.sh/v3:Release named ${name} in ${one(flags, "state")}`);
    const emptyDir = (holder: unknown, where: string): void => {
        const server =
            isPlainObject(holder) && isPlainObject(holder.values) ? holder.values["spire-server"] : undefined;
        if (!isPlainObject(server) || !isPlainObject(server.persistence))
            throw new Error(`${name}: no values["spire-server"].persistence in its ${where}`);
        server.persistence = { type: "emptyDir" };
    };
    emptyDir(release.inputs, "inputs");
    emptyDir(release.outputs, "outputs");
    const kept = release.outputs?.__inputs;
    if (isSecret(kept)) {
        const secret = kept as Record<string, unknown>;
        if (typeof secret.plaintext !== "string")
            throw new Error(`${name}: its outputs' __inputs are encrypted (export with --show-secrets)`);
        const inputs = JSON.parse(secret.plaintext) as unknown;
        emptyDir(inputs, "outputs' __inputs");
        secret.plaintext = JSON.stringify(inputs);
    } else if (kept !== undefined) {
        emptyDir(kept, "outputs' __inputs");
    }
    writeState(flags, state);
    console.log(`  ${name}: values["spire-server"].persistence = {type: emptyDir} in its inputs and outputs`);
}

/**
 * `set-identity-versions`: the stack's `identity.versions` output replaced by --versions (JSON),
 * what the stack exported when it ran at those versions.
 */
function setIdentityVersions(flags: Flags): void {
    const state = readState(flags);
    const versions = JSON.parse(one(flags, "versions")) as Record<string, string>;
    const stack = state.deployment.resources.find((r) => r.type === "pulumi:pulumi:Stack");
    const identity = stack?.outputs?.identity;
    if (!isPlainObject(identity) || isSecret(identity))
        throw new Error("the stack has no plain identity output to edit");
    if (!isPlainObject(identity.versions)) throw new Error("the stack's identity output has no versions");
    identity.versions = { ...identity.versions, ...versions };
    writeState(flags, state);
    console.log(`  identity.versions: ${JSON.stringify(identity.versions)}`);
}

const commands: Record<string, (flags: Flags) => void | Promise<void>> = {
    certs,
    "keys-match": keysMatch,
    "check-rotated": checkRotated,
    "delete-secret": deleteSecret,
    "secret-names": secretNames,
    "delete-configmap": deleteConfigMap,
    "orphan-statefulset": orphanStatefulSet,
    "drop-claim": dropClaim,
    "statefulset-claims": statefulSetClaims,
    "old-spire-state": oldSpireState,
    "set-identity-versions": setIdentityVersions,
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
