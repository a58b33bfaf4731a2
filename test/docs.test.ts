// The docs stay navigable: the README stays a short front door, every relative
// link in it and in docs/ reaches a file (and a heading, when it names one), and
// every page and section the code cites exists.
import * as fs from "fs";
import * as path from "path";

const REPO = path.join(__dirname, "..");
const DOCS = path.join(REPO, "docs");
const pages = [
    path.join(REPO, "README.md"),
    ...fs
        .readdirSync(DOCS)
        .filter((f) => f.endsWith(".md"))
        .map((f) => path.join(DOCS, f)),
];
const rel = (file: string) => path.relative(REPO, file);

/** Markdown without fenced code blocks and inline code, where a `[x](y)` is not a link. */
function prose(markdown: string): string {
    return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
    const seen = new Map<string, number>();
    const anchors = new Set<string>();
    const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
    for (const m of withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
        const base = m[1]
            .toLowerCase()
            .replace(/[^\p{L}\p{N}\s_-]/gu, "")
            .replace(/\s/g, "-");
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    return anchors;
}

/** The headings' texts of a page, as a citation names them ("Tearing down"). */
function headingsOf(markdown: string): string[] {
    const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
    return [...withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)].map((m) => m[1]);
}

/** The relative links of a page that do not reach a file, or a heading of it. */
function brokenLinks(file: string, markdown: string): string[] {
    const broken: string[] = [];
    for (const m of prose(markdown).matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        const target = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const [filePart, anchor] = target.split("#", 2);
        const resolved = filePart === "" ? file : path.resolve(path.dirname(file), decodeURIComponent(filePart));
        if (!fs.existsSync(resolved)) {
            broken.push(`${rel(file)}: ${target} (no file ${rel(resolved)})`);
            continue;
        }
        if (
            anchor !== undefined &&
            resolved.endsWith(".md") &&
            !anchorsOf(fs.readFileSync(resolved, "utf8")).has(anchor)
        ) {
            broken.push(`${rel(file)}: ${target} (no heading with anchor #${anchor} in ${rel(resolved)})`);
        }
    }
    return broken;
}

/** Source files that may cite the docs: code, scripts, stack files, CI. */
function sourceFiles(dir: string = REPO): string[] {
    const skip = new Set(["node_modules", "plan", "bin", "fixtures"]);
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const full = path.join(dir, e.name);
        if (e.isDirectory())
            return skip.has(e.name) || (e.name.startsWith(".") && e.name !== ".ci") ? [] : sourceFiles(full);
        // This file's own examples of citations are not citations.
        if (full === __filename) return [];
        return /\.(ts|js|sh|ya?ml)$/.test(e.name) || rel(full) === path.join(".ci", "run") ? [full] : [];
    });
}

/** What a source file cites: pages (`docs/x.md`, `DESIGN.md`) and sections (`docs/x.md, "Section"`, `README, "Section"`). */
function citationsIn(source: string): { pages: string[]; sections: { page: string; section: string }[] } {
    const pagesCited = [...source.matchAll(/(?<![\w./-])(docs\/[\w-]+\.md|[A-Z][A-Z0-9_-]*\.md)/g)].map((m) => m[1]);
    const sections = [...source.matchAll(/(?<![\w./-])(README|docs\/[\w-]+\.md)(?:'s)?,\s*"([^"]+)"/g)].map((m) => ({
        page: m[1] === "README" ? "README.md" : m[1],
        // A section name may run over a comment's line break.
        section: m[2].replace(/\s*\n\s*(\/\/|#|\*)?\s*/g, " "),
    }));
    return { pages: pagesCited, sections };
}

describe("the README, a newcomer's front door", () => {
    test("is at most 150 lines: a front door, with the depth under docs/", () => {
        const lines = fs.readFileSync(path.join(REPO, "README.md"), "utf8").trimEnd().split("\n").length;
        expect(lines).toBeLessThanOrEqual(150);
    });

    test("keeps the Configuration section with the config-table markers", () => {
        const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("## Configuration"));
        expect(readme).toContain("## Configuration");
        expect(section.indexOf("<!-- config-table:begin -->")).toBeGreaterThan(0);
        expect(section.indexOf("<!-- config-table:end -->")).toBeGreaterThan(
            section.indexOf("<!-- config-table:begin -->"),
        );
    });

    test("links to the design page, which is in the repository", () => {
        expect(fs.readFileSync(path.join(REPO, "README.md"), "utf8")).toContain("](docs/design.md)");
        expect(fs.existsSync(path.join(DOCS, "design.md"))).toBe(true);
    });
});

describe("links between the pages", () => {
    test.each(pages.map((p) => [rel(p), p]))(
        "every relative link of %s reaches a file, and a heading when it names one",
        (_name, file) => {
            expect(brokenLinks(file, fs.readFileSync(file, "utf8"))).toEqual([]);
        },
    );

    test("a link to a missing page or heading is found", () => {
        const readme = path.join(REPO, "README.md");
        expect(
            brokenLinks(
                readme,
                "see [x](docs/no-such-page.md) and [y](docs/design.md#no-such-heading), not `[z](nowhere.md)`",
            ),
        ).toEqual([
            "README.md: docs/no-such-page.md (no file docs/no-such-page.md)",
            "README.md: docs/design.md#no-such-heading (no heading with anchor #no-such-heading in docs/design.md)",
        ]);
    });

    test("anchors are GitHub's", () => {
        expect([
            ...anchorsOf(
                "# A B\n## `--out` never deletes\n## A B\n```\n# not a heading\n```\n## Istio's dashboards, in Grafana\n",
            ),
        ]).toEqual(["a-b", "--out-never-deletes", "a-b-1", "istios-dashboards-in-grafana"]);
    });
});

describe("what the code cites", () => {
    const files = sourceFiles();
    const cited = files.flatMap((f) => {
        const c = citationsIn(fs.readFileSync(f, "utf8"));
        return [
            ...c.pages.map((page) => ({ file: rel(f), page, section: undefined as string | undefined })),
            ...c.sections.map((s) => ({ file: rel(f), ...s })),
        ];
    });

    test("the scan finds the code's citations", () => {
        expect(files).toContain(path.join(REPO, "stacks", "main.ts"));
        expect(cited.filter((c) => c.page === "docs/design.md").length).toBeGreaterThan(0);
        expect(
            citationsIn(
                '// (docs/pki.md, "Rotation"); see\n// docs/upgrade.md, "In\n// place" and README, "Verify"; not x/docs/y.md',
            ),
        ).toEqual({
            pages: ["docs/pki.md", "docs/upgrade.md"],
            sections: [
                { page: "docs/pki.md", section: "Rotation" },
                { page: "docs/upgrade.md", section: "In place" },
                { page: "README.md", section: "Verify" },
            ],
        });
    });

    test("every page the code cites exists (DESIGN.md is docs/design.md)", () => {
        const missing = cited.filter((c) => !fs.existsSync(path.join(REPO, c.page))).map((c) => `${c.file}: ${c.page}`);
        expect(missing).toEqual([]);
    });

    test("every section the code cites is a heading of that page", () => {
        const missing = cited
            .filter((c) => c.section !== undefined && fs.existsSync(path.join(REPO, c.page)))
            .filter((c) => !headingsOf(fs.readFileSync(path.join(REPO, c.page), "utf8")).includes(c.section as string))
            .map((c) => `${c.file}: ${c.page}, "${c.section}"`);
        expect(missing).toEqual([]);
    });
});
