// JWT at the ingress gateway: three requests and the table of what each must answer.
import * as http from "http";

/** One HTTP GET from this machine; resolves with the status code. */
export type HttpGet = (url: string, headers: Record<string, string>, timeoutMs: number) => Promise<number>;

/** The real HttpGet: node:http (which, unlike fetch, lets a Host header through), bounded by `timeoutMs`. */
export const httpStatus: HttpGet = (url, headers, timeoutMs) =>
    new Promise((resolve, reject) => {
        const req = http.get(url, { headers, timeout: timeoutMs }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
        req.on("error", reject);
    });

export type TokenCase = "valid" | "missing" | "bad";

/**
 * What the ingress must answer: a valid token is let through; no token is
 * refused by the AuthorizationPolicy (403) or the RequestAuthentication (401);
 * a token that fails verification is refused by the JWT filter (401).
 */
export const EXPECTED_STATUS: Readonly<Record<TokenCase, readonly number[]>> = {
    valid: [200],
    missing: [401, 403],
    bad: [401],
};

/** The outcome of one case: undefined when the status is the expected one, else the problem. */
export function jwtOutcome(tokenCase: TokenCase, status: number): string | undefined {
    const expected = EXPECTED_STATUS[tokenCase];
    return expected.includes(status) ? undefined : `${tokenCase} token: HTTP ${status}, expected ${expected.join(" or ")}`;
}

/**
 * The same token with a signature that cannot verify: the signature's first
 * character changed (the last one may carry only padding bits).
 */
export function corruptSignature(token: string): string {
    const parts = token.trim().split(".");
    if (parts.length !== 3 || parts[2] === "") throw new Error("the token is not a signed JWT (header.payload.signature)");
    const sig = parts[2];
    const swapped = sig[0] === "A" ? "B" : "A";
    return `${parts[0]}.${parts[1]}.${swapped}${sig.slice(1)}`;
}

/** The ingress URL for a path (`/headers` or `headers`). */
export function ingressUrl(address: string, path: string): string {
    return `http://${address}/${path.replace(/^\/+/, "")}`;
}
