// Reads what verify needs from the deployed stacks through the Pulumi
// Automation API (which runs the Pulumi CLI). The only module that touches
// Pulumi: everything else is tested without it.
import { LocalWorkspace, OutputMap, Stack } from "@pulumi/pulumi/automation";
import { ClusterIdentity } from "../model/lab";
import { LabConfig } from "../stacks/config/lab-config";
import { rawConfigOf, secretsOf } from "../stacks/config/load";
import { parseLabConfig } from "../stacks/config/parse";
import { SecretKey } from "../stacks/config/schema";
import { VerifyTarget } from "./check";
import { IssuerClient } from "./ingress";

export interface StackAccess {
    readonly target: VerifyTarget;
    /** The admin kubeconfig (secret): from the `kubeconfig` output, or the bring-your-own `kubeconfig` config. */
    readonly kubeconfig: string;
}

/** The stack's config as the CLI prints it (objects as JSON text), read as the program reads it (stacks/config/load.ts). */
async function labConfigOf(
    stack: Stack,
    name: string,
): Promise<{ cfg: LabConfig; secrets: Partial<Record<SecretKey, string>> }> {
    const all = await stack.getAllConfig().catch((err: Error) => {
        throw new Error(pulumiErrorMessage(err, name));
    });
    const values = Object.fromEntries(Object.entries(all).map(([key, v]) => [key, v.value]));
    const secrets = secretsOf(values);
    return { cfg: parseLabConfig(name, rawConfigOf(values), new Set(Object.keys(secrets) as SecretKey[])), secrets };
}

/**
 * One line for an Automation API failure instead of its raw text (exit code,
 * stdout and stderr of the Pulumi CLI run): what went wrong and what to do.
 */
export function pulumiErrorMessage(
    err: Error & { commandResult?: { stderr?: string; code?: number } },
    stackName: string,
): string {
    if (/spawn pulumi ENOENT/.test(err.message))
        return "the Pulumi CLI is not on PATH; the Automation API runs it (https://www.pulumi.com/docs/install/)";
    const stderr = err.commandResult?.stderr ?? "";
    if (err.name === "StackNotFoundError" || /no stack named.*found/.test(stderr)) {
        return `no stack named "${stackName}" in the Pulumi backend you are logged in to: \`pulumi stack ls\` lists its stacks (\`pulumi whoami -v\` shows the backend)`;
    }
    const lines = stderr
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "");
    const line = lines.find((l) => l.startsWith("error:")) ?? lines[0];
    if (line) return `the Pulumi CLI said: ${line}`;
    return err.commandResult ? `the Pulumi CLI exited with code ${err.commandResult.code}` : err.message.split("\n")[0];
}

function output<T>(outputs: OutputMap, key: string): T | undefined {
    return outputs[key]?.value as T | undefined;
}

/** The lab issuer's client from the root stack's outputs (`issuer`, `issuerClientSecret`), if it runs one. */
function issuerClient(outputs: OutputMap): IssuerClient | undefined {
    const issuer = output<{ tokenUrl: string; clientId: string }>(outputs, "issuer");
    const clientSecret = output<string>(outputs, "issuerClientSecret");
    return issuer && clientSecret ? { tokenUrl: issuer.tokenUrl, clientId: issuer.clientId, clientSecret } : undefined;
}

/** The lab issuer's second client (`issuer.otherClientId`, `issuerOtherClientSecret`): tokens for an audience the ingress refuses. */
function otherAudienceClient(outputs: OutputMap): IssuerClient | undefined {
    const issuer = output<{ tokenUrl: string; otherClientId?: string }>(outputs, "issuer");
    const clientSecret = output<string>(outputs, "issuerOtherClientSecret");
    return issuer?.otherClientId && clientSecret
        ? { tokenUrl: issuer.tokenUrl, clientId: issuer.otherClientId, clientSecret }
        : undefined;
}

/**
 * The lab issuer's clients, from the stack that runs it (this one, else the peer that
 * exports it: the root-role stack), and the CA its certificate is signed by: that
 * stack's `labServicesCaCert`, or its `rootCaCert` when it was deployed before the
 * lab-services CA (the lab root signed the issuer's certificate then).
 */
export function issuerTrust(
    outputs: OutputMap,
    peerOutputs: readonly OutputMap[],
): { issuer?: IssuerClient; otherAudienceIssuer?: IssuerClient; issuerCaCert?: string } {
    const from = issuerClient(outputs) ? outputs : peerOutputs.find((o) => issuerClient(o) !== undefined);
    if (!from) return {};
    return {
        issuer: issuerClient(from),
        otherAudienceIssuer: otherAudienceClient(from),
        issuerCaCert: output<string>(from, "labServicesCaCert") ?? output<string>(from, "rootCaCert"),
    };
}

/** Selects `stackName` in the project at `workDir` and reads its outputs, its config and its peers' outputs. */
export async function readStack(stackName: string, workDir: string): Promise<StackAccess> {
    const stack = await LocalWorkspace.selectStack({ stackName, workDir }).catch((err: Error) => {
        throw new Error(pulumiErrorMessage(err, stackName));
    });
    const { cfg, secrets } = await labConfigOf(stack, stackName);
    const outputs = await stack.outputs().catch((err: Error) => {
        throw new Error(pulumiErrorMessage(err, stackName));
    });

    const kubeconfig = output<string>(outputs, "kubeconfig") ?? secrets.kubeconfig;
    const rootCaCert = output<string>(outputs, "rootCaCert");
    const identity = output<ClusterIdentity>(outputs, "identity");
    const missing = [kubeconfig ? "" : "kubeconfig", rootCaCert ? "" : "rootCaCert"].filter((k) => k !== "");
    if (kubeconfig === undefined || rootCaCert === undefined) {
        throw new Error(
            `stack "${stackName}" has no output ${missing.join(", ")}: run \`pulumi up --stack ${stackName}\` first`,
        );
    }

    // A peer that is not deployed (yet) only leaves its outputs unknown; the checks that need them say so.
    const peers: { stack: string; clusterName: string; outputs: OutputMap }[] = [];
    for (const { stack: peerStack, clusterName } of cfg.peers) {
        let peerOutputs: OutputMap;
        try {
            peerOutputs = await (await LocalWorkspace.selectStack({ stackName: peerStack, workDir })).outputs();
        } catch {
            peerOutputs = {};
        }
        peers.push({ stack: peerStack, clusterName, outputs: peerOutputs });
    }

    return {
        kubeconfig,
        target: {
            stack: stackName,
            clusterName: identity?.clusterName ?? cfg.cluster.name,
            trustDomain: identity?.trustDomain ?? cfg.mesh.trustDomain,
            ingressAddress: cfg.metallb.ingressAddress,
            eastWestAddress: cfg.metallb.eastWestAddress,
            rootCaCert,
            trustModel: cfg.mesh.trustModel,
            workloads: cfg.workloads,
            ...issuerTrust(
                outputs,
                peers.map((p) => p.outputs),
            ),
            peers: peers.map((p) => ({
                stack: p.stack,
                clusterName: p.clusterName,
                trustDomain: output<ClusterIdentity>(p.outputs, "identity")?.trustDomain,
                rootCaCert: output<string>(p.outputs, "rootCaCert"),
                eastWestAddress: output<string>(p.outputs, "eastWestAddress"),
            })),
        },
    };
}
