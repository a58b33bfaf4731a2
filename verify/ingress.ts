// JWT at the ingress gateway: three requests over HTTPS and the table of what each must answer.
import * as https from "https";

/**
 * One HTTPS GET from this machine, trusting only `ca` (PEM); resolves with
 * the status code, rejects when the server's certificate does not validate.
 */
export type HttpGet = (url: string, headers: Record<string, string>, timeoutMs: number, ca: string) => Promise<number>;

/**
 * The real HttpGet: node:https (which, unlike fetch, lets a Host header
 * through), bounded by `timeoutMs`. The server certificate must chain to `ca`
 * alone (not the system roots) and name the host: the Host header when one is
 * given (also sent as SNI), else the address in the URL (an IP SAN).
 */
export const httpStatus: HttpGet = (url, headers, timeoutMs, ca) =>
    new Promise((resolve, reject) => {
        const options: https.RequestOptions = { headers, timeout: timeoutMs, ca, rejectUnauthorized: true };
        if (headers.Host) options.servername = headers.Host;
        const req = https.get(url, options, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
        req.on("error", (err: NodeJS.ErrnoException) => reject(new Error(tlsProblem(err))));
    });

/** The lab issuer's client, as the root stack exports it: what verify needs to get a token by itself. */
export interface IssuerClient {
    readonly tokenUrl: string;
    readonly clientId: string;
    readonly clientSecret: string;
}

/** Gets an access token from `client.tokenUrl` (client-credentials grant), trusting only `ca`. */
export type TokenFetch = (client: IssuerClient, ca: string, timeoutMs: number) => Promise<string>;

/** The access token of a token endpoint's answer (RFC 6749 §5.1), or why there is none (§5.2). */
export function tokenFromResponse(status: number, body: string): string {
    let parsed: { access_token?: unknown; error?: unknown; error_description?: unknown } = {};
    try {
        parsed = JSON.parse(body) as typeof parsed;
    } catch {
        throw new Error(`the token endpoint answered HTTP ${status} with no JSON: ${body.slice(0, 120)}`);
    }
    if (status === 200 && typeof parsed.access_token === "string" && parsed.access_token !== "")
        return parsed.access_token;
    const why =
        typeof parsed.error === "string"
            ? `${parsed.error}${typeof parsed.error_description === "string" ? `: ${parsed.error_description}` : ""}`
            : "no access_token";
    throw new Error(`the token endpoint answered HTTP ${status} (${why})`);
}

/** The real TokenFetch: POST grant_type=client_credentials with the client's id and secret (RFC 6749 §4.4, client_secret_post). */
export const clientCredentialsToken: TokenFetch = (client, ca, timeoutMs) =>
    new Promise((resolve, reject) => {
        const form = new URLSearchParams({
            grant_type: "client_credentials",
            client_id: client.clientId,
            client_secret: client.clientSecret,
        }).toString();
        const req = https.request(
            client.tokenUrl,
            {
                method: "POST",
                ca,
                rejectUnauthorized: true,
                timeout: timeoutMs,
                headers: {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Content-Length": Buffer.byteLength(form),
                },
            },
            (res) => {
                let body = "";
                res.setEncoding("utf8");
                res.on("data", (chunk: string) => (body += chunk));
                res.on("end", () => {
                    try {
                        resolve(tokenFromResponse(res.statusCode ?? 0, body));
                    } catch (err) {
                        reject(err);
                    }
                });
            },
        );
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
        req.on("error", (err: NodeJS.ErrnoException) =>
            reject(new Error(tlsProblem(err).replace("the gateway's", "the issuer's"))),
        );
        req.end(form);
    });

/** Node's TLS verification error codes (lib/_tls_wrap.js, OpenSSL's X509_V_ERR_* names) that mean "not the lab's certificate". */
const CERT_ERRORS: Record<string, string> = {
    SELF_SIGNED_CERT_IN_CHAIN: "its chain ends in a root other than the lab root",
    DEPTH_ZERO_SELF_SIGNED_CERT: "it is self-signed",
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: "it does not chain to the lab root",
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its issuer is not the lab root or an intermediate the gateway sends",
    UNABLE_TO_GET_ISSUER_CERT: "its issuer is not the lab root or an intermediate the gateway sends",
    CERT_HAS_EXPIRED: "it has expired",
    CERT_NOT_YET_VALID: "it is not valid yet",
    ERR_TLS_CERT_ALTNAME_INVALID: "its SANs do not name the address (or --ingress-host) dialled",
};

/** A request error as a reason: certificate problems say what is wrong with the gateway's certificate. */
export function tlsProblem(err: NodeJS.ErrnoException): string {
    const why = err.code ? CERT_ERRORS[err.code] : undefined;
    return why
        ? `the gateway's certificate does not validate against the lab root (rootCaCert): ${why} (${err.code}: ${err.message})`
        : err.message;
}

export type TokenCase = "valid" | "missing" | "bad" | "other-audience";

/**
 * What the ingress must answer: a valid token is let through; no token is
 * refused by the AuthorizationPolicy (403) or the RequestAuthentication (401);
 * a token that fails verification is refused by the JWT filter (401); a
 * correctly signed token of the same issuer for another audience is refused by
 * the JWT filter's audience check (401, "Audiences in Jwt are not allowed") or,
 * were it let through unauthenticated, by the AuthorizationPolicy (403).
 */
export const EXPECTED_STATUS: Readonly<Record<TokenCase, readonly number[]>> = {
    valid: [200],
    missing: [401, 403],
    bad: [401],
    "other-audience": [401, 403],
};

/** The outcome of one case: undefined when the status is the expected one, else the problem. */
export function jwtOutcome(tokenCase: TokenCase, status: number): string | undefined {
    const expected = EXPECTED_STATUS[tokenCase];
    return expected.includes(status)
        ? undefined
        : `${tokenCase} token: HTTP ${status}, expected ${expected.join(" or ")}`;
}

/**
 * The same token with a signature that cannot verify: the signature's first
 * character changed (the last one may carry only padding bits).
 */
export function corruptSignature(token: string): string {
    const parts = token.trim().split(".");
    if (parts.length !== 3 || parts[2] === "")
        throw new Error("the token is not a signed JWT (header.payload.signature)");
    const sig = parts[2];
    const swapped = sig[0] === "A" ? "B" : "A";
    return `${parts[0]}.${parts[1]}.${swapped}${sig.slice(1)}`;
}

/** The ingress URL for a path (`/headers` or `headers`): HTTPS on 443, where the gateway terminates TLS. */
export function ingressUrl(address: string, path: string): string {
    return `https://${address}/${path.replace(/^\/+/, "")}`;
}
