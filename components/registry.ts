import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { hostScript, scriptCommand, scriptHash } from "./scripts";
import { Comp1ServiceArgs, comp1ServerCertificate, connectionGate, sshHost } from "./ssh";

export interface RegistryArgs extends Comp1ServiceArgs {
    /** The registry host's address (comp1): where it listens and the certificate's IP SAN. */
    readonly address: string;
    /** The TLS port nodes pull from. */
    readonly port: number;
    /** Container image of the registry; default REGISTRY_IMAGE. */
    readonly image?: string;
    /** Container image of the TLS front that asks pushes for the push account; default REGISTRY_FRONT_IMAGE. */
    readonly frontImage?: string;
    /** Whether `pulumi destroy` removes the registry container (`registry.allowRemove`); default false: it keeps running. */
    readonly allowRemove?: boolean;
}

/**
 * nginx, stable 1.30.6 on Alpine, by the digest of its multi-platform index: from
 * docker-library/repo-info `repos/nginx/remote/stable-alpine.md` (image built
 * 2026-10-21; read 2026-12-07).
 */
export const REGISTRY_FRONT_IMAGE =
    "nginx:1.30.6-alpine@sha256:0e52bd054126cdc040b1276c0af347aeb02a41b9cfe305d6094767ac30e97949";

/**
 * The registry itself (CNCF distribution), 3.1.1, by the digest of its multi-platform
 * index: from docker-library/repo-info `repos/registry/remote/3.1.1.md` (read
 * 2026-12-07). Distribution 3 reads the same storage layout and `REGISTRY_HTTP_*`
 * settings as 2.x did; 2.8 is no longer maintained.
 */
export const REGISTRY_IMAGE = "registry:3.1.1@sha256:849b7d29920d060df8091770ede2279c07924ecd29e2a4c029ee0b5ea2ea542b";

/** The one account that may push (distribution has no per-user rights; reads need none). */
export const REGISTRY_PUSH_USER = "zta-push";

const RUN = hostScript("registry/run.sh");
const REMOVE = hostScript("registry/remove.sh");

/**
 * The lab's private image registry on comp1 (declared by the root stack only):
 * a `registry` container (REGISTRY_IMAGE) behind an nginx front with a server certificate
 * issued by the lab-services CA for the host's IP, so every node that trusts that
 * CA for this registry (HostPrep's trust step: containerd's `hosts.toml`) pulls from
 * it over verified TLS. Pulls are anonymous; pushes need the push account
 * (`pushUser`, `pushPassword`), whose bcrypt hash is all the host gets. Data lives on the host under
 * /var/lib/zta-registry/data and survives a destroy; the container itself is
 * removed on destroy only with `allowRemove` (other labs may pull from it).
 */
export class Registry extends pulumi.ComponentResource {
    /** "host:port" to pull from and push to. */
    public readonly endpoint: pulumi.Output<string>;
    /** The registry's server certificate (PEM). */
    public readonly certPem: pulumi.Output<string>;
    /** The account `docker login` / `crane auth login` uses to push. */
    public readonly pushUser: string;
    /** Its password (secret). */
    public readonly pushPassword: pulumi.Output<string>;

    constructor(name: string, args: RegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:host:Registry", name, {}, opts);

        const { key, cert } = comp1ServerCertificate(name, args, this);

        const ssh = sshHost(args.address, args.sshPort ?? 22, args.sshUser, args.sshPrivateKey);
        const gate = connectionGate(name, ssh, this);
        const push = new random.RandomPassword(
            `${name}-push-password`,
            { length: 32, special: false },
            { parent: this },
        );
        const htpasswd = pulumi.secret(pulumi.interpolate`${REGISTRY_PUSH_USER}:${push.bcryptHash}`);
        const inputs = [
            args.image ?? REGISTRY_IMAGE,
            args.frontImage ?? REGISTRY_FRONT_IMAGE,
            args.address,
            String(args.port),
        ];
        const container = new command.remote.Command(
            `${name}-container`,
            {
                connection: ssh.connection,
                // No delete step here: run.sh recreates the container itself when its spec changes,
                // and removal on destroy is the opt-in step below.
                create: scriptCommand(RUN, inputs),
                // The key and the push account's hash travel on standard input, never on a command line or in a file on the way.
                stdin: pulumi.secret(
                    pulumi.interpolate`${cert.certPem}\n${key.privateKeyPem}\nhtpasswd: ${htpasswd}\n`,
                ),
                // A new certificate means a new key, so the certificate stands for both in the trigger; a new password, a new hash.
                triggers: [
                    ssh.target,
                    pulumi
                        .all([cert.certPem, htpasswd])
                        .apply(([pem, line]) => scriptHash(RUN.text, [...inputs, pem, line])),
                ],
            },
            // The gate passes no data: dependsOn.
            { parent: this, dependsOn: [gate] },
        );
        // Removing the container is only ever a delete step, of a command of its own without
        // triggers (like HostPrep's kubeadm reset): declared whatever allowRemove says, so that
        // switching the flag off is an update that drops the step, not a deletion that runs it.
        new command.remote.Command(
            `${name}-remove`,
            {
                connection: ssh.connection,
                create: `echo "removal of the registry container on ${args.address} on destroy: ${args.allowRemove ? "allowed" : "not allowed"} (registry.allowRemove)"`,
                delete: args.allowRemove ? scriptCommand(REMOVE) : undefined,
            },
            { parent: this, dependsOn: [container] },
        );

        this.endpoint = pulumi.output(`${args.address}:${args.port}`);
        this.certPem = cert.certPem;
        this.pushUser = REGISTRY_PUSH_USER;
        this.pushPassword = pulumi.secret(push.result);
        this.registerOutputs({
            endpoint: this.endpoint,
            certPem: this.certPem,
            pushUser: this.pushUser,
            pushPassword: this.pushPassword,
        });
    }
}
