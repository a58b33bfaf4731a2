import { CROSS_NETWORK_PORT, ISTIO_NAMESPACE } from "../../model/lab";
import { ISTIOD, labelSelector } from "../../model/workloads";
import { Check, failIf, istiodDebug, readyPod } from "../check";
import { NetworkGateway, parseNetworkz } from "../parse";

export function networkGatewayProblems(
    gateways: NetworkGateway[],
    expected: { cluster: string; address: string }[],
): string[] {
    const seen = gateways.map((g) => `${g.cluster}/${g.network} ${g.address}:${g.port}`).join(", ") || "none";
    return expected
        .filter(
            (e) =>
                !gateways.some(
                    (g) => g.cluster === e.cluster && g.address === e.address && g.port === CROSS_NETWORK_PORT,
                ),
        )
        .map(
            (e) =>
                `istiod knows no gateway ${e.address}:${CROSS_NETWORK_PORT} for cluster "${e.cluster}" (it knows: ${seen})`,
        );
}

export const istiodNetworkGateways: Check = {
    id: "istiod-network-gateways",
    title: "istiod knows every east-west gateway",
    proves: `istiod lists this cluster's and every peer's east-west gateway addresses on port ${CROSS_NETWORK_PORT} (/debug/networkz): traffic to the other networks goes through them`,
    async run({ cluster, target }) {
        failIf(
            target.peers
                .filter((p) => p.eastWestAddress === undefined)
                .map((p) => `peer stack "${p.stack}" has not exported eastWestAddress: deploy it first`),
        );
        const istiod = await readyPod(cluster, ISTIO_NAMESPACE, labelSelector(ISTIOD.labels), ISTIOD.container);
        const gateways = parseNetworkz(await istiodDebug(cluster, istiod, "/debug/networkz"));
        const expected = [
            { cluster: target.clusterName, address: target.eastWestAddress },
            ...target.peers.map((p) => ({ cluster: p.clusterName, address: p.eastWestAddress as string })),
        ];
        failIf(networkGatewayProblems(gateways, expected));
        return expected.map((e) => `${e.cluster} ${e.address}:${CROSS_NETWORK_PORT}`).join(", ");
    },
};
