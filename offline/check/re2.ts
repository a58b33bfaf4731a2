// Kubernetes checks a CRD's `pattern` with Go's regexp package (RE2 syntax:
// k8s.io/apiextensions-apiserver/pkg/apiserver/validation uses kube-openapi's
// validate.Pattern, which calls regexp.Compile); Ajv compiles it with JavaScript's
// RegExp in `u` mode. The two agree on most patterns; this rewrites the RE2 forms
// JavaScript spells differently or lacks (RE2 syntax: github.com/google/re2/wiki/Syntax),
// and refuses, naming the form, what it cannot express, rather than guess.
import type { RegExpEngine } from "ajv/dist/types";

/** A pattern that uses RE2 syntax with no JavaScript equivalent here. */
export class Re2SyntaxError extends Error {}

// ASCII classes of RE2's `[[:name:]]`, as JavaScript class ranges.
const POSIX: Record<string, string> = {
    alnum: "0-9A-Za-z",
    alpha: "A-Za-z",
    ascii: "\\x00-\\x7F",
    blank: "\\t ",
    cntrl: "\\x00-\\x1F\\x7F",
    digit: "0-9",
    graph: "!-~",
    lower: "a-z",
    print: " -~",
    punct: "!-\\/:-@\\[-`{-~",
    space: "\\t\\n\\v\\f\\r ",
    upper: "A-Z",
    word: "0-9A-Za-z_",
    xdigit: "0-9A-Fa-f",
};

// Characters JavaScript's `u` mode lets a backslash escape (ECMA-262 SyntaxCharacter and `/`);
// RE2 lets a backslash escape any punctuation, which `u` mode refuses for the others.
const JS_ESCAPABLE = new Set("^$\\.*+?()[]{}|/");

/** A Unicode class name of RE2 (`\pL`, `\p{Greek}`): a general category, or else a script. */
function unicodeClass(name: string, negated: boolean): string {
    const category = /^[A-Z][a-z]?$/.test(name) || name === "Any";
    return `\\${negated ? "P" : "p"}{${category ? name : `Script=${name}`}}`;
}

function literal(text: string): string {
    return [...text].map((c) => (JS_ESCAPABLE.has(c) || c === "-" ? `\\${c}` : c)).join("");
}

/** The JavaScript source and flags (to use with `u`) of an RE2 pattern. */
export function re2ToJs(pattern: string): { source: string; flags: string } {
    let flags = "";
    let i = 0;
    // RE2's leading flag group, e.g. `(?i)`: JavaScript has i, m and s as RegExp flags.
    const lead = /^\(\?([imsU]+)\)/.exec(pattern);
    if (lead) {
        if (lead[1].includes("U"))
            throw new Re2SyntaxError(`the ungreedy flag (?U) in ${pattern} has no JavaScript equivalent`);
        flags = [...new Set(lead[1])].join("");
        i = lead[0].length;
    }
    let out = "";
    let inClass = false;
    while (i < pattern.length) {
        const c = pattern[i];
        if (c === "\\") {
            const next = pattern[i + 1];
            if (next === undefined) throw new Re2SyntaxError(`${pattern} ends in a lone backslash`);
            if (next === "p" || next === "P") {
                const braced = pattern[i + 2] === "{";
                const end = braced ? pattern.indexOf("}", i + 3) : i + 3;
                if (braced && end < 0) throw new Re2SyntaxError(`unclosed \\${next}{ in ${pattern}`);
                let name = braced ? pattern.slice(i + 3, end) : pattern[i + 2];
                let negated = next === "P";
                if (name.startsWith("^")) [name, negated] = [name.slice(1), !negated];
                out += unicodeClass(name, negated);
                i = braced ? end + 1 : end;
                continue;
            }
            if (next === "A" || next === "z") {
                // Start and end of the text whatever the flags (JavaScript's ^ and $ follow the m flag).
                if (inClass) throw new Re2SyntaxError(`\\${next} inside a character class in ${pattern}`);
                out += next === "A" ? "(?<![\\s\\S])" : "(?![\\s\\S])";
                i += 2;
                continue;
            }
            if (next === "Q") {
                const end = pattern.indexOf("\\E", i + 2);
                out += literal(pattern.slice(i + 2, end < 0 ? undefined : end));
                i = end < 0 ? pattern.length : end + 2;
                continue;
            }
            if (next === "x" && pattern[i + 2] === "{") {
                const end = pattern.indexOf("}", i + 3);
                out += `\\u{${pattern.slice(i + 3, end)}}`;
                i = end + 1;
                continue;
            }
            if (next === "C") throw new Re2SyntaxError(`\\C (any byte) in ${pattern} has no JavaScript equivalent`);
            if (/[!-/:-@[-`{-~]/.test(next) && !JS_ESCAPABLE.has(next) && !(inClass && next === "-")) {
                out += next; // punctuation RE2 lets one escape and JavaScript's u mode does not: it is a literal either way
            } else {
                out += c + next;
            }
            i += 2;
            continue;
        }
        if (inClass && c === "[" && pattern[i + 1] === ":") {
            const end = pattern.indexOf(":]", i + 2);
            const name = end < 0 ? "" : pattern.slice(i + 2, end);
            if (name.startsWith("^"))
                throw new Re2SyntaxError(
                    `the negated class [:${name}:] in ${pattern} has no JavaScript equivalent inside a bracket`,
                );
            if (!(name in POSIX)) throw new Re2SyntaxError(`unknown class [:${name}:] in ${pattern}`);
            out += POSIX[name];
            i = end + 2;
            continue;
        }
        if (!inClass && pattern.startsWith("(?P<", i)) {
            out += "(?<";
            i += 4;
            continue;
        }
        if (!inClass && c === "[") {
            inClass = true;
            out += c;
            // A `]` or `^]` right after `[` is a literal in RE2.
            if (pattern[i + 1] === "^") out += pattern[++i];
            if (pattern[i + 1] === "]") {
                out += "\\]";
                i++;
            }
            i++;
            continue;
        }
        if (inClass && c === "]") inClass = false;
        out += c;
        i++;
    }
    return { source: out, flags };
}

/** Ajv's RegExp engine for CRD patterns: RE2 syntax, compiled as JavaScript. */
export const re2RegExp: ((pattern: string, u: string) => RegExp) & Pick<RegExpEngine, "code"> = Object.assign(
    (pattern: string, u: string) => {
        const { source, flags } = re2ToJs(pattern);
        return new RegExp(source, flags + u);
    },
    { code: "re2RegExp" },
);
