// The pure parts of the engine tier's control-plane runner (test/engine/pods.ts) and of its
// checks (test/engine/control-plane.ts). The runner itself runs in `npm run test:engine`.
import * as k8s from "@kubernetes/client-node";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    LiveClusterSpiffeId,
    peerServiceProblems,
    pluggedCaProblems,
    promisedIds,
    refusedReads,
    remoteReadProblems,
    renderSpiffeIdTemplate,
    selects,
    spireChainProblems,
    withoutEndpointSliceReads,
} from "./engine/control-plane";
import {
    commandLine,
    containerEnv,
    expand,
    fieldValue,
    HostFs,
    materializeVolume,
    mountScript,
    PodSources,
    resolvePath,
    resourceValue,
} from "./engine/pods";

const pod: k8s.V1Pod = {
    metadata: {
        name: "istiod-7d9f-abcde",
        namespace: "istio-system",
        uid: "0b1c",
        labels: { app: "istiod", istio: "pilot" },
    },
    spec: {
        nodeName: "cluster1",
        serviceAccountName: "istiod",
        containers: [{ name: "discovery", image: "docker.io/istio/pilot:1.30.3" }],
    },
    status: { phase: "Running", podIP: "10.244.0.7", hostIP: "10.5.0.3" },
};

const sources = (over: Partial<PodSources> = {}): PodSources => ({
    configMap: async (n) =>
        n === "istio"
            ? { mesh: Buffer.from("trustDomain: zta.lab\n"), meshNetworks: Buffer.from("networks: {}\n") }
            : undefined,
    secret: async (n) =>
        n === "cacerts" ? { "ca-cert.pem": Buffer.from("CA"), "ca-key.pem": Buffer.from("KEY") } : undefined,
    token: async (audience, expiry) => `token(${audience ?? "api"},${expiry})`,
    allocatable: { cpu: "32", memory: "256Gi" },
    ...over,
});

describe("env as the kubelet resolves it", () => {
    test("$(VAR) expands earlier variables, $$ escapes, an unknown name stays as written", () => {
        expect(expand("$(A)/x/$$(A)/$(B)", { A: "a" })).toBe("a/x/$(A)/$(B)");
    });

    test("fieldRefs: name, namespace, service account, node, pod and host IP, a label by key", () => {
        expect(
            [
                "metadata.name",
                "metadata.namespace",
                "spec.serviceAccountName",
                "spec.nodeName",
                "status.podIP",
                "status.hostIP",
                "metadata.labels['istio']",
            ].map((f) => fieldValue(f, pod)),
        ).toEqual(["istiod-7d9f-abcde", "istio-system", "istiod", "cluster1", "10.244.0.7", "10.5.0.3", "pilot"]);
        expect(() => fieldValue("spec.hostname", pod)).toThrow(/not supported/);
    });

    test("resourceFieldRef: the container's limit divided and rounded up, else the node's allocatable (istiod's GOMAXPROCS)", () => {
        const container: k8s.V1Container = { name: "c", resources: { limits: { cpu: "1500m", memory: "1Gi" } } };
        expect(resourceValue({ resource: "limits.cpu", divisor: "1" }, container, {})).toBe("2");
        expect(resourceValue({ resource: "limits.memory", divisor: "1Mi" }, container, {})).toBe("1024");
        expect(resourceValue({ resource: "limits.cpu", divisor: "1" }, { name: "c" }, { cpu: "32" })).toBe("32");
    });

    test("values, fieldRefs, secretKeyRef, configMapKeyRef in order, optional keys left out, envFrom with its prefix", async () => {
        const container: k8s.V1Container = {
            name: "discovery",
            envFrom: [{ prefix: "MESH_", configMapRef: { name: "istio" } }],
            env: [
                { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                { name: "DIR", value: "/var/run/$(POD_NAMESPACE)" },
                { name: "KEY", valueFrom: { secretKeyRef: { name: "cacerts", key: "ca-key.pem" } } },
                { name: "NONE", valueFrom: { secretKeyRef: { name: "absent", key: "x", optional: true } } },
            ],
        };
        const env = await containerEnv(pod, container, sources(), { KUBERNETES_SERVICE_HOST: "10.5.0.3" });
        expect(env).toEqual({
            KUBERNETES_SERVICE_HOST: "10.5.0.3",
            MESH_mesh: "trustDomain: zta.lab\n",
            MESH_meshNetworks: "networks: {}\n",
            POD_NAMESPACE: "istio-system",
            DIR: "/var/run/istio-system",
            KEY: "KEY",
        });
        await expect(
            containerEnv(
                pod,
                { name: "c", env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "istio", key: "nope" } } }] },
                sources(),
                {},
            ),
        ).rejects.toThrow(/key nope of istio not found/);
    });

    test("the command line: the image's entrypoint (not in the pod spec) with the container's args, expanded", () => {
        expect(
            commandLine(
                {
                    name: "spire-server",
                    image: "ghcr.io/spiffe/spire-server:1.14.5",
                    args: ["-config", "/run/$(D)/server.conf"],
                },
                { D: "spire" },
            ),
        ).toEqual(["/opt/spire/bin/spire-server", "run", "-config", "/run/spire/server.conf"]);
        expect(
            commandLine({ name: "c", image: "docker.io/istio/pilot:1.30.3", command: ["/bin/x"], args: ["a"] }, {}),
        ).toEqual(["/bin/x", "a"]);
        expect(() => commandLine({ name: "c", image: "docker.io/library/nginx:1" }, {})).toThrow(/no binary for image/);
    });
});

describe("volumes", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "zta-runner-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const read = (p: string) => fs.readFileSync(path.join(dir, p), "utf8");

    test("projected: a token for the source's audience and expiry, a ConfigMap's items, the downward API", async () => {
        const volume: k8s.V1Volume = {
            name: "kube-api-access",
            projected: {
                sources: [
                    { serviceAccountToken: { audience: "istio-ca", expirationSeconds: 43200, path: "istio-token" } },
                    { configMap: { name: "istio", items: [{ key: "mesh", path: "conf/mesh.yaml" }] } },
                    { downwardAPI: { items: [{ path: "namespace", fieldRef: { fieldPath: "metadata.namespace" } }] } },
                ],
            },
        };
        await materializeVolume(volume, path.join(dir, "v"), pod, sources(), path.join(dir, "claims"));
        expect([read("v/istio-token"), read("v/conf/mesh.yaml"), read("v/namespace")]).toEqual([
            "token(istio-ca,43200)",
            "trustDomain: zta.lab\n",
            "istio-system",
        ]);
        expect(fs.readdirSync(path.join(dir, "v")).sort()).toEqual(["conf", "istio-token", "namespace"]);
    });

    test("an optional Secret that is absent is an empty directory; a required one fails, naming it", async () => {
        await materializeVolume(
            { name: "kc", secret: { secretName: "istio-kubeconfig", optional: true } },
            path.join(dir, "kc"),
            pod,
            sources(),
            dir,
        );
        expect(fs.readdirSync(path.join(dir, "kc"))).toEqual([]);
        await expect(
            materializeVolume(
                { name: "x", secret: { secretName: "istio-kubeconfig" } },
                path.join(dir, "x"),
                pod,
                sources(),
                dir,
            ),
        ).rejects.toThrow(/secret istio-kubeconfig not found/);
    });

    test("an item path may not leave its volume", async () => {
        const volume: k8s.V1Volume = {
            name: "c",
            secret: { secretName: "cacerts", items: [{ key: "ca-key.pem", path: "../escape" }] },
        };
        await expect(materializeVolume(volume, path.join(dir, "c"), pod, sources(), dir)).rejects.toThrow(
            /leaves its volume/,
        );
    });

    test("a claim is a directory kept per claim name; a CSI volume is an empty directory and says so", async () => {
        await materializeVolume(
            { name: "spire-data", persistentVolumeClaim: { claimName: "spire-data-spire-server-0" } },
            path.join(dir, "data"),
            pod,
            sources(),
            path.join(dir, "claims"),
        );
        expect(fs.realpathSync(path.join(dir, "data"))).toBe(
            fs.realpathSync(path.join(dir, "claims", "spire-data-spire-server-0")),
        );
        const note = await materializeVolume(
            { name: "sock", csi: { driver: "csi.spiffe.io" } },
            path.join(dir, "sock"),
            pod,
            sources(),
            dir,
        );
        expect(note).toMatch(/CSI driver csi.spiffe.io does not run/);
    });
});

describe("mounts, never on the machine's own filesystem", () => {
    // A machine with /etc, /tmp, /usr (no /usr/local/bin/pilot-discovery), and /var/run -> /run (Debian's absolute link).
    const tree: Record<string, "dir" | "file" | string> = {
        "/etc": "dir",
        "/tmp": "dir",
        "/usr": "dir",
        "/usr/local": "dir",
        "/usr/local/bin": "dir",
        "/var": "dir",
        "/var/run": "->/run",
        "/run": "dir",
        "/bin": "->usr/bin",
    };
    const host: HostFs = {
        kind: (p) =>
            tree[p] === undefined
                ? p.startsWith("/w/")
                    ? "dir"
                    : undefined
                : tree[p].startsWith("->")
                  ? "link"
                  : (tree[p] as "dir"),
        readlink: (p) => tree[p].slice(2),
        isDir: (p) => !p.endsWith(".yaml") && !p.endsWith("pilot-discovery"),
    };

    test("symbolic links of the machine resolve component by component, absolute and relative", () => {
        expect(resolvePath("/var/run/secrets/tokens", host, () => false)).toBe("/run/secrets/tokens");
        expect(resolvePath("/bin/x", host, () => false)).toBe("/usr/bin/x");
    });

    test("a missing mount point is made in an overlay of its top-level directory, in the bind it lies in, or in the root", () => {
        const lines = mountScript(
            [
                { source: "/w/v/cacerts", target: "/etc/cacerts", readOnly: true },
                { source: "/w/v/socket", target: "/tmp/spire-server/private", readOnly: false },
                { source: "/w/v/tmp", target: "/tmp", readOnly: false },
                { source: "/w/v/token", target: "/var/run/secrets/tokens", readOnly: true },
                {
                    source: "/w/v/cm/controller-manager-config.yaml",
                    target: "/controller-manager-config.yaml",
                    readOnly: true,
                },
                { source: "/w/bin/pilot-discovery", target: "/usr/local/bin/pilot-discovery", readOnly: true },
            ],
            "/w/root",
            "/w/scratch",
            host,
            ["bin", "etc", "run", "tmp", "usr", "var"],
        );
        // Everything made is under the work dir /w; the machine's directories are only read.
        const made = lines
            .flatMap((l) => l.split(" && ").filter((c) => /^(mkdir -p|touch) /.test(c)))
            .flatMap((c) => c.replace(/^(mkdir -p|touch) /, "").split(" "));
        expect(made.filter((p) => !p.startsWith("/w/"))).toEqual([]);
        expect(lines).toContain(
            "mkdir -p /w/root/etc /w/scratch/overlay/etc/upper /w/scratch/overlay/etc/work && mount -t overlay overlay -o lowerdir=/etc,upperdir=/w/scratch/overlay/etc/upper,workdir=/w/scratch/overlay/etc/work /w/root/etc",
        );
        expect(lines).toContain("mkdir -p /w/root/run/secrets/tokens");
        expect(lines).toContain("mkdir -p /w/v/tmp/spire-server/private");
        expect(lines).toContain("mkdir -p /w/root && touch /w/root/controller-manager-config.yaml");
        expect(lines).toContain("mkdir -p /w/root/usr/local/bin && touch /w/root/usr/local/bin/pilot-discovery");
        expect(lines).toContain("ln -sfn usr/bin /w/root/bin");
        expect(lines).toContain(
            "mkdir -p /w/root/var && mount --rbind /var /w/root/var && mount -o remount,bind,ro /w/root/var",
        );
        expect(lines).toContain("mkdir -p /w/root/tmp /w/scratch/tmp && mount --bind /w/scratch/tmp /w/root/tmp");
        // Parents before children (/tmp before /tmp/spire-server/private), read-only ones remounted.
        expect(lines.indexOf("mount --bind /w/v/tmp /w/root/tmp")).toBeLessThan(
            lines.indexOf("mount --bind /w/v/socket /w/root/tmp/spire-server/private"),
        );
        expect(lines).toContain("mount -o remount,bind,ro /w/root/etc/cacerts");
        expect(lines).not.toContain("mount -o remount,bind,ro /w/root/tmp");
    });
});

describe("the control plane's checks decide on what istiod and SPIRE answer", () => {
    test("the plugged-in CA: istiod's own log lines (pilot/pkg/bootstrap/istio_ca.go)", () => {
        const plugged = "info\tUsing istiod file format for signing ca files\ninfo\tUse local CA certificate\n";
        expect(pluggedCaProblems(plugged)).toEqual([]);
        expect(pluggedCaProblems("info\tUse self-signed certificate as the CA certificate\n")).toHaveLength(3);
        expect(
            pluggedCaProblems(
                `${plugged}error\tfailed to create an istiod CA: failed to create CA KeyCertBundle (private key does not match)`,
            ),
        ).toEqual(["failed to create an istiod CA: failed to create CA KeyCertBundle (private key does not match)"]);
    });

    test("the broken reader: endpointslices lose list and watch, every other resource keeps its verbs", () => {
        const core = { apiGroups: [""], resources: ["pods", "services"], verbs: ["get", "list", "watch"] };
        expect(withoutEndpointSliceReads(core)).toEqual([core]);
        expect(
            withoutEndpointSliceReads({
                apiGroups: ["discovery.k8s.io"],
                resources: ["endpointslices", "x"],
                verbs: ["get", "list", "watch"],
            }),
        ).toEqual([
            { apiGroups: ["discovery.k8s.io"], resources: ["x"], verbs: ["get", "list", "watch"] },
            { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get"] },
        ]);
        expect(
            withoutEndpointSliceReads({
                apiGroups: ["discovery.k8s.io"],
                resources: ["endpointslices"],
                verbs: ["list", "watch"],
            }),
        ).toEqual([]);
        expect(() => withoutEndpointSliceReads({ apiGroups: ["*"], resources: ["*"], verbs: ["list"] })).toThrow(
            /wildcard/,
        );
    });

    test("a peer's services: endpoints in the peer's shard, on the peer's network", () => {
        const shardz = {
            "helloworld.sample.svc.cluster.local": {
                sample: {
                    Shards: {
                        "Kubernetes/cluster2": [{ Addresses: ["10.245.0.9"], Network: "network2" }],
                        "Kubernetes/cluster1": [{ Network: "network1" }],
                    },
                },
            },
            "httpbin.sample.svc.cluster.local": {
                sample: { Shards: { "Kubernetes/cluster2": [{ Addresses: ["10.245.0.4"], Network: "network1" }] } },
            },
        };
        const peer = { cluster: "cluster2", network: "network2" };
        expect(
            peerServiceProblems(shardz, { ...peer, services: [{ name: "helloworld", namespace: "sample" }] }),
        ).toEqual([]);
        expect(
            peerServiceProblems(shardz, {
                ...peer,
                services: [
                    { name: "httpbin", namespace: "sample" },
                    { name: "curl", namespace: "sample" },
                ],
            }),
        ).toEqual([
            'httpbin.sample.svc.cluster.local: endpoints of cluster2 on network "network1", not network2',
            "no endpoint of curl.sample.svc.cluster.local from cluster cluster2",
        ]);
    });

    test("label selectors: matchLabels and each matchExpressions operator", () => {
        const labels = { app: "x", tier: "web" };
        expect(
            selects(
                {
                    matchLabels: { app: "x" },
                    matchExpressions: [
                        { key: "tier", operator: "In", values: ["web"] },
                        { key: "gone", operator: "DoesNotExist" },
                    ],
                },
                labels,
            ),
        ).toBe(true);
        expect(selects({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["web"] }] }, labels)).toBe(
            false,
        );
        expect(selects({ matchExpressions: [{ key: "app", operator: "Exists" }] }, {})).toBe(false);
        expect(selects({ matchLabels: { app: "y" } }, labels)).toBe(false);
    });

    test("the IDs the ClusterSPIFFEIDs promise: their class only, running pods they select, ignored namespaces left out", () => {
        const template = "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}";
        const mk = (
            ns: string,
            name: string,
            sa: string,
            labels: Record<string, string>,
            phase = "Running",
        ): k8s.V1Pod => ({
            metadata: { namespace: ns, name, labels },
            spec: { serviceAccountName: sa, containers: [] },
            status: { phase },
        });
        const pods = [
            mk("istio-system", "eastwest-1", "istio-eastwestgateway", { istio: "eastwestgateway" }),
            mk("sample", "curl-1", "curl", { "spiffe.io/spire-managed-identity": "true" }),
            mk("sample", "curl-2", "curl", { "spiffe.io/spire-managed-identity": "true" }, "Pending"),
            mk("kube-system", "k-1", "k", { "spiffe.io/spire-managed-identity": "true" }),
        ];
        const ids: LiveClusterSpiffeId[] = [
            {
                name: "eastwest",
                spec: {
                    spiffeIDTemplate: template,
                    className: "zta-testbed",
                    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "istio-system" } },
                    podSelector: { matchLabels: { istio: "eastwestgateway" } },
                },
            },
            {
                name: "managed",
                spec: {
                    spiffeIDTemplate: template,
                    className: "zta-testbed",
                    podSelector: { matchLabels: { "spiffe.io/spire-managed-identity": "true" } },
                },
            },
            { name: "classless", spec: { spiffeIDTemplate: template, podSelector: {} } },
        ];
        const namespaces = {
            "istio-system": { "kubernetes.io/metadata.name": "istio-system" },
            sample: {},
            "kube-system": {},
        };
        expect(
            promisedIds(ids, pods, namespaces, {
                className: "zta-testbed",
                ignoreNamespaces: ["kube-system", "spire-.*"],
                trustDomain: "zta.lab",
                clusterName: "cluster1",
            }),
        ).toEqual([
            {
                id: "spiffe://zta.lab/ns/istio-system/sa/istio-eastwestgateway",
                pod: "istio-system/eastwest-1",
                by: "eastwest",
            },
            { id: "spiffe://zta.lab/ns/sample/sa/curl", pod: "sample/curl-1", by: "managed" },
        ]);
        expect(() =>
            renderSpiffeIdTemplate("spiffe://{{ .TrustDomain }}/{{ .PodMeta.Labels }}", {
                trustDomain: "t",
                clusterName: "c",
                pod: pods[0],
            }),
        ).toThrow(/cannot render/);
    });

    test("SPIRE's chain: the minted SVID's authority is signed by the upstream CA, the bundle holds the upstream bundle", () => {
        const fixture = (name: string) =>
            new X509Certificate(fs.readFileSync(path.join(__dirname, "fixtures", "verify", name), "utf8"));
        // The fixtures: lab-root signs cluster-intermediate (a CA), which signs curl-leaf (test/fixtures/verify/README.md).
        const [root, authority, leaf, otherRoot] = [
            fixture("lab-root.pem"),
            fixture("cluster-intermediate.pem"),
            fixture("curl-leaf.pem"),
            fixture("other-root.pem"),
        ];
        expect(spireChainProblems([leaf, authority], [root], root, [root])).toEqual([]);
        expect(spireChainProblems([leaf, authority], [root], otherRoot, [root])[0]).toMatch(
            /is not signed by the upstream CA/,
        );
        expect(spireChainProblems([leaf, authority], [otherRoot], root, [root])[0]).toMatch(
            /bundle lacks the upstream bundle's/,
        );
        expect(spireChainProblems([leaf], [root], root, [root])[0]).toMatch(/has 1 certificate/);
    });
});

describe("istiod reads a remote cluster with the least-privilege reader", () => {
    // As istiod 1.30.3 logs client-go's reflector errors (klog through istio's log, quotes escaped in the message).
    const log = [
        '2026-12-07T03:00:01Z\terror\tklog\tfailed to list *v1.Secret: secrets is forbidden: User "system:serviceaccount:istio-system:zta-istio-remote-reader" cannot list resource "secrets" in API group "" at the cluster scope',
        '2026-12-07T03:00:02Z\terror\tklog\tfailed to list *v1.EndpointSlice: endpointslices.discovery.k8s.io is forbidden: User \\"system:serviceaccount:istio-system:zta-engine-broken-reader\\" cannot watch resource \\"endpointslices\\" in API group \\"discovery.k8s.io\\" at the cluster scope',
    ].join("\n");

    test("the refused reads are attributed to the token's own service account", () => {
        expect(refusedReads(log, "istio-system:zta-istio-remote-reader")).toEqual(["secrets"]);
        expect(refusedReads(log, "istio-system:zta-engine-broken-reader")).toEqual(["endpointslices"]);
        expect(refusedReads(log, "istio-system:someone-else")).toEqual([]);
    });

    test("a cluster in timeout read with nothing refused but Secrets is read; one refused anything else is not", () => {
        const clusters = [
            { id: "cluster2", secretName: "istio-remote-secret-cluster2", syncStatus: "timeout" },
            { id: "broken-cluster2", secretName: "istio-remote-secret-broken-cluster2", syncStatus: "timeout" },
        ];
        expect(remoteReadProblems(clusters, "cluster2", ["secrets"])).toEqual([]);
        expect(remoteReadProblems(clusters, "broken-cluster2", ["endpointslices", "secrets"])).toEqual([
            "istiod was refused endpointslices on cluster broken-cluster2",
        ]);
        expect(remoteReadProblems(clusters, "cluster3", [])).toHaveLength(1);
        expect(remoteReadProblems([{ ...clusters[0], syncStatus: "syncing" }], "cluster2", [])).toHaveLength(1);
    });
});
