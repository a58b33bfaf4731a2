// The TypeScript half of `npm run test:engine` (test/engine/run.sh): reads the
// lab's stack files, writes the bring-your-own stack files of the simulated lab,
// computes the URNs the offline plan expects, and checks the simulated clusters
// through their API servers. Every check prints one line, "PASS: ..." or
// "FAIL: ...", which run.sh counts.
import { Flags, one, readFlags } from "./flags";
import * as k8s from "@kubernetes/client-node";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { evaluateStack } from "../../offline/engine/evaluate";
import { PlannedResource } from "../../offline/engine/record";
import { isKubernetesObject } from "../../offline/planner/files";
import { planLab, readStackConfig, stacksIn } from "../../offline/planner/lab";
import { pathLenConstraintOf } from "../../stacks/config/brought-root";
import { fullKey, PROJECT } from "../../stacks/config/namespace";
import { readRawConfig } from "../../stacks/config/load";
import { main } from "../../stacks/main";
import { readProjectConfig, readStackFileConfig } from "../../stacks/config/files";
import { selfAccessReview } from "../../verify/cluster";
import { reviewScope, scopeSummary } from "../../verify/reader-scope";

/** The flags the commands take: each takes a value, and may be given more than once (--kubeconfig, --crds). */
const FLAGS = [
    "config-dir",
    "out",
    "mirror",
    "stack",
    "expected",
    "preview",
    "state",
    "kubeconfig",
    "name",
    "crds",
    "namespace",
    "selector",
    "plan",
    "baseline-dir",
];

function parseFlags(argv: string[]): Flags {
    // check-lab also takes one --outputs-<stack> for each stack of its --kubeconfig pairs.
    const names = [...FLAGS, ...argv.filter((a) => /^--outputs-[A-Za-z0-9._-]+$/.test(a)).map((a) => a.slice(2))];
    return readFlags(argv, names);
}

/** A stack's config as Pulumi hands it to the program: Pulumi.yaml's project config with the stack file's over it. */
function rawStack(configDir: string, stack: string): Record<string, any> {
    return readRawConfig(configDir, stack).raw;
}

// Values that end up in shell variables: nothing but what an address, a version or a name holds.
function shellSafe(name: string, value: unknown): string {
    const s = String(value);
    if (!/^[A-Za-z0-9._/:-]+$/.test(s))
        throw new Error(`${name} = ${JSON.stringify(s)} cannot be passed to the test script`);
    return s;
}

/** `info`: what run.sh needs to know of the lab, as shell assignments; the order of `pulumi up` runs is the offline plan's. */
async function info(flags: Flags): Promise<void> {
    const dir = one(flags, "config-dir");
    const { runs, stacks: plans } = await planLab(dir, main);
    const stacks = plans.map((p) => p.stack);
    const lines = [
        `order="${runs.map((s) => shellSafe("stack", s)).join(" ")}"`,
        `stacks="${stacks.map((s) => shellSafe("stack", s)).join(" ")}"`,
    ];
    const versions = new Set<string>();
    for (const stack of stacks) {
        const raw = rawStack(dir, stack);
        versions.add(JSON.stringify([raw.versions?.kubernetes, raw.versions?.metallb]));
        lines.push(`${stack}_address=${shellSafe("host.address", raw.host?.address)}`);
        lines.push(`${stack}_cluster_name=${shellSafe("cluster.name", raw.cluster?.name)}`);
        lines.push(`${stack}_service_cidr=${shellSafe("cluster.serviceCidr", raw.cluster?.serviceCidr)}`);
        // kwok gives the stack's pods addresses from its own pod CIDR, so the pods the test runs never share one.
        lines.push(`${stack}_pod_cidr=${shellSafe("cluster.podCidr", raw.cluster?.podCidr)}`);
        // The federated model's bundle endpoint address (a MetalLB address): the SPIRE server's pod holds it here.
        lines.push(
            `${stack}_federation_address=${raw.mesh?.trustModel === "federated" ? shellSafe("metallb.federationAddress", raw.metallb?.federationAddress) : ""}`,
        );
    }
    if (versions.size !== 1)
        throw new Error(`the stacks pin different Kubernetes or MetalLB versions: ${[...versions].join(" ")}`);
    const [kubernetes, metallb] = JSON.parse([...versions][0]) as [string, string];
    lines.push(
        `kubernetes_minor=${shellSafe("versions.kubernetes", String(kubernetes).split(".").slice(0, 2).join("."))}`,
    );
    lines.push(`metallb_version=${shellSafe("versions.metallb", metallb)}`);
    // Torn down last (docs/deploy.md, "Tearing down"): the stack with pki.role root (the lab root's owner in
    // the shared model; in the federated model, where every stack owns a root, the one that runs the registry).
    const root = stacks.filter((stack) => rawStack(dir, stack).pki?.role === "root");
    lines.push(`root_stacks="${root.join(" ")}"`);
    lines.push(`trust_model=${shellSafe("mesh.trustModel", rawStack(dir, stacks[0]).mesh?.trustModel)}`);
    lines.push(`cilium_version=${shellSafe("versions.cilium", rawStack(dir, stacks[0]).versions?.cilium)}`);
    // A file, not stdout: the program may log while the plan evaluates it.
    fs.writeFileSync(one(flags, "out"), lines.join("\n") + "\n");
}

/**
 * `byo`: the lab's stack files with the hosts replaced by kubeconfigs (set later as secrets), and
 * its Pulumi.yaml with charts from the mirror (charts is lab-wide: a stack file may not set it),
 * otherwise as written (comments, one line per roster entry), so that day 2 edits it as a user would.
 */
function byo(flags: Flags): void {
    const dir = one(flags, "config-dir");
    const out = one(flags, "out");
    const mirror = one(flags, "mirror");
    fs.mkdirSync(out, { recursive: true });
    const project = YAML.parseDocument(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8"));
    const charts = readProjectConfig(path.join(dir, "Pulumi.yaml"))[fullKey("charts")] as
        Record<string, unknown> | undefined;
    project.setIn(["config", fullKey("charts")], project.createNode({ value: { ...(charts ?? {}), mirror } }));
    fs.writeFileSync(path.join(out, "Pulumi.yaml"), project.toString({ flowCollectionPadding: false, lineWidth: 0 }));
    for (const stack of stacksIn(dir)) {
        const raw = readStackFileConfig(path.join(dir, `Pulumi.${stack}.yaml`));
        delete raw[fullKey("host")];
        fs.writeFileSync(path.join(out, `Pulumi.${stack}.yaml`), YAML.stringify({ config: raw }));
    }
}

/** URNs the engine creates by itself and the mock runtime never sees: default providers. */
function engineOnly(urn: string): boolean {
    return /::pulumi:providers:[^:]+::default(_|$)/.test(urn);
}

/** `first-run-urns`: per stack, the URNs of its first deployment with no peer deployed yet (what a first preview shows). */
async function firstRunUrns(flags: Flags): Promise<void> {
    const dir = one(flags, "config-dir");
    const result: Record<string, string[]> = {};
    for (const stack of stacksIn(dir)) {
        const file = readStackConfig(dir, stack);
        const evaluation = await evaluateStack({
            project: PROJECT,
            stack,
            config: file.config,
            secretKeys: file.secretKeys,
            program: main,
        });
        result[stack] = evaluation.resources.map((r) => r.urn).sort();
    }
    // A file, not stdout: the program may log while it is evaluated.
    fs.writeFileSync(one(flags, "out"), JSON.stringify(result, null, 2) + "\n");
}

/** `compare-urns`: the offline plan's URNs of one stack against the real engine's preview (--preview) or state (--state). */
function compareUrns(flags: Flags): void {
    const stack = one(flags, "stack");
    const expectedFile = one(flags, "expected");
    const expected: string[] = expectedFile.endsWith("resources.json")
        ? (JSON.parse(fs.readFileSync(expectedFile, "utf8")) as PlannedResource[]).map((r) => r.urn)
        : (JSON.parse(fs.readFileSync(expectedFile, "utf8")) as Record<string, string[]>)[stack];
    let actual: string[];
    if (flags.preview) {
        const preview = JSON.parse(fs.readFileSync(one(flags, "preview"), "utf8")) as { steps?: { urn: string }[] };
        actual = (preview.steps ?? []).map((s) => s.urn);
    } else {
        const state = JSON.parse(fs.readFileSync(one(flags, "state"), "utf8")) as {
            deployment: { resources?: { urn: string }[] };
        };
        actual = (state.deployment.resources ?? []).map((r) => r.urn);
    }
    const real = new Set(actual.filter((u) => !engineOnly(u)));
    const planned = new Set(expected);
    const missing = [...planned].filter((u) => !real.has(u));
    const extra = [...real].filter((u) => !planned.has(u));
    const what = flags.preview ? "previews" : "holds in its state";
    if (missing.length === 0 && extra.length === 0) {
        console.log(`PASS: ${stack}: the real engine ${what} the same ${planned.size} URNs as the offline plan`);
        return;
    }
    console.log(`FAIL: ${stack}: the real engine ${what} other URNs than the offline plan`);
    for (const u of missing) console.log(`    only in the offline plan: ${u}`);
    for (const u of extra) console.log(`    only in the real engine:  ${u}`);
}

function clientsOf(flags: Flags): Map<string, k8s.KubeConfig> {
    const clients = new Map<string, k8s.KubeConfig>();
    for (const pair of flags.kubeconfig ?? []) {
        const [stack, file] = pair.split("=");
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(file);
        clients.set(stack, kc);
    }
    return clients;
}

/**
 * `cluster`: what a brought cluster has before the program runs: a node (simulated:
 * kwok keeps it Ready), named and labelled like a kubeadm host, and a default
 * StorageClass with volumes for the SPIRE server's claim.
 */
async function cluster(flags: Flags): Promise<void> {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(one(flags, "kubeconfig"));
    const name = one(flags, "name");
    const capacity = { cpu: "32", memory: "256Gi", pods: "250" };
    await kc.makeApiClient(k8s.CoreV1Api).createNode({
        apiVersion: "v1",
        kind: "Node",
        metadata: {
            name,
            annotations: { "node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake" },
            labels: {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                type: "kwok",
            },
        },
        status: { allocatable: capacity, capacity },
    });
    // The CRDs the Cilium operator registers when it starts (no operator runs on a simulated node).
    const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
    for (const dir of flags["crds"] ?? []) {
        for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".yaml"))) {
            for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(dir, file), "utf8"))) {
                const crd = doc.toJS() as k8s.V1CustomResourceDefinition | null;
                if (crd?.kind === "CustomResourceDefinition") await extensions.createCustomResourceDefinition(crd);
            }
        }
    }
    await kc.makeApiClient(k8s.StorageV1Api).createStorageClass({
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        metadata: { name: "simulated", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
        provisioner: "kubernetes.io/no-provisioner",
        volumeBindingMode: "Immediate",
    });
    // Three volumes, as a provisioner would make more: a claim deleted with its namespace (a stack
    // destroyed on day 2) leaves its volume Released, and the claim of the stack built again takes the
    // next: day 2 builds a stack up to three times (first, grow after shrink, rebuild).
    for (const volume of ["simulated-0", "simulated-1", "simulated-2"]) {
        await kc.makeApiClient(k8s.CoreV1Api).createPersistentVolume({
            apiVersion: "v1",
            kind: "PersistentVolume",
            metadata: { name: volume },
            spec: {
                storageClassName: "simulated",
                capacity: { storage: "10Gi" },
                accessModes: ["ReadWriteOnce"],
                hostPath: { path: `/nonexistent/${volume}` },
            },
        });
    }
}

/** `pod-name`: the name of the first pod that matches a label selector, or nothing. */
async function podName(flags: Flags): Promise<void> {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(one(flags, "kubeconfig"));
    const pods = await kc
        .makeApiClient(k8s.CoreV1Api)
        .listNamespacedPod(one(flags, "namespace"), undefined, undefined, undefined, undefined, one(flags, "selector"));
    const name = pods.body.items.find((p) => !p.metadata?.deletionTimestamp)?.metadata?.name;
    if (name) console.log(name);
}

const results: string[] = [];
function check(ok: boolean, what: string, detail = ""): void {
    results.push(`${ok ? "PASS" : "FAIL"}: ${what}${ok || !detail ? "" : `: ${detail}`}`);
}

function statusOf(err: unknown): number | undefined {
    return (
        (err as { statusCode?: number; response?: { statusCode?: number } }).statusCode ??
        (err as { response?: { statusCode?: number } }).response?.statusCode
    );
}

async function readObject(kc: k8s.KubeConfig, r: PlannedResource): Promise<k8s.KubernetesObject | undefined> {
    const meta = r.inputs.metadata as { name: string; namespace?: string };
    try {
        const res = await k8s.KubernetesObjectApi.makeApiClient(kc).read({
            apiVersion: r.inputs.apiVersion as string,
            kind: r.inputs.kind as string,
            metadata: { name: meta.name, namespace: meta.namespace },
        });
        return res.body;
    } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
    }
}

function plannedObjects(planDir: string, stack: string): PlannedResource[] {
    const resources = JSON.parse(
        fs.readFileSync(path.join(planDir, stack, "resources.json"), "utf8"),
    ) as PlannedResource[];
    return resources.filter(isKubernetesObject);
}

/** A certificate's pathLenConstraint, or "none" when it sets none. */
function pathLenOf(cert: X509Certificate): number | "none" {
    return pathLenConstraintOf(cert) ?? "none";
}

function pemBlocks(text: string): string[] {
    return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** `check-lab`: what only a real run shows, read back from both API servers. */
async function checkLab(flags: Flags): Promise<void> {
    const planDir = one(flags, "plan");
    const clients = clientsOf(flags);
    const outputs = Object.fromEntries(
        [...clients.keys()].map((s) => [
            s,
            JSON.parse(fs.readFileSync(one(flags, `outputs-${s}`), "utf8")) as Record<string, unknown>,
        ]),
    );
    for (const [stack, kc] of clients) {
        const core = kc.makeApiClient(k8s.CoreV1Api);
        const planned = plannedObjects(planDir, stack);
        const absent: string[] = [];
        for (const r of planned)
            if (!(await readObject(kc, r)))
                absent.push(`${r.inputs.kind} ${(r.inputs.metadata as { name: string }).name}`);
        check(
            absent.length === 0,
            `${stack}: all ${planned.length} planned Kubernetes objects exist in the cluster`,
            `missing ${absent.join(", ")}`,
        );

        // The remote secrets: each holds a peer's reader kubeconfig whose token the *peer's* API server accepts.
        const secrets = (
            await core.listNamespacedSecret(
                "istio-system",
                undefined,
                undefined,
                undefined,
                undefined,
                "istio/multiCluster=true",
            )
        ).body.items;
        const peers = [...clients.keys()].filter((s) => s !== stack);
        check(
            secrets.length === peers.length,
            `${stack}: one remote secret per peer (${peers.length})`,
            `found ${secrets.length}`,
        );
        for (const secret of secrets) {
            for (const [key, data] of Object.entries(secret.data ?? {})) {
                const remote = new k8s.KubeConfig();
                remote.loadFromString(Buffer.from(data, "base64").toString());
                const server = remote.getCurrentCluster()?.server ?? "";
                const own = kc.getCurrentCluster()?.server;
                let user: string;
                try {
                    const review = await remote
                        .makeApiClient(k8s.AuthenticationV1Api)
                        .createSelfSubjectReview({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
                    user = review.body.status?.userInfo?.username ?? "";
                } catch (err) {
                    user = `error ${statusOf(err) ?? (err as Error).message}`;
                }
                check(
                    server !== own && user === "system:serviceaccount:istio-system:zta-istio-remote-reader",
                    `${stack}: remote secret ${secret.metadata?.name} (${key}) authenticates to the other API server ${server} as istio-system/zta-istio-remote-reader`,
                    `server ${server} (own ${own}), user "${user}"`,
                );
                // What that token opens there, asked of the peer's own authorizers (the same questions as verify's remote-secret-scope).
                let problems: string[];
                try {
                    problems = await reviewScope(
                        selfAccessReview(Buffer.from(data, "base64").toString(), 10_000).review,
                    );
                } catch (err) {
                    problems = [(err as Error).message];
                }
                check(
                    problems.length === 0,
                    `${stack}: remote secret ${secret.metadata?.name} (${key}), its token on ${server}: ${scopeSummary()}`,
                    problems.join("; "),
                );
            }
        }

        // cacerts: istiod's CA, chained to the lab root the stack exports.
        const cacerts = (await core.readNamespacedSecret("cacerts", "istio-system")).body.data ?? {};
        const text = (k: string) => Buffer.from(cacerts[k] ?? "", "base64").toString();
        const root = new X509Certificate(String(outputs[stack].rootCaCert));
        const ca = new X509Certificate(text("ca-cert.pem"));
        const chain = pemBlocks(text("cert-chain.pem")).map((p) => new X509Certificate(p));
        const chained = chain.every((c, i) =>
            i + 1 < chain.length
                ? c.verify(chain[i + 1].publicKey)
                : c.verify(root.publicKey) || c.fingerprint256 === root.fingerprint256,
        );
        check(
            new X509Certificate(text("root-cert.pem")).fingerprint256 === root.fingerprint256 &&
                chain.length > 0 &&
                chain[0].fingerprint256 === ca.fingerprint256 &&
                chained &&
                ca.ca,
            `${stack}: cacerts holds a CA certificate whose chain ends at the lab root (rootCaCert)`,
            `root-cert.pem ${new X509Certificate(text("root-cert.pem")).subject}, chain of ${chain.length}`,
        );

        // The issued intermediates as the API server holds them, and the path length each carries
        // (docs/pki.md, "Path lengths"): the SPIRE upstream CA has exactly one CA below it, the
        // SPIRE server's own; the Istio intermediate none, because the TLS provider cannot write 0.
        check(
            pathLenOf(ca) === "none",
            `${stack}: the Istio intermediate in cacerts has no pathLenConstraint, as docs/pki.md says the TLS provider writes it`,
            `pathLenConstraint ${pathLenOf(ca)}`,
        );
        const upstream = (await core.readNamespacedSecret("spire-upstream-ca", "spire-server")).body.data ?? {};
        const spireCa = new X509Certificate(Buffer.from(upstream["tls.crt"] ?? "", "base64").toString());
        check(
            spireCa.ca && pathLenOf(spireCa) === 1 && spireCa.verify(root.publicKey),
            `${stack}: the SPIRE upstream intermediate in spire-server/spire-upstream-ca has pathLenConstraint 1 and is signed by the lab root`,
            `ca ${spireCa.ca}, pathLenConstraint ${pathLenOf(spireCa)}, signed by the root: ${spireCa.verify(root.publicKey)}`,
        );

        // Federated model: istiod's rendered mesh config names each peer's trust domain with that peer's root,
        // aliases none, and the injector gives every pod the spire template (docs/pki.md).
        const identity = outputs[stack].identity as { trustModel?: string; trustDomain?: string };
        if (identity.trustModel === "federated") {
            const configMap = async (name: string) =>
                (await core.readNamespacedConfigMap(name, "istio-system")).body.data ?? {};
            const mesh = YAML.parse((await configMap("istio")).mesh ?? "") as {
                trustDomainAliases?: string[];
                caCertificates?: { pem?: string; trustDomains?: string[] }[];
            };
            const injector = YAML.parse((await configMap("istio-sidecar-injector")).config ?? "") as {
                defaultTemplates?: string[];
            };
            const anchors = (mesh.caCertificates ?? [])
                .map(
                    (c) =>
                        `${(c.trustDomains ?? []).join(",")}=${c.pem ? new X509Certificate(c.pem).fingerprint256 : "none"}`,
                )
                .sort();
            const expected = peers
                .map(
                    (p) =>
                        `${(outputs[p].identity as { trustDomain: string }).trustDomain}=${new X509Certificate(String(outputs[p].rootCaCert)).fingerprint256}`,
                )
                .sort();
            check(
                (mesh.trustDomainAliases ?? []).length === 0 &&
                    JSON.stringify(anchors) === JSON.stringify(expected) &&
                    JSON.stringify(injector.defaultTemplates) === JSON.stringify(["sidecar", "spire"]),
                `${stack}: istiod's mesh config names each peer's trust domain with that peer's root (caCertificates), aliases none, and injects the spire template by default`,
                `aliases [${mesh.trustDomainAliases ?? []}], caCertificates [${anchors.join(" ")}] (expected [${expected.join(" ")}]), defaultTemplates [${injector.defaultTemplates ?? []}]`,
            );
        }

        // Objects the zero-trust design rests on, as upstream names them.
        const objects = (kind: string) => planned.filter((r) => r.inputs.kind === kind);
        const strict = [];
        for (const r of objects("PeerAuthentication")) {
            const live = (await readObject(kc, r)) as
                { metadata?: { namespace?: string }; spec?: { mtls?: { mode?: string } } } | undefined;
            if (live?.metadata?.namespace === "istio-system" && live.spec?.mtls?.mode === "STRICT") strict.push(r);
        }
        check(
            strict.length === 1,
            `${stack}: a mesh-wide PeerAuthentication in istio-system with mtls.mode STRICT`,
            `found ${strict.length}`,
        );
        let crossNetwork = false;
        for (const r of objects("Gateway")) {
            const live = (await readObject(kc, r)) as
                { spec?: { servers?: { port?: { number?: number }; tls?: { mode?: string } }[] } } | undefined;
            crossNetwork ||= (live?.spec?.servers ?? []).some(
                (s) => s.port?.number === 15443 && s.tls?.mode === "AUTO_PASSTHROUGH",
            );
        }
        check(crossNetwork, `${stack}: the cross-network Gateway serves 15443 with tls.mode AUTO_PASSTHROUGH`);
        const ids = objects("ClusterSPIFFEID");
        let liveIds = 0;
        for (const r of ids) if (await readObject(kc, r)) liveIds++;
        check(
            ids.length > 0 && liveIds === ids.length,
            `${stack}: the ${ids.length} planned ClusterSPIFFEIDs exist`,
            `${liveIds} found`,
        );

        // MetalLB's controller gave the east-west gateway the address the stack asked for.
        const services = (await core.listServiceForAllNamespaces()).body.items.filter(
            (s) => s.spec?.type === "LoadBalancer",
        );
        const want = String(outputs[stack].eastWestAddress);
        const got = services.flatMap((s) =>
            (s.status?.loadBalancer?.ingress ?? []).map((i) => `${s.metadata?.namespace}/${s.metadata?.name}=${i.ip}`),
        );
        check(
            got.some((g) => g.endsWith(`=${want}`)),
            `${stack}: a LoadBalancer Service got the east-west address ${want} from MetalLB`,
            got.join(", ") || "no addresses",
        );
    }
    console.log(results.join("\n"));
}

/**
 * The kinds a lab could leave behind: cluster-wide ones, and what lives in the namespaces
 * that outlive it (Kubernetes' own). Every other namespace of ours goes with its contents.
 */
const CLUSTER_KINDS = [
    ["v1", "Namespace"],
    ["v1", "PersistentVolume"],
    ["rbac.authorization.k8s.io/v1", "ClusterRole"],
    ["rbac.authorization.k8s.io/v1", "ClusterRoleBinding"],
    ["admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"],
    ["admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"],
    ["storage.k8s.io/v1", "StorageClass"],
    ["storage.k8s.io/v1", "CSIDriver"],
    ["scheduling.k8s.io/v1", "PriorityClass"],
    ["networking.k8s.io/v1", "IngressClass"],
] as const;
const NAMESPACED_KINDS = [
    ["v1", "ConfigMap"],
    ["v1", "Secret"],
    ["v1", "ServiceAccount"],
    ["v1", "Service"],
    ["v1", "PersistentVolumeClaim"],
    ["rbac.authorization.k8s.io/v1", "Role"],
    ["rbac.authorization.k8s.io/v1", "RoleBinding"],
    ["apps/v1", "Deployment"],
    ["apps/v1", "DaemonSet"],
    ["apps/v1", "StatefulSet"],
] as const;
const KUBERNETES_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];
/** Whoever wrote an object first, as its managedFields say; Kubernetes' own components are not the lab. */
const KUBERNETES_MANAGERS = /^(kube-apiserver|kube-controller-manager|kube-scheduler|kwok|kubelet)/;

/** Every object of those kinds, "Kind namespace/name" with the manager that made it. */
async function objectsOf(kc: k8s.KubeConfig): Promise<Map<string, string>> {
    const client = k8s.KubernetesObjectApi.makeApiClient(kc);
    const found = new Map<string, string>();
    const add = (kind: string, o: k8s.KubernetesObject) =>
        found.set(
            `${kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name}`,
            o.metadata?.managedFields?.[0]?.manager ?? "?",
        );
    for (const [apiVersion, kind] of CLUSTER_KINDS)
        for (const o of (await client.list(apiVersion, kind)).body.items) add(kind, o);
    for (const namespace of KUBERNETES_NAMESPACES)
        for (const [apiVersion, kind] of NAMESPACED_KINDS)
            for (const o of (await client.list(apiVersion, kind, namespace)).body.items) add(kind, o);
    return found;
}

/** `snapshot`: what a cluster holds before the program runs (check-gone compares the end with it). */
async function snapshot(flags: Flags): Promise<void> {
    const [[, kc]] = [...clientsOf(flags)];
    fs.writeFileSync(one(flags, "out"), JSON.stringify(Object.fromEntries(await objectsOf(kc)), null, 2));
}

/**
 * `check-gone`: after the teardown, none of the planned objects is left, and nothing the lab made
 * (an object that was not there before the first `pulumi up`, made by anything but Kubernetes'
 * own components: Pulumi, Helm, istiod, SPIRE) is left in the cluster. CRDs stay (Helm keeps them)
 * and are listed.
 */
async function checkGone(flags: Flags): Promise<void> {
    const planDir = one(flags, "plan");
    const baselineDir = one(flags, "baseline-dir");
    for (const [stack, kc] of clientsOf(flags)) {
        const left: string[] = [];
        for (const r of plannedObjects(planDir, stack))
            if (await readObject(kc, r)) left.push(`${r.inputs.kind} ${(r.inputs.metadata as { name: string }).name}`);
        check(
            left.length === 0,
            `${stack}: pulumi destroy left none of the planned Kubernetes objects`,
            left.join(", "),
        );
        const before = JSON.parse(fs.readFileSync(path.join(baselineDir, stack, "baseline.json"), "utf8")) as Record<
            string,
            string
        >;
        const made = [...(await objectsOf(kc))].filter(
            ([o, manager]) => !(o in before) && !KUBERNETES_MANAGERS.test(manager),
        );
        // istiod copies the lab root's certificate and its revocation list into every namespace
        // (ConfigMaps istio-ca-root-cert, istio-ca-crl); Kubernetes' own namespaces outlive the
        // lab, and so do those copies: public data, which docs/deploy.md ("What stays") names.
        const istiodCopy = ([o, manager]: [string, string]) =>
            manager === "pilot-discovery" && /^ConfigMap [a-z-]+\/istio-ca-(root-cert|crl)$/.test(o);
        const copies = made.filter(istiodCopy).map(([o]) => o);
        if (copies.length > 0) console.log(`  ${stack}: stays, as docs/deploy.md says: ${copies.join(", ")}`);
        const ours = made.filter((m) => !istiodCopy(m));
        check(
            ours.length === 0,
            `${stack}: nothing the lab made is left (${Object.keys(before).length} objects before the first pulumi up, compared by kind and name)`,
            ours.map(([o, manager]) => `${o} (made by ${manager})`).join(", "),
        );
        const crds = (await kc.makeApiClient(k8s.ApiextensionsV1Api).listCustomResourceDefinition()).body.items.map(
            (c) => c.metadata?.name ?? "",
        );
        const groups = [...new Set(crds.map((c) => c.split(".").slice(1).join(".")))].sort();
        console.log(
            `  ${stack}: kept on purpose: ${crds.length} CustomResourceDefinitions the charts installed (Helm does not delete CRDs): ${groups.join(", ")}`,
        );
    }
    console.log(results.join("\n"));
}

const commands: Record<string, (flags: Flags) => void | Promise<void>> = {
    info,
    byo,
    "first-run-urns": firstRunUrns,
    "compare-urns": compareUrns,
    cluster,
    "pod-name": podName,
    "check-lab": checkLab,
    "check-gone": checkGone,
    snapshot,
};

async function run(): Promise<void> {
    const [command, ...rest] = process.argv.slice(2);
    const fn = commands[command];
    if (!fn) throw new Error(`usage: lab-tool.ts <${Object.keys(commands).join("|")}> [--flag value ...]`);
    await fn(parseFlags(rest));
}

run().catch((err: unknown) => {
    // A line run.sh counts: a check that could not run has failed.
    console.log(`FAIL: lab-tool ${process.argv[2]}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
});
