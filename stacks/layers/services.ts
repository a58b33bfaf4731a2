// comp1's services (docs/hosts.md): the lab-services CA, the private registry and
// the lab's OIDC issuer, which the root stack runs on comp1.
import * as pulumi from "@pulumi/pulumi";
import { LabIssuer } from "../../components/issuer";
import { LabServicesCa } from "../../components/pki";
import { Registry } from "../../components/registry";
import { LabConfig } from "../config/lab-config";
import { StackSecrets } from "../config/load";
import { rootPeerOf } from "../peer";
import { StackInput } from "./stack";

export interface ServicesInput extends StackInput {
    readonly secrets: StackSecrets;
}

export interface LabServices {
    /** The lab-services CA this stack owns (root role). */
    readonly servicesCa?: LabServicesCa;
    /** The lab-services CA's certificate: this stack's own, else the root stack's once it exported it. */
    readonly caCert?: pulumi.Output<string>;
    readonly registry?: Registry;
    readonly issuer?: LabIssuer;
}

/** comp1's servers (registry, issuer) get their certificates from a CA of their own, not from the mesh root. */
export function labServices({ cfg, secrets, peers, used }: ServicesInput): LabServices {
    const servicesCa = cfg.pki.role === "root" ? new LabServicesCa(`${cfg.stack}-lab-services-ca`) : undefined;
    const caCert = labServicesTrust({ cfg, peers, used }, servicesCa);
    const registry = servicesCa ? privateRegistry(cfg, secrets, servicesCa) : undefined;
    const issuer = servicesCa ? labIssuer(cfg, secrets, servicesCa) : undefined;
    return { servicesCa, caCert, registry, issuer };
}

/**
 * The lab-services CA, which signs comp1's server certificates (registry,
 * issuer) and nothing else: this stack's own in the root role, else the one the
 * root stack exports (`labServicesCaCert`), in either trust model. The nodes'
 * containerd trusts it for the registry only, istiod for the JWKS fetch only.
 */
function labServicesTrust(
    { cfg, peers, used }: StackInput,
    servicesCa: LabServicesCa | undefined,
): pulumi.Output<string> | undefined {
    if (servicesCa) return servicesCa.certPem;
    const root = rootPeerOf(cfg, peers);
    if (!root?.available.has("labServicesCaCert")) return undefined;
    used.mark(root, "labServicesCaCert");
    return root.output<string>("labServicesCaCert");
}

/**
 * The private registry on comp1, declared by the root stack (it holds the
 * lab-services CA key that signs the registry's certificate) and only when it
 * builds hosts: a bring-your-own stack has no SSH key.
 */
function privateRegistry(cfg: LabConfig, secrets: StackSecrets, servicesCa: LabServicesCa): Registry | undefined {
    if (!cfg.host || !secrets.sshPrivateKey) return undefined;
    return new Registry(`${cfg.stack}-registry`, {
        address: cfg.registry.host,
        port: cfg.registry.port,
        sshUser: cfg.registry.sshUser,
        sshPrivateKey: secrets.sshPrivateKey,
        servicesCaCert: servicesCa.certPem,
        servicesCaKey: servicesCa.keyPem,
        allowRemove: cfg.registry.allowRemove,
    });
}

/**
 * The lab's OIDC issuer (Keycloak) on comp1, declared like the registry by the
 * root stack (its lab-services CA signs the issuer's certificate) when it builds
 * hosts and `jwt.issuer` is the lab's own. Exports what `verify` needs to get a
 * token by itself: `issuer` (URL, token endpoint, client ids), and the client
 * secrets as secrets.
 */
function labIssuer(cfg: LabConfig, secrets: StackSecrets, servicesCa: LabServicesCa): LabIssuer | undefined {
    if (!cfg.jwt.labIssuer || !cfg.host || !secrets.sshPrivateKey) return undefined;
    const issuer = new LabIssuer(`${cfg.stack}-issuer`, {
        address: cfg.registry.host,
        port: cfg.issuer.port,
        realm: cfg.issuer.realm,
        clientId: cfg.issuer.clientId,
        image: cfg.issuer.image,
        sshUser: cfg.registry.sshUser,
        sshPrivateKey: secrets.sshPrivateKey,
        servicesCaCert: servicesCa.certPem,
        servicesCaKey: servicesCa.keyPem,
    });
    return issuer;
}
