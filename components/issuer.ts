import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { hostScript, scriptCommand, scriptHash } from "./scripts";
import { Comp1ServiceArgs, comp1ServerCertificate, connectionGate, sshHost } from "./ssh";

export interface LabIssuerArgs extends Comp1ServiceArgs {
    /** comp1's address: where Keycloak listens, the certificate's IP SAN, the issuer URL's host. */
    readonly address: string;
    /** The HTTPS port (the issuer URL's port). */
    readonly port: number;
    readonly realm: string;
    /** The confidential client the realm import creates; its tokens carry it as audience. */
    readonly clientId: string;
    /** Keycloak's container image, pinned. */
    readonly image: string;
}

const RUN = hostScript("issuer/run.sh");
const REMOVE = hostScript("issuer/remove.sh");

/** One confidential client of the realm import, with the secret it authenticates with. */
export interface RealmClient {
    readonly clientId: string;
    readonly secret: string;
}

/** The realm Keycloak imports on start: one realm and the testbed's confidential clients. */
export interface RealmImport {
    readonly realm: string;
    readonly enabled: true;
    readonly sslRequired: "all";
    readonly clients: {
        readonly clientId: string;
        readonly enabled: true;
        readonly protocol: "openid-connect";
        readonly publicClient: false;
        readonly clientAuthenticatorType: "client-secret";
        readonly secret: string;
        readonly serviceAccountsEnabled: true;
        readonly standardFlowEnabled: false;
        readonly directAccessGrantsEnabled: false;
        readonly protocolMappers: {
            name: string;
            protocol: "openid-connect";
            protocolMapper: string;
            config: Record<string, string>;
        }[];
    }[];
}

/**
 * The realm as Keycloak's import format (representations RealmRepresentation
 * and ClientRepresentation): confidential clients with only the
 * client-credentials grant (service account), each with an audience mapper so
 * its access tokens carry `aud: <its clientId>`. The ingress accepts the first
 * client's audience; the second one's tokens (same issuer, same keys, another
 * audience) are what `verify` shows the ingress refusing.
 */
export function realmImport(realm: string, clients: readonly RealmClient[]): RealmImport {
    return {
        realm,
        enabled: true,
        sslRequired: "all",
        clients: clients.map(({ clientId, secret }) => ({
            clientId,
            enabled: true,
            protocol: "openid-connect",
            publicClient: false,
            clientAuthenticatorType: "client-secret",
            secret,
            serviceAccountsEnabled: true,
            standardFlowEnabled: false,
            directAccessGrantsEnabled: false,
            protocolMappers: [
                {
                    name: `${clientId}-audience`,
                    protocol: "openid-connect",
                    protocolMapper: "oidc-audience-mapper",
                    config: {
                        "included.client.audience": clientId,
                        "access.token.claim": "true",
                        "id.token.claim": "false",
                    },
                },
            ],
        })),
    };
}

/** The second client's id: a token of the same issuer for an audience the ingress does not accept. */
export function otherAudienceClientId(clientId: string): string {
    return `${clientId}-other-audience`;
}

/**
 * The lab's own OIDC issuer on comp1 (declared by the root stack, which holds
 * the lab-services CA key that signs its certificate), run the way the registry runs: a
 * Keycloak container over SSH, HTTPS only with a certificate from the lab-services CA
 * for comp1's address, and the realm and clients imported on every start
 * (`--import-realm`) from a file this component writes. Keycloak keeps no state
 * between containers: its realm is all in the import, so a re-created container
 * is the same issuer (new signing keys, which istiod refetches). There is no
 * admin: the admin console and REST API are switched off (run.sh), so no admin
 * password exists to leak.
 */
export class LabIssuer extends pulumi.ComponentResource {
    /** The realm URL, what tokens carry as `iss`. */
    public readonly url: string;
    /** The token endpoint (client-credentials grant). */
    public readonly tokenUrl: string;
    public readonly clientId: string;
    /** The client's secret (secret). */
    public readonly clientSecret: pulumi.Output<string>;
    /** A second client, whose tokens carry another audience: the ingress must refuse them. */
    public readonly otherClientId: string;
    /** Its secret (secret). */
    public readonly otherClientSecret: pulumi.Output<string>;
    /** Keycloak's server certificate (PEM), signed by the lab-services CA. */
    public readonly certPem: pulumi.Output<string>;

    constructor(name: string, args: LabIssuerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zta:host:LabIssuer", name, {}, opts);
        const child = { parent: this };

        const { key, cert } = comp1ServerCertificate(name, args, this);
        const clientSecret = new random.RandomPassword(`${name}-client-secret`, { length: 40, special: false }, child);
        const otherClientSecret = new random.RandomPassword(
            `${name}-other-client-secret`,
            { length: 40, special: false },
            child,
        );
        this.clientSecret = pulumi.secret(clientSecret.result);
        this.otherClientId = otherAudienceClientId(args.clientId);
        this.otherClientSecret = pulumi.secret(otherClientSecret.result);

        const ssh = sshHost(args.address, args.sshPort ?? 22, args.sshUser, args.sshPrivateKey);
        const gate = connectionGate(name, ssh, this);
        const inputs = [args.image, args.address, String(args.port), args.realm];
        // Everything secret travels on standard input: certificate, its CA, key, realm (with the client secrets).
        const stdin = pulumi
            .all([
                cert.certPem,
                pulumi.output(args.servicesCaCert),
                key.privateKeyPem,
                this.clientSecret,
                this.otherClientSecret,
            ])
            .apply(([leaf, root, pem, secret, otherSecret]) => {
                const realm = realmImport(args.realm, [
                    { clientId: args.clientId, secret },
                    { clientId: this.otherClientId, secret: otherSecret },
                ]);
                return `${leaf.trimEnd()}\n${root.trimEnd()}\n${pem.trimEnd()}\nrealm: ${JSON.stringify(realm)}\n`;
            });
        new command.remote.Command(
            `${name}-container`,
            {
                connection: ssh.connection,
                create: scriptCommand(RUN, inputs),
                delete: scriptCommand(REMOVE),
                stdin: pulumi.secret(stdin),
                // A new certificate or client secret re-runs the script, which recreates the container.
                triggers: [ssh.target, pulumi.secret(stdin.apply((text) => scriptHash(RUN.text, [...inputs, text])))],
            },
            { parent: this, dependsOn: [gate], deleteBeforeReplace: true },
        );

        this.url = `https://${args.address}:${args.port}/realms/${args.realm}`;
        this.tokenUrl = `${this.url}/protocol/openid-connect/token`;
        this.clientId = args.clientId;
        this.certPem = cert.certPem;
        this.registerOutputs({
            url: this.url,
            tokenUrl: this.tokenUrl,
            clientId: this.clientId,
            clientSecret: this.clientSecret,
            otherClientId: this.otherClientId,
            otherClientSecret: this.otherClientSecret,
            certPem: this.certPem,
        });
    }
}
