// Cluster access (docs/hosts.md): the cluster's Kubernetes provider, from a host
// Pulumi builds over SSH or from a kubeconfig the user brings.
import { KubeConfig } from "@kubernetes/client-node";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HostPrep } from "../../components/hostprep";
import { ClusterAccess, SPIRE_DATA_DIR } from "../../model/lab";
import { ConfigError } from "../config/messages";
import { StackSecrets } from "../config/load";
import { StackInput } from "./stack";

export interface AccessInput extends StackInput {
    readonly secrets: StackSecrets;
    /** The lab-services CA, which the nodes' containerd trusts for the registry; absent until the root stack exported it. */
    readonly registryCa?: pulumi.Output<string>;
}

/** The cluster's admin kubeconfig (secret), exported as the stack output `kubeconfig` for kubectl and verify. */
export interface AdminKubeconfig {
    readonly kubeconfig: pulumi.Output<string>;
}

/** The Kubernetes provider for this cluster: from a host Pulumi builds, or from a kubeconfig the user brings. */
export function clusterAccess({
    cfg,
    secrets,
    registryCa,
}: AccessInput): (ClusterAccess & AdminKubeconfig) | undefined {
    if (cfg.host && secrets.sshPrivateKey) {
        const host = cfg.host;
        if (!registryCa) {
            pulumi.log.warn(
                `${cfg.stack}: the lab-services CA is not known yet, so ${host.address} is prepared without trusting it for the registry ` +
                    `(images from the registry at ${cfg.registry.host}:${cfg.registry.port} will not pull); the next \`pulumi up\` after the root stack adds it`,
            );
        }
        const prep = new HostPrep(`${cfg.stack}-hostprep`, {
            host,
            sshPrivateKey: secrets.sshPrivateKey,
            kubernetesVersion: cfg.versions.kubernetes,
            podCidr: cfg.cluster.podCidr,
            serviceCidr: cfg.cluster.serviceCidr,
            kubeProxy: !cfg.cilium.kubeProxyReplacement,
            registry: `${cfg.registry.host}:${cfg.registry.port}`,
            registryCaCert: registryCa,
            localVolumeDirs: [SPIRE_DATA_DIR],
        });
        // The kubeconfig is HostPrep's output: the provider waits for the cluster through it.
        const kubeconfig = prep.kubeconfig;
        return {
            provider: new k8s.Provider(`${cfg.stack}-k8s`, { kubeconfig }),
            apiServer: prep.apiServer,
            kubeconfig,
        };
    }
    if (cfg.host === undefined && secrets.kubeconfig) {
        const kubeconfig = secrets.kubeconfig;
        return {
            provider: new k8s.Provider(`${cfg.stack}-k8s`, { kubeconfig }),
            apiServer: kubeconfig.apply(serverOf),
            kubeconfig,
        };
    }
    return undefined;
}

/** The API server URL of a kubeconfig's current context. */
function serverOf(kubeconfig: string): string {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    const server = kc.getCurrentCluster()?.server;
    if (!server)
        throw new ConfigError([
            "zta-testbed:kubeconfig has no current context with a cluster server: give a kubeconfig with current-context set",
        ]);
    return server;
}
