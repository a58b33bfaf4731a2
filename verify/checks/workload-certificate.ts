import { X509Certificate } from "crypto";
import { SAMPLE_NAMESPACE, SPIRE_MANAGED_LABEL, workloadSpiffeId } from "../../model/lab";
import { chainProblems, proxySecretsFromConfigDump, trustsRoot, uriSans } from "../certs";
import { Check, CheckFailed, failIf, PROXY_CONTAINER, readyPod, run } from "../check";
import { SAMPLE } from "../mesh-calls";

export const workloadCertificate: Check = {
    id: "workload-certificate",
    title: "a SPIRE-managed workload's certificate chains to the lab root",
    proves: `the sidecar of the ${SAMPLE_NAMESPACE} "curl" pod (${SPIRE_MANAGED_LABEL}=true) holds a certificate whose URI SAN is its ${workloadSpiffeId("<trust domain>", "<ns>", "<sa>")}, valid now, each signature verified up to the stack's rootCaCert, and the proxy trusts that root`,
    async run({ cluster, target, options }) {
        const pod = await readyPod(cluster, SAMPLE_NAMESPACE, SAMPLE.curl.selector, PROXY_CONTAINER);
        if (pod.labels[SPIRE_MANAGED_LABEL] !== "true")
            throw new CheckFailed([`${pod.namespace}/${pod.name} is not labelled ${SPIRE_MANAGED_LABEL}=true`]);
        // Envoy's /certs lists certificate metadata only; config_dump carries the PEM.
        const dump = await run(cluster, pod, PROXY_CONTAINER, [
            "pilot-agent",
            "request",
            "GET",
            "config_dump?resource=dynamic_active_secrets",
        ]);
        const secrets = proxySecretsFromConfigDump(dump);
        const root = new X509Certificate(target.rootCaCert);
        const expectedId = workloadSpiffeId(target.trustDomain, pod.namespace, pod.serviceAccount);
        const problems = chainProblems(secrets.chain, root, expectedId, options.now());
        if (!trustsRoot(secrets.roots, root))
            problems.push(
                `the proxy's trusted roots (${secrets.roots.length}) do not include the lab root "${root.subject}"`,
            );
        failIf(problems);
        const leaf = secrets.chain[0];
        return `${pod.name}: ${uriSans(leaf).join(", ")}, ${secrets.chain.length} certificate(s) to the lab root, expires ${leaf.validTo}`;
    },
};
