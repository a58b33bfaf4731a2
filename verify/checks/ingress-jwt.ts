import { Check, CheckFailed, failIf, VerifyOptions, VerifyTarget } from "../check";
import { corruptSignature, ingressUrl, jwtOutcome, TokenCase, TokenFetch } from "../ingress";

/** A token from the lab issuer by the client-credentials grant, when no --token is given. */
async function tokenFromIssuer(fetchToken: TokenFetch, target: VerifyTarget, options: VerifyOptions): Promise<string> {
    if (target.issuer === undefined) {
        throw new CheckFailed([
            "no token given and no lab issuer in the stack outputs (an external jwt.issuer): pass --token or --token-file (or --skip ingress-jwt)",
        ]);
    }
    return fetchToken(target.issuer, target.issuerCaCert ?? target.rootCaCert, options.timeoutMs).catch(
        (err: Error) => {
            throw new CheckFailed([
                `no token from ${target.issuer?.tokenUrl} for client "${target.issuer?.clientId}": ${err.message}`,
            ]);
        },
    );
}

/**
 * A token of the lab issuer for another audience (its second client), or
 * undefined when the outputs name no such client. Audience enforcement is only
 * shown by a token that is valid in every other respect.
 */
async function otherAudienceToken(
    fetchToken: TokenFetch,
    target: VerifyTarget,
    options: VerifyOptions,
): Promise<string | undefined> {
    const client = target.otherAudienceIssuer;
    if (client === undefined) return undefined;
    return fetchToken(client, target.issuerCaCert ?? target.rootCaCert, options.timeoutMs).catch((err: Error) => {
        throw new CheckFailed([
            `no other-audience token from ${client.tokenUrl} for client "${client.clientId}": ${err.message}`,
        ]);
    });
}

export const ingressJwt: Check = {
    id: "ingress-jwt",
    title: "the ingress gateway enforces JWT",
    proves: `GET https://<metallb.ingressAddress>/<--ingress-path> from this machine, trusting only the lab root (the gateway's certificate must chain to rootCaCert and name the address or --ingress-host), answers 200 with the --token, 401 or 403 without a token, 401 with the token's signature corrupted, and (with the lab issuer) 401 or 403 with a token of the same issuer for another audience`,
    async run({ http, fetchToken, target, options }) {
        const token = options.token ?? (await tokenFromIssuer(fetchToken, target, options));
        const otherAudience = await otherAudienceToken(fetchToken, target, options);
        const url = ingressUrl(target.ingressAddress, options.ingressPath);
        const base: Record<string, string> = options.ingressHost ? { Host: options.ingressHost } : {};
        const cases: [TokenCase, Record<string, string>][] = [
            ["valid", { ...base, Authorization: `Bearer ${token}` }],
            ["missing", base],
            ["bad", { ...base, Authorization: `Bearer ${corruptSignature(token)}` }],
            ...(otherAudience !== undefined
                ? [
                      ["other-audience", { ...base, Authorization: `Bearer ${otherAudience}` }] as [
                          TokenCase,
                          Record<string, string>,
                      ],
                  ]
                : []),
        ];
        const perCall = Math.max(1000, Math.floor(options.timeoutMs / cases.length));
        const seen: string[] = [];
        const problems: string[] = [];
        for (const [tokenCase, headers] of cases) {
            const status = await http(url, headers, perCall, target.rootCaCert).catch((err: Error) => {
                throw new CheckFailed([`GET ${url} (${tokenCase} token): ${err.message}`]);
            });
            seen.push(`${tokenCase} ${status}`);
            const problem = jwtOutcome(tokenCase, status);
            if (problem) problems.push(problem);
        }
        failIf(problems);
        const untested =
            otherAudience === undefined
                ? "; other-audience not tested (no second client of the lab issuer in the outputs: an external jwt.issuer, or a root stack deployed before it had one)"
                : "";
        return `${url}: ${seen.join(", ")}${untested}`;
    },
};
