// The lab PKI (docs/pki.md): this cluster's intermediate keys, the root this stack
// owns and what it signs, and the trust the layers above build on.
import * as pulumi from "@pulumi/pulumi";
import { ClusterCa, ClusterTrust, Pki, signedForOtherKeys, SigningSubject } from "../../components/pki";
import { SignedIntermediates, SigningRequests } from "../../model/lab";
import { ownsRoot } from "../config/lab-config";
import { StackSecrets } from "../config/load";
import { rootPeerOf, rootStackLabel } from "../peer";
import { StackInput } from "./stack";

export interface PkiInput extends StackInput {
    readonly secrets: StackSecrets;
}

export interface LabPki {
    /** This cluster's intermediate keys: made here, never exported; only their signing requests are. */
    readonly ca: ClusterCa;
    /** The root this stack owns, and what it signed (a stack that owns a root only). */
    readonly pki?: Pki;
    /** This cluster's intermediates and root; absent, with a warning, until the root stack has signed. */
    readonly trust?: ClusterTrust;
}

/** This cluster's CA, the root when this stack owns one, and the cluster's trust: from its own root, or from the root stack's. */
export function labPki(input: PkiInput): LabPki {
    const { cfg } = input;
    const ca = new ClusterCa(`${cfg.stack}-ca`, { clusterName: cfg.cluster.name });
    const pki = ownsRoot(cfg) ? clusterPki(input, ca) : undefined;
    const trust = pki
        ? ca.trust(
              pki.rootCaCert,
              pki.signedIntermediates.apply((m) => m[cfg.cluster.name]),
          )
        : peerTrust(input, ca);
    return { ca, pki, trust };
}

/**
 * The root this stack owns and what it signs: in the shared model the root stack
 * signs this cluster's requests and every peer's (once that peer exported them),
 * each under the peer's cluster name; in the federated model every stack signs
 * only its own. The signing requests are all it gets from the other clusters.
 */
function clusterPki({ cfg, secrets, peers, used }: PkiInput, ca: ClusterCa): Pki {
    const sign: SigningSubject[] = [{ cluster: cfg.cluster.name, requests: ca.signingRequests }];
    for (const peer of cfg.mesh.trustModel === "shared" ? peers : []) {
        if (!peer.available.has("signingRequests")) continue;
        sign.push({ cluster: peer.clusterName, requests: peer.output<SigningRequests>("signingRequests") });
        used.mark(peer, "signingRequests");
    }
    const brought = cfg.pki.rootCaCert;
    const pki = new Pki(`${cfg.stack}-pki`, {
        trustDomain: cfg.mesh.trustDomain,
        sign,
        intermediates: {
            validityHours: cfg.pki.intermediateValidityHours,
            earlyRenewalHours: cfg.pki.intermediateEarlyRenewalHours,
        },
        // Validated: pki.rootCaCert requires the secret rootCaKey (stacks/config/cross-field.ts).
        root:
            brought !== undefined
                ? { certPem: brought, keyPem: secrets.rootCaKey as pulumi.Output<string> }
                : undefined,
    });
    return pki;
}

/**
 * A peer-role stack of the shared model: this cluster's own keys with the
 * certificates the root stack signed for them (`signedIntermediates`) and the
 * root (`rootCaCert`), from whichever peer is the root stack; absent, with a
 * warning, until the root stack has signed, and until it has signed the requests
 * this stack last exported (`self`): certificates for other keys (this stack built
 * again with new ones, or not yet exported its requests) would make a `cacerts` that
 * istiod refuses.
 */
function peerTrust({ cfg, peers, used, self }: PkiInput, ca: ClusterCa): ClusterTrust | undefined {
    const name = cfg.cluster.name;
    const root = rootPeerOf(cfg, peers);
    const signed = root?.plain<Record<string, SignedIntermediates>>("signedIntermediates");
    if (!root || !root.available.has("rootCaCert") || signed?.[name] === undefined) {
        const which = rootStackLabel(cfg, peers);
        pulumi.log.warn(
            `pki.role is "peer" and ${which} has not signed this cluster's intermediates (${name}) yet: ` +
                `everything that needs them (Istio's CA, SPIRE) is left out; run \`pulumi up\` on the ${which.replace(/^the /, "")}, then here again`,
        );
        return undefined;
    }
    const requests = self?.signingRequests;
    if (requests === undefined || signedForOtherKeys(requests, signed[name]).length > 0) {
        pulumi.log.warn(
            `${rootStackLabel(cfg, peers)} signed this cluster's intermediates (${name}) for other keys than this stack's ` +
                "(rebuilt with new keys?): Istio's CA and SPIRE are left out until it signs the current requests; " +
                `run \`pulumi up --stack ${root.stack}\`, then here again`,
        );
        return undefined;
    }
    used.mark(root, "rootCaCert");
    used.mark(root, "signedIntermediates");
    return ca.trust(
        root.output<string>("rootCaCert"),
        root.output<Record<string, SignedIntermediates>>("signedIntermediates").apply((m) => m[name]),
    );
}
