// docs/contributing.md lists, for each kind of change, the files it touches. These
// tests hold two of those lists to a thing of that kind that exists: every file the
// list names is there and names the thing, so a list that goes stale after a move fails.
import * as fs from "fs";
import * as path from "path";

const REPO = path.join(__dirname, "..");
const page = fs.readFileSync(path.join(REPO, "docs", "contributing.md"), "utf8");

/** The paths of one `<!-- files: kind -->` list: the first code span of each item. */
function filesOf(kind: string): string[] {
    const m = page.match(new RegExp(`<!-- files: ${kind} -->\\n([\\s\\S]*?)<!-- end -->`));
    if (!m) throw new Error(`docs/contributing.md has no list "files: ${kind}"`);
    return [...m[1].matchAll(/^- `([^`]+)`/gm)].map((x) => x[1]);
}

/** Each listed file, with `<name>` the thing's file name, exists and names the thing one of these ways. */
function problems(kind: string, fileName: string, names: string[]): string[] {
    return filesOf(kind).flatMap((file) => {
        const p = path.join(REPO, file.replace("<name>", fileName));
        if (!fs.existsSync(p)) return [`${file}: ${path.relative(REPO, p)} does not exist`];
        const text = fs.readFileSync(p, "utf8");
        return names.some((n) => text.includes(n))
            ? []
            : [`${path.relative(REPO, p)} names none of ${names.join(", ")}`];
    });
}

describe("docs/contributing.md's lists of files are true", () => {
    test("a policy: mesh-wide-mtls-strict is in every file the list for a policy names", () => {
        expect(filesOf("policy")).toHaveLength(4);
        expect(problems("policy", "mesh-wide-mtls", ["mesh-wide-mtls-strict", "meshWideMtlsStrict"])).toEqual([]);
    });

    test("a verify check: ingress-jwt is in every file the list for a verify check names", () => {
        expect(filesOf("verify-check")).toHaveLength(4);
        expect(problems("verify-check", "ingress-jwt", ["ingress-jwt", "ingressJwt"])).toEqual([]);
    });

    test("a layer: the files every new layer touches exist", () => {
        const shared = filesOf("layer").filter((f) => !f.includes("<name>"));
        expect(shared).toEqual(["model/workloads.ts", "stacks/main.ts", "stacks/config/fields.ts"]);
        for (const file of shared) expect(fs.existsSync(path.join(REPO, file))).toBe(true);
    });
});
