import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HostScript, hostScript, scriptCommand, scriptHash } from "./scripts";
import { connectionGate, sshHost } from "./ssh";

/** The server HostPrep builds, and how it reaches it. */
export interface PreparedHost {
    /** Management address: SSH, the API server, what the peer dials. */
    readonly address: string;
    readonly sshUser: string;
    readonly sshPort: number;
    /** Whether `pulumi destroy` may run `kubeadm reset` on the host. */
    readonly allowReset: boolean;
}

export interface HostPrepArgs {
    /** The server: management address, SSH user and port, whether destroy may reset it. */
    readonly host: PreparedHost;
    /** Private key of host.sshUser (the `zta-testbed:sshPrivateKey` secret). */
    readonly sshPrivateKey: pulumi.Input<string>;
    /** Kubernetes version: "1.36" (the newest patch of that minor) or "1.36.3". */
    readonly kubernetesVersion: string;
    /** kubeadm's pod network CIDR (what the node's pod ranges come from). */
    readonly podCidr: string;
    /** kubeadm's service CIDR. */
    readonly serviceCidr: string;
    /**
     * Whether kubeadm installs kube-proxy. False when Cilium replaces it
     * (`cilium.kubeProxyReplacement`): kubeadm init then skips its kube-proxy addon.
     */
    readonly kubeProxy: boolean;
    /** The lab registry as "host:port": containerd verifies it with `registryCaCert`. */
    readonly registry: string;
    /**
     * The CA of the registry's certificate (PEM): the lab-services CA, trusted by
     * containerd for `registry` only, never system-wide. Undefined while the root
     * stack has not been deployed: the trust step is then left out and added by
     * the next `pulumi up`.
     */
    readonly registryCaCert?: pulumi.Input<string>;
    /** Directories made for local PersistentVolumes (absolute paths); they outlive pods and re-runs. */
    readonly localVolumeDirs?: string[];
}

/** The apt repository minor and the package version prefix for a Kubernetes version. */
export function kubernetesPackages(version: string): { minor: string; versionPrefix: string } {
    const [major, minor, patch] = version.split(".");
    return { minor: `${major}.${minor}`, versionPrefix: patch === undefined ? `${major}.${minor}.` : `${version}-` };
}

const PREPARE = hostScript("host/prepare.sh");
const TRUST = hostScript("host/trust-ca.sh");
const INIT = hostScript("host/kubeadm-init.sh");
const RESET = hostScript("host/kubeadm-reset.sh");
const KUBECONFIG = hostScript("host/kubeconfig.sh");

/**
 * Turns a bare Ubuntu 22.04/24.04 server into a single-node kubeadm cluster over
 * SSH, in the shape of pulumi-command's remote example: a connection gate first,
 * then one command per script in scripts/host/, each re-run only when the hash of
 * its script and inputs (`triggers`) changes. The scripts are idempotent, so a
 * re-run on a prepared host changes nothing.
 *
 *   connection -> prepare -> kubeadm-init -> reset guard -> kubeconfig
 *                        \-> trust (registry CA) ------------/
 *
 * The prepare step also makes the directories of local PersistentVolumes
 * (`localVolumeDirs`: the SPIRE server's data), which must exist before their pods.
 *
 * No CNI is installed: Cilium comes next. kube-proxy is installed or not as
 * `kubeProxy` says, which the stack takes from `cilium.kubeProxyReplacement`:
 * with Cilium's replacement, kubeadm skips its kube-proxy addon (Cilium's
 * kube-proxy-free guide).
 *
 * Commands on one host pass no data to each other, so their order is `dependsOn`.
 */
export class HostPrep extends pulumi.ComponentResource {
    /** The admin kubeconfig, its server the host's management address (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** The API server URL the provider and the peer dial. */
    public readonly apiServer: pulumi.Output<string>;

    constructor(name: string, args: HostPrepArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:host:HostPrep", name, {}, opts);
        const { host } = args;
        const { connection, target } = sshHost(host.address, host.sshPort, host.sshUser, args.sshPrivateKey);
        // A command that runs `script` with `inputs` as arguments, re-run when either changes.
        const run = (
            step: string,
            script: HostScript,
            inputs: string[],
            extra: Partial<command.remote.CommandArgs>,
            stepOpts: pulumi.CustomResourceOptions,
        ) =>
            new command.remote.Command(
                `${name}-${step}`,
                {
                    connection,
                    create: scriptCommand(script, inputs),
                    triggers: [target, scriptHash(script.text, inputs)],
                    ...extra,
                },
                { parent: this, ...stepOpts },
            );

        const gate = connectionGate(name, { connection, target }, this);

        const { minor, versionPrefix } = kubernetesPackages(args.kubernetesVersion);
        const prepare = run(
            "prepare",
            PREPARE,
            [minor, versionPrefix, ...(args.localVolumeDirs ?? [])],
            {},
            { dependsOn: [gate] },
        );

        let trust: command.remote.Command | undefined;
        if (args.registryCaCert !== undefined) {
            const pem = pulumi.output(args.registryCaCert);
            // The CA goes on standard input; its hash joins the trigger so a new CA re-runs the step.
            trust = run(
                "trust",
                TRUST,
                [args.registry, "add"],
                {
                    stdin: pem,
                    triggers: [target, pem.apply((p) => scriptHash(TRUST.text, [args.registry, "add", p]))],
                    // `pulumi destroy` takes away what the step added (and so does a replacement, before it adds again).
                    delete: scriptCommand(TRUST, [args.registry, "remove"]),
                },
                // The old files go first: created before the old step's delete ran, the new ones would be removed by it.
                { dependsOn: [prepare], deleteBeforeReplace: true },
            );
        }

        const kubeProxy = args.kubeProxy ? "with-kube-proxy" : "without-kube-proxy";
        const init = run(
            "kubeadm-init",
            INIT,
            [host.address, args.podCidr, args.serviceCidr, kubeProxy],
            {},
            { dependsOn: [prepare] },
        );

        // kubeadm reset is only ever a delete step, of a command of its own without triggers:
        // a replaced kubeadm-init must never reset the cluster it just checked. It is declared
        // whatever host.allowReset says, so that switching the flag off is an update that drops
        // the delete step, not a deletion that would run it.
        const resetGuard = new command.remote.Command(
            `${name}-reset`,
            {
                connection,
                create: `echo "kubeadm reset of ${target} on destroy: ${host.allowReset ? "allowed" : "not allowed"} (host.allowReset)"`,
                delete: host.allowReset ? scriptCommand(RESET) : undefined,
            },
            // After kubeadm-init; before the kubeconfig, so that a destroy resets the host only
            // after every Kubernetes object (which all depend on the kubeconfig) is gone.
            { parent: this, dependsOn: [init] },
        );

        // Read back once the cluster exists, again when kubeadm-init is replaced (its id changes).
        const read = new command.remote.Command(
            `${name}-kubeconfig`,
            {
                connection,
                create: scriptCommand(KUBECONFIG, [host.address]),
                triggers: [target, scriptHash(KUBECONFIG.text, [host.address]), init.id],
                // The command provider logs stdout to the update log even when the output is secret (pulumi-command#401).
                logging: "none",
            },
            // The provider built from this kubeconfig deploys pods that pull from the lab registry: trust first.
            {
                parent: this,
                dependsOn: trust ? [resetGuard, trust] : [resetGuard],
                additionalSecretOutputs: ["stdout"],
            },
        );
        this.kubeconfig = pulumi.secret(read.stdout);
        this.apiServer = pulumi.output(`https://${host.address}:6443`);

        this.registerOutputs({ kubeconfig: this.kubeconfig, apiServer: this.apiServer });
    }
}
