// Bare-metal hosts in the offline plan: HostPrep's SSH commands, their order and
// re-run triggers, the registry on comp1, bring-your-own clusters, and that every
// host script passes shellcheck.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { kubernetesPackages } from "../components/hostprep";
import { hostScript, scriptHash } from "../components/scripts";
import { evaluateStack } from "../offline/engine/evaluate";
import { PlannedResource } from "../offline/engine/record";
import { LabPlan, readStackConfig, StackPlan } from "../offline/planner/lab";
import { main } from "../stacks/main";
import { byoLabDir, findResource, labDirWith, planOf, REPO, resourcesOfType, stackOf } from "./helpers";
import { mockCertName } from "./mock-certs";

const COMMAND = "command:remote:Command";
const HOSTS = { comp2: "10.5.0.3", comp3: "10.5.0.4" } as const;

let lab: LabPlan;
beforeAll(async () => {
    lab = await planOf();
});

const cmd = (plan: StackPlan, step: string) => findResource(plan, COMMAND, `${plan.stack}-hostprep-${step}`);
const childrenOf = (plan: StackPlan, parent: PlannedResource) => plan.resources.filter((r) => r.parent === parent.urn);

/** True when `from` depends on `to`, directly or through other resources of the plan. */
function dependsOn(plan: StackPlan, from: PlannedResource, to: PlannedResource): boolean {
    const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
    const seen = new Set<string>();
    const walk = (urn: string): boolean => {
        if (urn === to.urn) return true;
        if (seen.has(urn)) return false;
        seen.add(urn);
        return (byUrn.get(urn)?.dependsOn ?? []).some(walk);
    };
    return from.dependsOn.some(walk);
}

function scriptFiles(dir: string): string[] {
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) =>
            e.isDirectory()
                ? scriptFiles(path.join(dir, e.name))
                : e.name.endsWith(".sh")
                  ? [path.join(dir, e.name)]
                  : [],
        );
}

describe("HostPrep connects to the stack's own host", () => {
    test.each(Object.entries(HOSTS))(
        "%s: every command of HostPrep runs on %s over SSH with a secret connection",
        (stack, address) => {
            const plan = stackOf(lab, stack);
            const prep = findResource(plan, "zta:host:HostPrep", `${stack}-hostprep`);
            const commands = childrenOf(plan, prep);
            expect(commands.map((c) => c.name.replace(`${stack}-hostprep-`, "")).sort()).toEqual(
                ["connection", "kubeadm-init", "kubeconfig", "prepare", "reset", "trust"].sort(),
            );
            for (const c of commands) {
                expect(c.type).toBe(COMMAND);
                // The connection carries the SSH key: the whole input is secret in the plan.
                expect(c.inputs.connection).toBe("[secret]");
                const target = `ssh://ubuntu@${address}:22`;
                if (c.inputs.triggers) expect((c.inputs.triggers as unknown[])[0]).toBe(target);
                else expect(c.inputs.create).toContain(target);
            }
        },
    );

    test("the API server, the init arguments and the kubeconfig point at the management address", () => {
        for (const [stack, address] of Object.entries(HOSTS)) {
            const plan = stackOf(lab, stack);
            expect(cmd(plan, "kubeadm-init").inputs.create).toMatch(
                new RegExp(
                    `'host/kubeadm-init.sh' '${address}' '10\\.24[45]\\.0\\.0/16' '10\\.9[67]\\.0\\.0/16' '(with|without)-kube-proxy'$`,
                ),
            );
            expect(cmd(plan, "kubeconfig").inputs.create).toMatch(new RegExp(`'host/kubeconfig.sh' '${address}'$`));
        }
    });

    test("scripts run as root through sudo -n, the connection gate as the SSH user", () => {
        const plan = stackOf(lab, "comp2");
        expect(cmd(plan, "connection").inputs.create).toMatch(/^bash -c /);
        for (const step of ["prepare", "trust", "kubeadm-init", "kubeconfig"])
            expect(cmd(plan, step).inputs.create).toMatch(/^sudo -n bash -c /);
    });
});

describe("order: connection, prepare, kubeadm init, kubeconfig, then the Kubernetes provider", () => {
    test.each(Object.keys(HOSTS))("%s", (stack) => {
        const plan = stackOf(lab, stack);
        const provider = findResource(plan, "pulumi:providers:kubernetes", `${stack}-k8s`);
        const [gate, prepare, trust, init, reset, read] = [
            "connection",
            "prepare",
            "trust",
            "kubeadm-init",
            "reset",
            "kubeconfig",
        ].map((s) => cmd(plan, s));
        expect(prepare.dependsOn).toContain(gate.urn);
        expect(init.dependsOn).toContain(prepare.urn);
        expect(trust.dependsOn).toContain(prepare.urn);
        expect(reset.dependsOn).toContain(init.urn);
        expect(read.dependsOn).toEqual(expect.arrayContaining([reset.urn, trust.urn, init.urn]));
        // The provider waits for the cluster through its kubeconfig (data flow, not a bare dependsOn).
        expect(provider.dependsOn).toEqual([read.urn]);
        expect(provider.inputs.kubeconfig).toBe("[secret]");
        expect(dependsOn(plan, provider, gate)).toBe(true);
        expect(dependsOn(plan, init, read)).toBe(false);
    });
});

describe("kube-proxy follows cilium.kubeProxyReplacement", () => {
    test("with Cilium's replacement (the committed lab) kubeadm skips its kube-proxy addon; without it, installs it", async () => {
        for (const stack of Object.keys(HOSTS))
            expect(cmd(stackOf(lab, stack), "kubeadm-init").inputs.create).toMatch(/ 'without-kube-proxy'$/);
        const plain = stackOf(
            await planOf(labDirWith((s, raw) => s === "comp2" && (raw.cilium.kubeProxyReplacement = false))),
            "comp2",
        );
        expect(cmd(plain, "kubeadm-init").inputs.create).toMatch(/ 'with-kube-proxy'$/);
        expect(hostScript("host/kubeadm-init.sh").text).toMatch(
            /with-kube-proxy \]\] \|\| skip=\(--skip-phases=addon\/kube-proxy\)/,
        );
    });
});

describe("re-runs: a step runs again only when its script or inputs change", () => {
    test("the trigger is the hash of the script's text and its inputs; an edited script changes it", () => {
        const plan = stackOf(lab, "comp2");
        const prepare = hostScript("host/prepare.sh");
        // The minor, the package prefix and the SPIRE server's local volume directory.
        const inputs = ["1.36", "1.36.", "/var/lib/zta-testbed/spire-server"];
        const trigger = (cmd(plan, "prepare").inputs.triggers as string[])[1];
        expect(trigger).toBe(scriptHash(prepare.text, inputs));
        expect(scriptHash(`${prepare.text}\n# edited\n`, inputs)).not.toBe(trigger);
        expect(scriptHash(prepare.text, ["1.35", "1.35."])).not.toBe(trigger);
    });

    test("the Kubernetes version picks the apt repository minor and the package versions", () => {
        expect(kubernetesPackages("1.32")).toEqual({ minor: "1.32", versionPrefix: "1.32." });
        expect(kubernetesPackages("1.32.4")).toEqual({ minor: "1.32", versionPrefix: "1.32.4-" });
        expect(cmd(stackOf(lab, "comp2"), "prepare").inputs.create).toMatch(
            /'host\/prepare.sh' '1\.36' '1\.36\.' '\/var\/lib\/zta-testbed\/spire-server'$/,
        );
    });

    test("a new pod CIDR changes kubeadm-init's trigger and nothing else's", async () => {
        const changed = stackOf(
            await planOf(labDirWith((s, raw) => s === "comp2" && (raw.cluster.podCidr = "10.248.0.0/16"))),
            "comp2",
        );
        const before = stackOf(lab, "comp2");
        for (const step of ["connection", "prepare", "trust", "kubeconfig"]) {
            expect(cmd(changed, step).inputs.triggers).toEqual(cmd(before, step).inputs.triggers);
        }
        expect(cmd(changed, "kubeadm-init").inputs.triggers).not.toEqual(cmd(before, "kubeadm-init").inputs.triggers);
    });
});

describe("the nodes trust the lab-services CA for the registry only", () => {
    test("both clusters' nodes get comp2's lab-services CA (not the mesh root) for the registry at 10.5.0.2:8443", () => {
        for (const stack of Object.keys(HOSTS)) {
            const trust = cmd(stackOf(lab, stack), "trust");
            expect(mockCertName(trust.inputs.stdin)).toBe("MOCK-CERT(SelfSignedCert/comp2-lab-services-ca-cert)");
            expect(trust.inputs.stdin).not.toMatch(/pki-root-cert/);
            expect(trust.inputs.create).toMatch(/'host\/trust-ca.sh' '10\.5\.0\.2:8443' 'add'$/);
        }
    });

    test("destroy removes what the trust step added, and a replacement removes the old files before it writes the new ones", () => {
        for (const stack of Object.keys(HOSTS)) {
            const trust = cmd(stackOf(lab, stack), "trust");
            expect(trust.inputs.delete).toMatch(/^sudo -n bash -c .*'host\/trust-ca.sh' '10\.5\.0\.2:8443' 'remove'$/s);
            // Create-before-delete would run the old step's removal after the new step wrote the same files.
            expect(trust.deleteBeforeReplace).toBe(true);
        }
        const script = hostScript("host/trust-ca.sh").text;
        // containerd's per-registry host config (containerd docs/hosts.md): the directory is named after host:port.
        expect(script).toMatch(/hosts_dir="\/etc\/containerd\/certs\.d\/\$\{registry\}"/);
        expect(script).toMatch(/^remove\)\n\s+rm -f "\$\{hosts_dir\}\/hosts\.toml" "\$\{hosts_dir\}\/ca\.crt"$/m);
    });

    test("comp3 before comp2 exists: the host is prepared without the trust step, with a warning", async () => {
        const file = readStackConfig(path.resolve(__dirname, ".."), "comp3");
        const alone = await evaluateStack({
            project: "zta-testbed",
            stack: "comp3",
            config: file.config,
            secretKeys: file.secretKeys,
            program: main,
        });
        const names = resourcesOfType(alone as StackPlan, COMMAND).map((r) => r.name);
        expect(names).toContain("comp3-hostprep-kubeadm-init");
        expect(names).not.toContain("comp3-hostprep-trust");
        expect(alone.warnings.join("\n")).toMatch(/10\.5\.0\.4 is prepared without trusting it/);
    });
});

describe("kubeadm reset is opt-in", () => {
    test("by default destroy leaves the cluster: no delete step in HostPrep but the trust step's removal of its own files", () => {
        for (const stack of Object.keys(HOSTS)) {
            const prep = findResource(stackOf(lab, stack), "zta:host:HostPrep", `${stack}-hostprep`);
            const deleting = childrenOf(stackOf(lab, stack), prep).filter((c) => c.inputs.delete !== undefined);
            expect(deleting.map((c) => c.name)).toEqual([`${stack}-hostprep-trust`]);
            expect(deleting[0].inputs.delete).not.toMatch(/kubeadm/);
        }
    });

    test("with host.allowReset only the reset guard, which has no triggers, runs kubeadm-reset.sh on delete", async () => {
        const plan = stackOf(
            await planOf(labDirWith((s, raw) => s === "comp2" && (raw.host.allowReset = true))),
            "comp2",
        );
        const reset = cmd(plan, "reset");
        expect(reset.inputs.delete).toMatch(/^sudo -n bash -c .*'host\/kubeadm-reset.sh'$/s);
        expect(reset.inputs.triggers).toBeUndefined();
        expect(cmd(plan, "kubeadm-init").inputs.delete).toBeUndefined();
    });
});

describe("the admin kubeconfig", () => {
    test.each(Object.keys(HOSTS))(
        "%s: read back as a secret and exported as the secret output `kubeconfig`",
        (stack) => {
            const plan = stackOf(lab, stack);
            expect(cmd(plan, "kubeconfig").additionalSecretOutputs).toContain("stdout");
            expect(plan.outputs.kubeconfig.secret).toBe(true);
            expect(plan.outputs.kubeconfig.value).toBe(`MOCK-STDOUT(Command/${stack}-hostprep-kubeconfig)`);
        },
    );
});

describe("the private registry on comp1", () => {
    test("only the root stack declares it, on 10.5.0.2", () => {
        expect(resourcesOfType(stackOf(lab, "comp3"), "zta:host:Registry")).toHaveLength(0);
        const plan = stackOf(lab, "comp2");
        const registry = findResource(plan, "zta:host:Registry", "comp2-registry");
        const commands = childrenOf(plan, registry).filter((r) => r.type === COMMAND);
        expect(commands.map((c) => c.name).sort()).toEqual([
            "comp2-registry-connection",
            "comp2-registry-container",
            "comp2-registry-remove",
        ]);
        for (const c of commands) {
            expect(c.inputs.connection).toBe("[secret]");
            // The removal guard has no triggers (see the allowRemove test); the others re-run when the target changes.
            if (c.name !== "comp2-registry-remove")
                expect((c.inputs.triggers as string[])[0]).toBe("ssh://ubuntu@10.5.0.2:22");
        }
    });

    test("serves a certificate for its IP signed by the lab-services CA, and gets the key on standard input only", () => {
        const plan = stackOf(lab, "comp2");
        expect(
            findResource(plan, "tls:index/certRequest:CertRequest", "comp2-registry-csr").inputs.ipAddresses,
        ).toEqual(["10.5.0.2"]);
        const cert = findResource(plan, "tls:index/locallySignedCert:LocallySignedCert", "comp2-registry-cert");
        expect(mockCertName(cert.inputs.caCertPem)).toBe("MOCK-CERT(SelfSignedCert/comp2-lab-services-ca-cert)");
        expect(cert.inputs.caPrivateKeyPem).toBe("[secret]");
        expect(cert.inputs.allowedUses).toContain("server_auth");
        const container = findResource(plan, COMMAND, "comp2-registry-container");
        expect(container.inputs.stdin).toBe("[secret]");
        expect(container.inputs.create).toMatch(
            /'registry\/run.sh' 'registry:3\.1\.1@sha256:849b7d29920d060df8091770ede2279c07924ecd29e2a4c029ee0b5ea2ea542b' 'nginx:[^']+' '10\.5\.0\.2' '8443'$/,
        );
        expect(container.inputs.delete).toBeUndefined();
    });

    test("pushes need the push account: a generated password, exported as a secret, whose bcrypt hash alone reaches the host", () => {
        const plan = stackOf(lab, "comp2");
        const password = findResource(
            plan,
            "random:index/randomPassword:RandomPassword",
            "comp2-registry-push-password",
        );
        expect(password.parent).toBe(findResource(plan, "zta:host:Registry", "comp2-registry").urn);
        expect(plan.outputs.registry).toEqual({
            value: { endpoint: "10.5.0.2:8443", pushUser: "zta-push" },
            secret: false,
        });
        expect(plan.outputs.registryPushPassword.secret).toBe(true);
        expect(stackOf(lab, "comp3").outputs.registryPushPassword).toBeUndefined();
        // The front image is pinned by digest, not by a tag that can move.
        expect(findResource(plan, COMMAND, "comp2-registry-container").inputs.create).toMatch(
            /'nginx:[\w.-]+@sha256:[0-9a-f]{64}'/,
        );
    });

    test("the front (run.sh) lets reads through and asks every other method, and the /v2/ ping, for the push account", () => {
        const run = fs.readFileSync(path.join(REPO, "scripts", "registry", "run.sh"), "utf8");
        // Distribution's API: pulls are GET and HEAD; pushes POST, PUT, PATCH (and DELETE).
        expect(run).toMatch(
            /location \/v2\/ \{\s*limit_except GET HEAD \{\s*auth_basic "[^"]+";\s*auth_basic_user_file \/auth\/htpasswd;/,
        );
        expect(run).toMatch(/location = \/v2\/ \{\s*auth_basic "[^"]+";\s*auth_basic_user_file \/auth\/htpasswd;/);
        // Only the front publishes a port: the registry itself is reachable on its Docker network only.
        expect(run.match(/^\s*-p /gm)).toHaveLength(1);
        expect(run).toMatch(/run_container "\$\{name\}-front"[\s\S]*-p "\$\{address\}:\$\{port\}:443"/);
        // A bundle without a bcrypt htpasswd line is refused before anything is written.
        expect(run).toMatch(/"\$htpasswd" != \*:\\\$2\[aby\]\\\$\*/);
    });

    test("destroy leaves the registry container running unless registry.allowRemove is true", async () => {
        const guard = findResource(stackOf(lab, "comp2"), COMMAND, "comp2-registry-remove");
        expect(guard.inputs.delete).toBeUndefined();
        expect(guard.inputs.create).toMatch(/not allowed \(registry\.allowRemove\)/);
        expect(guard.inputs.triggers).toBeUndefined();
        const allowed = await planOf(labDirWith((_stack, raw) => (raw.registry.allowRemove = true)));
        const removing = findResource(stackOf(allowed, "comp2"), COMMAND, "comp2-registry-remove");
        expect(removing.inputs.delete).toMatch(/'registry\/remove.sh'$/);
        expect(removing.dependsOn).toContain(
            findResource(stackOf(allowed, "comp2"), COMMAND, "comp2-registry-container").urn,
        );
    });
});

describe("no private key anywhere in the plan", () => {
    test("neither the SSH key nor any TLS key appears in a resource's inputs", () => {
        // Mock keys are labelled MOCK-PRIVATE-KEY, the unset SSH key is a STAND-IN, a real one a PEM block.
        const key = /MOCK-PRIVATE-KEY|STAND-IN\(|-----BEGIN [A-Z ]*PRIVATE KEY-----/;
        for (const plan of lab.stacks) {
            expect(plan.resources.filter((r) => key.test(JSON.stringify(r.inputs))).map((r) => r.name)).toEqual([]);
        }
        // ...while the stack does hand the SSH key to the commands (as a secret): the plan redacted it.
        expect(stackOf(lab, "comp2").standIns).toContain("zta-testbed:sshPrivateKey");
    });
});

describe("bring-your-own cluster", () => {
    test("declares no remote command and no registry, and exports the given kubeconfig as a secret", async () => {
        const byo = await planOf(byoLabDir());
        for (const stack of Object.keys(HOSTS)) {
            const plan = stackOf(byo, stack);
            expect(resourcesOfType(plan, COMMAND)).toHaveLength(0);
            expect(resourcesOfType(plan, "zta:host:HostPrep")).toHaveLength(0);
            expect(resourcesOfType(plan, "zta:host:Registry")).toHaveLength(0);
            expect(plan.outputs.kubeconfig.secret).toBe(true);
            expect(String(plan.outputs.kubeconfig.value)).toContain("https://byo-cluster.invalid:6443");
        }
    });
});

describe("host scripts", () => {
    const SCRIPTS_DIR = path.join(REPO, "scripts");
    const files = scriptFiles(SCRIPTS_DIR);
    const shellcheck = spawnSync("shellcheck", ["--version"]).status === 0;

    test("none writes the system trust store; the one script that touches it only removes the root earlier versions put there", () => {
        // Debian's system store: the local CA directory update-ca-certificates reads, and what it builds.
        const systemStore =
            /\/usr\/local\/share\/ca-certificates|\/usr\/share\/ca-certificates|\/etc\/ssl\/certs|\/etc\/ca-certificates|update-ca-certificates/;
        const touching = files.flatMap((file) =>
            fs
                .readFileSync(file, "utf8")
                .split("\n")
                .filter((line) => systemStore.test(line) && !/^\s*#/.test(line))
                .map((line) => `${path.relative(SCRIPTS_DIR, file)}: ${line.trim()}`),
        );
        expect(touching).toEqual([
            "host/trust-ca.sh: legacy_root=/usr/local/share/ca-certificates/zta-testbed-root-ca.crt",
            "host/trust-ca.sh: update-ca-certificates",
        ]);
        // The store is rebuilt only after that file was there and is gone.
        expect(fs.readFileSync(path.join(SCRIPTS_DIR, "host/trust-ca.sh"), "utf8")).toContain(
            'if [[ -e "$legacy_root" ]]; then\n    rm -f "$legacy_root"\n    update-ca-certificates\nfi\n',
        );
    });

    test("each one starts with `set -euo pipefail`", () => {
        expect(files.length).toBeGreaterThanOrEqual(8);
        for (const file of files) expect(fs.readFileSync(file, "utf8")).toMatch(/^set -euo pipefail$/m);
    });

    (shellcheck ? test : test.skip)(
        "shellcheck is clean on every scripts/**/*.sh, alone and as sent to the host (lib.sh in front)",
        () => {
            const alone = spawnSync("shellcheck", ["--shell=bash", ...files], { encoding: "utf8" });
            expect(alone.stdout + alone.stderr).toBe("");
            expect(alone.status).toBe(0);
            for (const file of files.filter((f) => !f.endsWith("lib.sh"))) {
                const sent = hostScript(path.relative(SCRIPTS_DIR, file)).text;
                const result = spawnSync("shellcheck", ["--shell=bash", "-"], { input: sent, encoding: "utf8" });
                expect(`${file}: ${result.stdout}`).toBe(`${file}: `);
            }
        },
    );
    if (!shellcheck) {
        test("shellcheck is installed (.ci/run installs it)", () => {
            console.warn(
                "shellcheck is not installed here: the script lint test is skipped; `apt-get install shellcheck` to run it",
            );
        });
    }
});

describe("containerd against the Kubernetes minor (require_containerd_for in lib.sh, run by prepare.sh before any Kubernetes package)", () => {
    const dpkg = spawnSync("dpkg", ["--version"]).status === 0;
    /** Runs lib.sh's check with a `containerd` on PATH that prints `versionLine`. */
    function check(minor: string, versionLine: string) {
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "zta-containerd-"));
        fs.writeFileSync(path.join(bin, "containerd"), `#!/bin/sh\necho '${versionLine}'\n`, { mode: 0o755 });
        const lib = path.join(REPO, "scripts", "lib.sh");
        const run = spawnSync("bash", ["-c", `. "${lib}"; require_containerd_for "$1"`, "check", minor], {
            encoding: "utf8",
            env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
        });
        fs.rmSync(bin, { recursive: true });
        return { status: run.status, stderr: run.stderr };
    }

    (dpkg ? test : test.skip)(
        "Kubernetes 1.36 on Ubuntu's containerd 1.7 stops with the fix; containerd 2.x passes; 1.35 still takes 1.7",
        () => {
            // `containerd --version` as Ubuntu's 1.7 package and an upstream 2.x build print it.
            const old = check("1.36", "containerd github.com/containerd/containerd 1.7.28");
            expect(old.status).toBe(1);
            expect(old.stderr).toMatch(
                /has containerd 1\.7\.28; Kubernetes 1\.36 needs containerd 2\.0 or later .*install containerd 2\.x on the host, or set versions\.kubernetes to 1\.35/,
            );
            expect(
                check(
                    "1.36",
                    "containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376",
                ),
            ).toEqual({ status: 0, stderr: "" });
            expect(check("1.37", "containerd github.com/containerd/containerd 1.7.28").status).toBe(1);
            expect(check("1.35", "containerd github.com/containerd/containerd 1.7.28")).toEqual({
                status: 0,
                stderr: "",
            });
        },
    );

    test("prepare.sh runs the check before it installs kubelet, kubeadm and kubectl", () => {
        const prepare = fs.readFileSync(path.join(REPO, "scripts", "host", "prepare.sh"), "utf8");
        expect(prepare).toMatch(/^require_containerd_for "\$minor"$/m);
        expect(prepare.indexOf('require_containerd_for "$minor"')).toBeLessThan(
            prepare.indexOf("apt-get install -y -qq --allow-change-held-packages"),
        );
    });
});

describe("the admin kubeconfig stays out of logs", () => {
    test.each(["comp2", "comp3"])(
        "%s: the read-back command logs nothing (pulumi-command#401 logs secret stdout otherwise)",
        (stack) => {
            expect(cmd(stackOf(lab, stack), "kubeconfig").inputs.logging).toBe("none");
        },
    );
});
