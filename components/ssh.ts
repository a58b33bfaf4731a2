import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { hostScript, scriptCommand, scriptHash, sshTarget } from "./scripts";

/** A host reached over SSH: what every remote command of it shares. */
export interface SshHost {
    /** The connection, its private key a secret. */
    readonly connection: command.types.input.remote.ConnectionArgs;
    /** "ssh://user@address:port": the first trigger of every command on the host. */
    readonly target: string;
}

export function sshHost(address: string, port: number, user: string, privateKey: pulumi.Input<string>): SshHost {
    return {
        connection: { host: address, port, user, privateKey: pulumi.secret(privateKey) },
        target: sshTarget(user, address, port),
    };
}

const CHECK = hostScript("host/check.sh");

/**
 * The gate every other command on a host depends on (pulumi-command's remote
 * example): it runs as the SSH user and checks the OS and that sudo works before
 * anything changes.
 */
export function connectionGate(name: string, host: SshHost, parent: pulumi.Resource): command.remote.Command {
    return new command.remote.Command(
        `${name}-connection`,
        {
            connection: host.connection,
            create: scriptCommand(CHECK, [], false),
            triggers: [host.target, scriptHash(CHECK.text, [])],
        },
        { parent },
    );
}

/** What a service on comp1 needs from the root stack: SSH access to the host and the lab-services CA that signs its certificate. */
export interface Comp1ServiceArgs {
    /** SSH login on comp1 (passwordless sudo). */
    readonly sshUser: string;
    /** SSH port of comp1; default 22. */
    readonly sshPort?: number;
    /** Private key of sshUser (the `zta-testbed:sshPrivateKey` secret). */
    readonly sshPrivateKey: pulumi.Input<string>;
    /** The lab-services CA certificate (PEM), issuer of the service's certificate (components/pki.ts, LabServicesCa). */
    readonly servicesCaCert: pulumi.Input<string>;
    /** The lab-services CA key (PEM, secret): only the root-role stack has it. */
    readonly servicesCaKey: pulumi.Input<string>;
}

/**
 * How long a comp1 server certificate lives (two years), and how early before
 * its end the next `pulumi up` of the root stack signs a new one (30 days): the
 * nodes and istiod trust the lab-services CA, not the certificate, so a renewal
 * needs no run of any other stack.
 */
export const COMP1_CERT_VALIDITY_HOURS = 2 * 365 * 24;
export const COMP1_CERT_EARLY_RENEWAL_HOURS = 30 * 24;

/**
 * A comp1 service's TLS key and server certificate for its address, signed by the
 * lab-services CA (the registry and the issuer each serve one). Declared as children of `parent`.
 */
export function comp1ServerCertificate(
    name: string,
    args: Pick<Comp1ServiceArgs, "servicesCaCert" | "servicesCaKey"> & { readonly address: string },
    parent: pulumi.Resource,
): { key: tls.PrivateKey; cert: tls.LocallySignedCert } {
    const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent });
    const csr = new tls.CertRequest(
        `${name}-csr`,
        {
            privateKeyPem: key.privateKeyPem,
            subject: { commonName: args.address, organization: "zta-testbed" },
            ipAddresses: [args.address],
        },
        { parent },
    );
    const cert = new tls.LocallySignedCert(
        `${name}-cert`,
        {
            certRequestPem: csr.certRequestPem,
            caCertPem: args.servicesCaCert,
            caPrivateKeyPem: pulumi.secret(args.servicesCaKey),
            allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            validityPeriodHours: COMP1_CERT_VALIDITY_HOURS,
            // Inside this window the next `pulumi up` signs a new certificate and the service's trigger restarts it with it.
            earlyRenewalHours: COMP1_CERT_EARLY_RENEWAL_HOURS,
        },
        { parent },
    );
    return { key, cert };
}
