// One stack = one cluster. Reads config, checks it against its peers, declares
// the layers of docs/design.md in order and exports the cross-stack protocol.
import * as pulumi from "@pulumi/pulumi";
import { fromChartMirror } from "../components/chart";
import { StackOutputs } from "../model/lab";
import { ConfigError, inStackFile } from "./config/messages";
import { LabConfig } from "./config/lab-config";
import { optInWarnings } from "./config/cross-field";
import { clusterAccess } from "./layers/access";
import { Observability, observability } from "./layers/addons";
import { meshIdentity } from "./layers/identity";
import { istioMesh } from "./layers/mesh";
import { clusterNetwork } from "./layers/network";
import { labPki } from "./layers/pki";
import { SampleWorkloads, sampleWorkloads } from "./layers/samples";
import { segmentation } from "./layers/segmentation";
import { labServices } from "./layers/services";
import { LabWorkloads, labWorkloads } from "./layers/workloads";
import { StackInput } from "./layers/stack";
import { zeroTrust } from "./layers/zerotrust";
import { loadConfig, StackSecrets } from "./config/load";
import { identityOf, OwnLastRun, PeerUse, PeerView, readOwnLastRun, readPeers, rootPeerOf, unusedByPeer } from "./peer";
import { intermediatesProblems, labViewProblems, peerVersionCheck } from "./peer-checks";

/** The program: what `index.ts` exports for the Pulumi engine, and what the offline plan evaluates. */
export async function main(): Promise<StackOutputs> {
    const { cfg, secrets } = loadConfig(pulumi.getStack());
    // An opt-in that weakens zero trust is said at every preview, not only when it was set.
    for (const warning of optInWarnings(cfg)) pulumi.log.warn(warning);
    if (cfg.charts.mirror) pulumi.runtime.registerStackTransformation(fromChartMirror(cfg.charts.mirror));
    const peers = await readPeers(cfg);
    const self = await readOwnLastRun(cfg);
    const problems = [...labViewProblems(cfg, peers), ...intermediatesProblems(cfg, rootPeerOf(cfg, peers))];
    if (problems.length > 0) throw new ConfigError(inStackFile(cfg.stack, problems));
    for (const peer of peers) {
        if (peer.identity)
            for (const warning of peerVersionCheck(identityOf(cfg), peer.identity, peer.stack).warnings)
                pulumi.log.warn(warning);
    }
    return buildCluster(cfg, secrets, peers, self);
}

/**
 * Declares one cluster, layer by layer (docs/design.md, "Layers"; one module each
 * in stacks/layers/), and returns its stack outputs. Each layer takes what the
 * layers below it handed up; a layer whose inputs are not there yet (a peer not
 * deployed) is left out with a warning.
 */
export function buildCluster(
    cfg: LabConfig,
    secrets: StackSecrets,
    peers: readonly PeerView[],
    self?: OwnLastRun,
): StackOutputs {
    // The peer outputs this run declares resources from, exported as `usedFromPeer`.
    const stack: StackInput = { cfg, peers, used: new PeerUse(peers), self };
    const { ca, pki, trust } = labPki({ ...stack, secrets });
    const services = labServices({ ...stack, secrets });

    const access = clusterAccess({ ...stack, secrets, registryCa: services.caCert });
    let cluster: Partial<StackOutputs> = {};
    if (access) {
        const network = clusterNetwork({ ...stack, access });
        const identity = meshIdentity({ ...stack, access, network, trust });
        const mesh = istioMesh({ ...stack, access, network, trust, identity, services });
        // The layers above the mesh, once istiod is declared.
        let samples: SampleWorkloads | undefined;
        let workloads: LabWorkloads | undefined;
        let addons: Observability | undefined;
        if (mesh.serviceMesh) {
            const onMesh = { ...stack, access, network, identity, mesh: mesh.serviceMesh };
            samples = sampleWorkloads(onMesh);
            workloads = labWorkloads({ ...onMesh, samples });
            zeroTrust({ ...onMesh, samples, workloads });
            addons = observability(onMesh);
        }
        segmentation({ ...stack, access, network, identity, mesh, observability: addons, samples, workloads });
        cluster = {
            kubeconfig: access.kubeconfig,
            federation: identity?.federation,
            remoteSecret: mesh.remoteSecret,
            eastWestAddress: mesh.eastWestAddress,
            grafanaAdminPassword: addons?.grafanaAdminPassword,
        };
    }

    const { registry, issuer } = services;
    const outputs: StackOutputs = withoutUnset({
        identity: identityOf(cfg),
        signingRequests: cfg.mesh.trustModel === "shared" ? ca.signingRequests : undefined,
        signedIntermediates: pki && cfg.mesh.trustModel === "shared" ? pki.signedIntermediates : undefined,
        rootCaCert: trust?.rootCaCert,
        labServicesCaCert: services.servicesCa?.certPem,
        ...cluster,
        ...(issuer
            ? {
                  issuer: {
                      url: issuer.url,
                      tokenUrl: issuer.tokenUrl,
                      clientId: issuer.clientId,
                      otherClientId: issuer.otherClientId,
                  },
                  issuerClientSecret: issuer.clientSecret,
                  issuerOtherClientSecret: issuer.otherClientSecret,
              }
            : {}),
        ...(registry
            ? {
                  registry: { endpoint: registry.endpoint, pushUser: registry.pushUser },
                  registryPushPassword: registry.pushPassword,
              }
            : {}),
        usedFromPeer: stack.used.output(),
    });
    for (const peer of peers) {
        const unused = unusedByPeer(cfg, peer, peers.length, Object.keys(outputs));
        if (unused.length > 0)
            pulumi.log.warn(
                `peer stack "${peer.stack}" has not used ${unused.join(", ")} of this stack yet: run \`pulumi up\` on "${peer.stack}" next`,
            );
    }
    return outputs;
}

/** The outputs that are set: an absent output is left out of the stack, not exported as undefined. */
function withoutUnset(outputs: StackOutputs): StackOutputs {
    return Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined)) as unknown as StackOutputs;
}
