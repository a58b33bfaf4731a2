// The checks `npm run verify` runs, in order, one per file in checks/ (a new one
// is a file there and its place here). Each states what it proves (the --help
// text and docs/verify.md come from here), and its decision logic is an
// exported pure function the tests call on samples.
import { Check } from "./check";
import { crossClusterTraffic } from "./checks/cross-cluster-traffic";
import { crossDomainIdentity } from "./checks/cross-domain-identity";
import { gatewayAddresses } from "./checks/gateway-addresses";
import { ingressJwt } from "./checks/ingress-jwt";
import { istiodNetworkGateways } from "./checks/istiod-network-gateways";
import { istiodRemoteCluster } from "./checks/istiod-remote-cluster";
import { mtlsClientIdentity } from "./checks/mtls-client-identity";
import { networkSegmentation } from "./checks/network-segmentation";
import { podsReady } from "./checks/pods-ready";
import { remoteSecretScope } from "./checks/remote-secret-scope";
import { spireEntries } from "./checks/spire-entries";
import { workloadCertificate } from "./checks/workload-certificate";
import { workloadFlows } from "./checks/workload-flows";

export const CHECKS: readonly Check[] = [
    podsReady,
    gatewayAddresses,
    istiodRemoteCluster,
    remoteSecretScope,
    istiodNetworkGateways,
    spireEntries,
    workloadCertificate,
    crossClusterTraffic,
    mtlsClientIdentity,
    crossDomainIdentity,
    networkSegmentation,
    workloadFlows,
    ingressJwt,
];
