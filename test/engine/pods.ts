// The process runner of `npm run test:engine` (docs/testing.md, "The control plane runs"):
// turns a pod that kwok marked Running into what its containers would see, so that
// run.sh can run the upstream binary as the pod would. `materialize` reads the pod
// from the API server and writes, under --dir:
//   volumes/<name>/     each volume's content (configMap, secret, projected with a
//                       TokenRequest bound to the pod, downwardAPI, emptyDir shared by the
//                       pod's containers, a kept directory per persistentVolumeClaim)
//   <container>.sh      mounts the volumes at their mount paths in a root of its own
//                       and execs the container's entrypoint, command, args and env
//   pod.sh              shell assignments: pod_name, pod_ip, containers
// run.sh runs each <container>.sh under `ip netns exec <pod netns> unshare --mount
// --propagation private`: nothing is mounted or created on the machine's own filesystem.
import * as k8s from "@kubernetes/client-node";
import * as fs from "fs";
import * as path from "path";

/**
 * What the pod spec does not say: the image's ENTRYPOINT and WORKDIR (a container
 * without `command` runs the ENTRYPOINT with its `args`). From the upstream
 * Dockerfiles of the versions ../shared/mesh builds:
 * istio pilot/docker/Dockerfile.pilot (ENTRYPOINT ["/usr/local/bin/pilot-discovery"], no WORKDIR),
 * spire Dockerfile target spire-server (ENTRYPOINT ["/opt/spire/bin/spire-server", "run"], WORKDIR /opt/spire),
 * spire-controller-manager Dockerfile (ENTRYPOINT ["/spire-controller-manager"], WORKDIR /).
 * `binary` is the file ../shared/mesh/build.sh builds; it is mounted at the entrypoint's path.
 */
export const IMAGES: readonly {
    readonly image: RegExp;
    readonly binary: string;
    readonly entrypoint: readonly string[];
    readonly workingDir: string;
}[] = [
    { image: /\/pilot:/, binary: "pilot-discovery", entrypoint: ["/usr/local/bin/pilot-discovery"], workingDir: "/" },
    {
        image: /\/spire-server:/,
        binary: "spire-server",
        entrypoint: ["/opt/spire/bin/spire-server", "run"],
        workingDir: "/opt/spire",
    },
    {
        image: /\/spire-controller-manager:/,
        binary: "spire-controller-manager",
        entrypoint: ["/spire-controller-manager"],
        workingDir: "/",
    },
];

/** The image's entry in IMAGES; throws for an image this runner has no binary for. */
export function imageOf(image: string): (typeof IMAGES)[number] {
    const found = IMAGES.find((i) => i.image.test(image));
    if (!found) throw new Error(`no binary for image ${image} (known: ${IMAGES.map((i) => i.binary).join(", ")})`);
    return found;
}

/** A Kubernetes quantity ("500m", "2", "1Gi", "128M") as a number of base units. */
export function parseQuantity(q: string): number {
    const m = /^([0-9.]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
    if (!m) throw new Error(`not a quantity: ${q}`);
    const factor: Record<string, number> = {
        "": 1,
        m: 1e-3,
        k: 1e3,
        M: 1e6,
        G: 1e9,
        T: 1e12,
        P: 1e15,
        E: 1e18,
        Ki: 2 ** 10,
        Mi: 2 ** 20,
        Gi: 2 ** 30,
        Ti: 2 ** 40,
        Pi: 2 ** 50,
        Ei: 2 ** 60,
    };
    return Number(m[1]) * factor[m[2] ?? ""];
}

/**
 * A resourceFieldRef as the kubelet resolves it (pkg/api/v1/resource.ExtractContainerResourceValue):
 * the container's limit (or request), else for limits the node's allocatable; divided by the
 * divisor and rounded up.
 */
export function resourceValue(
    ref: k8s.V1ResourceFieldSelector,
    container: k8s.V1Container,
    allocatable: Record<string, string>,
): string {
    const [kind, resource] = ref.resource.split(".", 2) as ["limits" | "requests", string];
    const own = kind === "limits" ? container.resources?.limits?.[resource] : container.resources?.requests?.[resource];
    const value = own ?? (kind === "limits" ? allocatable[resource] : undefined) ?? "0";
    const divisor = parseQuantity(ref.divisor ?? "1");
    return String(Math.ceil(parseQuantity(String(value)) / divisor - 1e-9));
}

/** A fieldRef of the downward API (env or volume item), from the pod as the API server holds it. */
export function fieldValue(fieldPath: string, pod: k8s.V1Pod): string {
    const meta = pod.metadata ?? {};
    const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
    if (keyed) return (keyed[1] === "labels" ? meta.labels : meta.annotations)?.[keyed[2]] ?? "";
    const map = (m: Record<string, string> | undefined) =>
        Object.entries(m ?? {})
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
            .join("\n");
    const fields: Record<string, () => string | undefined> = {
        "metadata.name": () => meta.name,
        "metadata.namespace": () => meta.namespace,
        "metadata.uid": () => meta.uid,
        "metadata.labels": () => map(meta.labels),
        "metadata.annotations": () => map(meta.annotations),
        "spec.nodeName": () => pod.spec?.nodeName,
        "spec.serviceAccountName": () => pod.spec?.serviceAccountName,
        "status.hostIP": () => pod.status?.hostIP,
        "status.hostIPs": () => (pod.status?.hostIPs ?? []).map((i) => i.ip).join(","),
        "status.podIP": () => pod.status?.podIP,
        "status.podIPs": () => (pod.status?.podIPs ?? []).map((i) => i.ip).join(","),
    };
    const field = fields[fieldPath];
    if (!field) throw new Error(`fieldRef ${fieldPath} is not supported`);
    return field() ?? "";
}

/** What env and volumes read from the cluster; a fake in the tests. */
export interface PodSources {
    configMap(name: string): Promise<Record<string, Buffer> | undefined>;
    secret(name: string): Promise<Record<string, Buffer> | undefined>;
    /** A token for the pod's service account, bound to the pod (TokenRequest). */
    token(audience: string | undefined, expirationSeconds: number | undefined): Promise<string>;
    /** The node's allocatable resources (limits the container does not set). */
    readonly allocatable: Record<string, string>;
}

/** `$(VAR)` references expanded as the kubelet does (third_party/forked/golang/expansion): `$$` escapes, unknown names stay. */
export function expand(text: string, env: Record<string, string>): string {
    return text.replace(/\$(\$|\(([A-Za-z_][A-Za-z0-9_.-]*)\))/g, (whole, inner: string, name?: string) => {
        if (inner === "$") return "$";
        return name !== undefined && name in env ? env[name] : whole;
    });
}

/** A container's environment as the kubelet builds it: envFrom, then env in order (each value expanded against the earlier ones). */
export async function containerEnv(
    pod: k8s.V1Pod,
    container: k8s.V1Container,
    sources: PodSources,
    service: Record<string, string>,
): Promise<Record<string, string>> {
    const env: Record<string, string> = { ...service };
    for (const from of container.envFrom ?? []) {
        const ref = from.configMapRef ?? from.secretRef;
        if (!ref?.name) continue;
        const data = from.configMapRef ? await sources.configMap(ref.name) : await sources.secret(ref.name);
        if (data === undefined && !ref.optional) throw new Error(`envFrom ${ref.name} not found`);
        for (const [k, v] of Object.entries(data ?? {})) env[`${from.prefix ?? ""}${k}`] = v.toString();
    }
    for (const e of container.env ?? []) {
        const from = e.valueFrom;
        if (!from) env[e.name] = expand(e.value ?? "", env);
        else if (from.fieldRef) env[e.name] = fieldValue(from.fieldRef.fieldPath, pod);
        else if (from.resourceFieldRef)
            env[e.name] = resourceValue(from.resourceFieldRef, container, sources.allocatable);
        else {
            const ref = (from.configMapKeyRef ?? from.secretKeyRef) as k8s.V1ConfigMapKeySelector;
            const data = from.configMapKeyRef
                ? await sources.configMap(ref.name ?? "")
                : await sources.secret(ref.name ?? "");
            const value = data?.[ref.key];
            if (value === undefined && !ref.optional)
                throw new Error(`env ${e.name}: key ${ref.key} of ${ref.name} not found`);
            if (value !== undefined) env[e.name] = value.toString();
        }
    }
    return env;
}

/** Files of a configMap or secret volume: every key, or the listed items at their paths. */
function keyFiles(
    data: Record<string, Buffer>,
    items: { key: string; path: string }[] | undefined,
): [string, Buffer][] {
    if (!items) return Object.entries(data);
    return items.map((i) => {
        if (!(i.key in data)) throw new Error(`item ${i.key} not found`);
        return [i.path, data[i.key]];
    });
}

function write(dir: string, file: string, content: Buffer | string): void {
    const to = path.join(dir, file);
    if (!to.startsWith(dir + path.sep)) throw new Error(`item path ${file} leaves its volume`);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.writeFileSync(to, content, { mode: 0o644 });
}

/**
 * Fills `dir` with a volume's content. Returns a note for what is only an empty
 * directory here (a CSI volume: no driver runs in the simulated lab).
 */
export async function materializeVolume(
    volume: k8s.V1Volume,
    dir: string,
    pod: k8s.V1Pod,
    sources: PodSources,
    claims: string,
): Promise<string | undefined> {
    fs.mkdirSync(dir, { recursive: true });
    const named = async (
        kind: "configMap" | "secret",
        name: string,
        optional: boolean | undefined,
        items: k8s.V1KeyToPath[] | undefined,
    ) => {
        const data = kind === "configMap" ? await sources.configMap(name) : await sources.secret(name);
        if (data === undefined) {
            if (optional) return;
            throw new Error(`volume ${volume.name}: ${kind} ${name} not found (not optional)`);
        }
        for (const [file, content] of keyFiles(data, items)) write(dir, file, content);
    };
    const downward = (items: k8s.V1DownwardAPIVolumeFile[] | undefined) => {
        for (const item of items ?? []) {
            const container =
                pod.spec?.containers.find((c) => c.name === item.resourceFieldRef?.containerName) ??
                pod.spec?.containers[0];
            const value = item.fieldRef
                ? fieldValue(item.fieldRef.fieldPath, pod)
                : resourceValue(
                      item.resourceFieldRef as k8s.V1ResourceFieldSelector,
                      container as k8s.V1Container,
                      sources.allocatable,
                  );
            write(dir, item.path, value);
        }
    };
    if (volume.configMap)
        await named("configMap", volume.configMap.name ?? "", volume.configMap.optional, volume.configMap.items);
    else if (volume.secret)
        await named("secret", volume.secret.secretName ?? "", volume.secret.optional, volume.secret.items);
    else if (volume.downwardAPI) downward(volume.downwardAPI.items);
    else if (volume.projected) {
        for (const source of volume.projected.sources ?? []) {
            if (source.serviceAccountToken) {
                const t = source.serviceAccountToken;
                write(dir, t.path, await sources.token(t.audience, t.expirationSeconds));
            } else if (source.configMap)
                await named(
                    "configMap",
                    source.configMap.name ?? "",
                    source.configMap.optional,
                    source.configMap.items,
                );
            else if (source.secret)
                await named("secret", source.secret.name ?? "", source.secret.optional, source.secret.items);
            else if (source.downwardAPI) downward(source.downwardAPI.items);
            else
                throw new Error(
                    `volume ${volume.name}: projected source ${Object.keys(source).join(",")} is not supported`,
                );
        }
    } else if (volume.emptyDir) {
        // Shared by the pod's containers: they bind the same directory.
    } else if (volume.persistentVolumeClaim) {
        // The claim's data outlives the pod: a directory per claim, outside the pod's own.
        const kept = path.join(claims, volume.persistentVolumeClaim.claimName);
        fs.mkdirSync(kept, { recursive: true });
        fs.rmdirSync(dir);
        fs.symlinkSync(kept, dir);
    } else if (volume.csi) {
        return `volume ${volume.name}: CSI driver ${volume.csi.driver} does not run in the simulated lab, an empty directory`;
    } else
        throw new Error(
            `volume ${volume.name}: ${Object.keys(volume).filter((k) => k !== "name")} volumes are not supported`,
        );
    return undefined;
}

/** One bind mount of a container: a file or directory of the work dir at an absolute path. */
export interface Bind {
    readonly source: string;
    readonly target: string;
    readonly readOnly: boolean;
}

/** How the runner sees the machine's filesystem (lstat and readlink); a fake in the tests. */
export interface HostFs {
    /** "dir", "file", "link" or undefined when absent. */
    kind(p: string): "dir" | "file" | "link" | undefined;
    readlink(p: string): string;
    /** A directory, following links. */
    isDir(p: string): boolean;
}

export const realHostFs: HostFs = {
    kind(p) {
        try {
            const s = fs.lstatSync(p);
            return s.isSymbolicLink() ? "link" : s.isDirectory() ? "dir" : "file";
        } catch {
            return undefined;
        }
    },
    readlink: (p) => fs.readlinkSync(p),
    isDir: (p) => fs.existsSync(p) && fs.statSync(p).isDirectory(),
};

/** Resolves symbolic links of the machine's filesystem in an absolute path, component by component; stops at `under` (paths of binds). */
export function resolvePath(target: string, host: HostFs, under: (p: string) => boolean): string {
    let rest = target.split("/").filter((c) => c !== "" && c !== ".");
    let done: string[] = [];
    for (let hops = 0; rest.length > 0;) {
        const c = rest.shift() as string;
        if (c === "..") {
            done.pop();
            continue;
        }
        const p = "/" + [...done, c].join("/");
        if (!under(p) && host.kind(p) === "link") {
            if (++hops > 40) throw new Error(`too many symbolic links in ${target}`);
            const link = host.readlink(p);
            const parts = link.split("/").filter((x) => x !== "" && x !== ".");
            if (link.startsWith("/")) done = [];
            rest = [...parts, ...rest];
            continue;
        }
        done.push(c);
    }
    return "/" + done.join("/");
}

/**
 * The shell lines that build a container's root under `root` and bind its mounts there
 * (to run inside a private mount namespace, then `chroot root`):
 * - each top-level entry of the machine's `/` is bound (rbind) read-only at root/<entry>
 *   (dev, proc and sys writable), a symbolic link copied, and /tmp is a directory of the
 *   container's own;
 * - a mount point that does not exist (/etc/cacerts, /run/spire/config) is made in an
 *   overlay over its top-level directory (upper and work dirs under `scratch`), or in
 *   the source of the bind it lies in (/tmp/spire-server/private in the /tmp
 *   emptyDir), or in the root itself for a new top-level entry; never on the
 *   machine's filesystem;
 * - binds go parents first (as containerd sorts them), read-only ones remounted ro.
 */
export function mountScript(binds: Bind[], root: string, scratch: string, host: HostFs, topLevel: string[]): string[] {
    const q = shellQuote;
    const depth = (p: string) => p.split("/").length;
    const inside = (p: string, t: string) => p === t || p.startsWith(t + "/");
    // Symbolic links are the machine's only outside every bind: resolve the shallow targets first.
    const resolved: Bind[] = [];
    for (const b of [...binds].sort((x, y) => depth(x.target) - depth(y.target))) {
        resolved.push({ ...b, target: resolvePath(b.target, host, (p) => resolved.some((r) => inside(p, r.target))) });
    }
    resolved.sort((x, y) => depth(x.target) - depth(y.target) || x.target.localeCompare(y.target));
    const overlays: string[] = [];
    const steps: string[] = [];
    for (const [i, b] of resolved.entries()) {
        const make = (at: string) =>
            host.isDir(b.source) ? `mkdir -p ${q(at)}` : `mkdir -p ${q(path.dirname(at))} && touch ${q(at)}`;
        const parent = resolved
            .slice(0, i)
            .filter((r) => r.target !== b.target && inside(b.target, r.target))
            .pop();
        const top = b.target.split("/")[1];
        if (parent) {
            // Inside another bind: the mount point goes into that bind's source, as runc makes it in the volume.
            steps.push(make(path.join(parent.source, path.relative(parent.target, b.target))));
        } else if (host.kind(b.target) !== undefined) {
            // Exists on the machine: bound over, nothing to make.
        } else if (host.kind("/" + top) === "dir") {
            if (!overlays.includes(top)) overlays.push(top);
            steps.push(make(root + b.target));
        } else {
            // A new top-level entry: made in the root, which is ours.
            steps.push(make(root + b.target));
        }
        steps.push(`mount --bind ${q(b.source)} ${q(root + b.target)}`);
        if (b.readOnly) steps.push(`mount -o remount,bind,ro ${q(root + b.target)}`);
    }
    // The entry that holds the root itself first, so that its rbind does not copy the others' mounts.
    const holder = root.split("/")[1];
    const tops = [...topLevel]
        .sort((a, b) => Number(b === holder) - Number(a === holder))
        .map((t) => {
            const p = "/" + t;
            const at = q(root + p);
            if (overlays.includes(t)) {
                const upper = path.join(scratch, "overlay", t, "upper");
                const work = path.join(scratch, "overlay", t, "work");
                return `mkdir -p ${at} ${q(upper)} ${q(work)} && mount -t overlay overlay -o ${q(`lowerdir=${p},upperdir=${upper},workdir=${work}`)} ${at}`;
            }
            if (t === "tmp") {
                // A /tmp of the container's own, not the machine's.
                return `mkdir -p ${at} ${q(path.join(scratch, "tmp"))} && mount --bind ${q(path.join(scratch, "tmp"))} ${at}`;
            }
            switch (host.kind(p)) {
                case "link":
                    return `ln -sfn ${q(host.readlink(p))} ${at}`;
                case "dir":
                    // Read-only, as the pods' readOnlyRootFilesystem: the process writes only to its volumes.
                    return `mkdir -p ${at} && mount --rbind ${q(p)} ${at}${KERNEL_FS.includes(t) ? "" : ` && mount -o remount,bind,ro ${at}`}`;
                default:
                    return `touch ${at} && mount --bind ${q(p)} ${at} && mount -o remount,bind,ro ${at}`;
            }
        });
    return [`mkdir -p ${q(root)}`, ...tops, ...steps];
}

/** Top-level directories that stay writable in a container's root: the kernel's own file systems. */
const KERNEL_FS = ["dev", "proc", "sys"];

/** Single-quoted for sh. */
export function shellQuote(s: string): string {
    return /^[A-Za-z0-9_./:=,@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The OCI runtime's PATH when neither the image nor the pod sets one (runc/containerd default). */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The command line of a container: command (else the image's ENTRYPOINT) and args, `$(VAR)`-expanded. */
export function commandLine(container: k8s.V1Container, env: Record<string, string>): string[] {
    const image = imageOf(container.image ?? "");
    const command = container.command ?? [...image.entrypoint];
    // An image's CMD is used only without args and without command; none of ours has one.
    return [...command, ...(container.args ?? [])].map((a) => expand(a, env));
}

/** The script that runs one container: its root and mounts, then its process (exec: the PID run.sh records is the binary's). */
export function containerScript(opts: {
    pod: string;
    container: k8s.V1Container;
    binds: Bind[];
    env: Record<string, string>;
    root: string;
    scratch: string;
    host: HostFs;
    topLevel: string[];
}): string {
    const { container, env } = opts;
    const image = imageOf(container.image ?? "");
    const argv = commandLine(container, env);
    const environment = { PATH: DEFAULT_PATH, HOSTNAME: opts.pod, ...env };
    const wd = container.workingDir ?? image.workingDir;
    return [
        "#!/usr/bin/env bash",
        `# ${opts.pod}/${container.name} (${container.image}), written by test/engine/pods.ts: run it under`,
        "# `ip netns exec <pod netns> unshare --mount --propagation private`.",
        "set -euo pipefail",
        ...mountScript(opts.binds, opts.root, opts.scratch, opts.host, opts.topLevel),
        `exec chroot ${shellQuote(opts.root)} /usr/bin/env -i ${Object.entries(environment)
            .map(([k, v]) => shellQuote(`${k}=${v}`))
            .join(" ")} /usr/bin/env -C ${shellQuote(wd)} ${argv.map(shellQuote).join(" ")}`,
        "",
    ].join("\n");
}

/** The binds of a container: its volumeMounts (subPath included) and the binary at the image's entrypoint path. */
export function containerBinds(container: k8s.V1Container, volumesDir: string, bin: string): Bind[] {
    const image = imageOf(container.image ?? "");
    const binds: Bind[] = (container.volumeMounts ?? []).map((m) => {
        let source = path.join(volumesDir, m.name);
        if (m.subPath) {
            source = path.join(source, m.subPath);
            // The kubelet makes a missing subPath a directory.
            if (!fs.existsSync(source)) fs.mkdirSync(source, { recursive: true });
        }
        return { source, target: m.mountPath, readOnly: m.readOnly ?? false };
    });
    if (!container.command)
        binds.push({ source: path.join(bin, image.binary), target: image.entrypoint[0], readOnly: true });
    return binds;
}

// ---------------------------------------------------------------- the command

type Flags = Record<string, string>;

function flagsOf(argv: string[]): Flags {
    const flags: Flags = {};
    for (let i = 0; i < argv.length; i += 2) flags[argv[i].replace(/^--/, "")] = argv[i + 1];
    return flags;
}

function statusOf(err: unknown): number | undefined {
    return (
        (err as { statusCode?: number; response?: { statusCode?: number } }).response?.statusCode ??
        (err as { statusCode?: number }).statusCode
    );
}

async function orAbsent<T>(read: Promise<{ body: T }>): Promise<T | undefined> {
    try {
        return (await read).body;
    } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
    }
}

const bytes = (data: Record<string, string> | undefined, base64: boolean) =>
    Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, base64 ? "base64" : "utf8")]));

/**
 * `materialize --kubeconfig F --namespace NS --selector SEL --dir D --bin BIN --claims C`:
 * the first running pod that matches, made into D (see the top of this file).
 */
async function materialize(flags: Flags): Promise<void> {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(flags.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const namespace = flags.namespace;
    const pods = (await core.listNamespacedPod(namespace, undefined, undefined, undefined, undefined, flags.selector))
        .body.items;
    const pod = pods.find((p) => !p.metadata?.deletionTimestamp && p.status?.phase === "Running" && p.status.podIP);
    if (!pod?.metadata?.name || !pod.spec)
        throw new Error(`no running pod with ${flags.selector} in ${namespace} (found ${pods.length})`);
    const name = pod.metadata.name;
    const node = (await core.readNode(pod.spec.nodeName ?? "")).body;
    // In-cluster API access: kube-proxy does not run here and this machine has no iptables to
    // DNAT the `kubernetes` Service's ClusterIP, so the variables name the API server itself
    // (its serving certificate holds that address).
    const server = new URL(kc.getCurrentCluster()?.server ?? "");
    const service = {
        KUBERNETES_SERVICE_HOST: server.hostname,
        KUBERNETES_SERVICE_PORT: server.port || "443",
        KUBERNETES_SERVICE_PORT_HTTPS: server.port || "443",
    };
    const sources: PodSources = {
        configMap: async (n) => {
            const cm = await orAbsent(core.readNamespacedConfigMap(n, namespace));
            return cm && { ...bytes(cm.data, false), ...bytes(cm.binaryData, true) };
        },
        secret: async (n) => {
            const s = await orAbsent(core.readNamespacedSecret(n, namespace));
            return s && { ...bytes(s.data, true), ...bytes(s.stringData, false) };
        },
        token: async (audience, expirationSeconds) => {
            const res = await core.createNamespacedServiceAccountToken(
                pod.spec?.serviceAccountName ?? "default",
                namespace,
                {
                    spec: {
                        audiences: audience ? [audience] : [],
                        expirationSeconds: expirationSeconds ?? 3607,
                        boundObjectRef: { apiVersion: "v1", kind: "Pod", name, uid: pod.metadata?.uid },
                    },
                },
            );
            return res.body.status?.token ?? "";
        },
        allocatable: node.status?.allocatable ?? {},
    };
    const dir = path.resolve(flags.dir);
    const volumesDir = path.join(dir, "volumes");
    const notes: string[] = [];
    for (const volume of pod.spec.volumes ?? []) {
        const note = await materializeVolume(
            volume,
            path.join(volumesDir, volume.name),
            pod,
            sources,
            path.resolve(flags.claims),
        );
        if (note) notes.push(note);
    }
    // Init containers are not run: ours only prepare what running as root makes moot (the chart's chown of the data volume).
    for (const init of pod.spec.initContainers ?? []) notes.push(`init container ${init.name} (${init.image}) not run`);
    // The files the kubelet writes for a pod (dnsPolicy ClusterFirst): the cluster's DNS Service
    // (kubeadm's clusterDNS, the 10th address of the service range, next to the `kubernetes`
    // Service's first) rather than this machine's resolver, and the pod's own /etc/hosts.
    const apiService = (await core.readNamespacedService("kubernetes", "default")).body.spec?.clusterIP ?? "";
    const clusterDns = apiService.replace(/\.1$/, ".10");
    const kubeletFiles = path.join(dir, "kubelet");
    fs.mkdirSync(kubeletFiles, { recursive: true });
    fs.writeFileSync(
        path.join(kubeletFiles, "resolv.conf"),
        `search ${namespace}.svc.cluster.local svc.cluster.local cluster.local\nnameserver ${clusterDns}\noptions ndots:5\n`,
    );
    fs.writeFileSync(
        path.join(kubeletFiles, "hosts"),
        `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${pod.status?.podIP}\t${name}\n`,
    );
    const topLevel = fs.readdirSync("/").filter((e) => !["lost+found"].includes(e));
    const containers = pod.spec.containers;
    for (const container of containers) {
        const env = await containerEnv(pod, container, sources, service);
        const binds = [
            ...containerBinds(container, volumesDir, path.resolve(flags.bin)),
            { source: path.join(kubeletFiles, "resolv.conf"), target: "/etc/resolv.conf", readOnly: true },
            { source: path.join(kubeletFiles, "hosts"), target: "/etc/hosts", readOnly: true },
        ];
        // Where each path of the container is on this machine, for the checks (control-plane.ts).
        fs.writeFileSync(path.join(dir, `${container.name}.binds.json`), JSON.stringify(binds, null, 2) + "\n");
        const script = containerScript({
            pod: name,
            container,
            binds,
            env,
            root: path.join(dir, "root", container.name),
            scratch: path.join(dir, "scratch", container.name),
            host: realHostFs,
            topLevel,
        });
        fs.writeFileSync(path.join(dir, `${container.name}.sh`), script, { mode: 0o755 });
    }
    const assignments = [
        `pod_name=${shellQuote(name)}`,
        `pod_ip=${shellQuote(pod.status?.podIP ?? "")}`,
        `containers=${shellQuote(containers.map((c) => c.name).join(" "))}`,
    ];
    fs.writeFileSync(path.join(dir, "pod.sh"), assignments.join("\n") + "\n");
    for (const note of notes) console.log(`  ${namespace}/${name}: ${note}`);
}

if (require.main === module) {
    const [command, ...rest] = process.argv.slice(2);
    if (command !== "materialize") {
        console.error(
            "usage: pods.ts materialize --kubeconfig F --namespace NS --selector SEL --dir D --bin BIN --claims C",
        );
        process.exit(2);
    }
    materialize(flagsOf(rest)).catch((err: unknown) => {
        const body = (err as { body?: { message?: string } }).body?.message;
        console.log(
            `FAIL: pods.ts materialize ${flagsOf(rest).namespace}/${flagsOf(rest).selector}: ${body ?? (err instanceof Error ? err.message : String(err))}`,
        );
        process.exit(2);
    });
}
