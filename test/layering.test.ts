// Layers point one way: model/ imports nothing of ours, components/ build on the
// model only, stacks/ wire components and the model. Read from the import
// statements themselves with the TypeScript compiler, so an import cannot hide
// behind formatting, `export ... from`, `import type`, `import()` or `require`.
import * as fs from "fs";
import { builtinModules } from "module";
import * as path from "path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "..");

/** Every module specifier a TypeScript source names: static, re-export, type-only, `import x = require`, `import()`, `require()` and `import("...").T` types. */
function moduleSpecifiers(fileName: string, text: string): string[] {
    const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
    const found: string[] = [];
    const literal = (node: ts.Node | undefined) => {
        if (node && ts.isStringLiteralLike(node)) found.push(node.text);
    };
    const visit = (node: ts.Node): void => {
        if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) literal(node.moduleSpecifier);
        else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference))
            literal(node.moduleReference.expression);
        else if (
            ts.isCallExpression(node) &&
            (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
                (ts.isIdentifier(node.expression) && node.expression.text === "require"))
        ) {
            literal(node.arguments[0]);
        } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) literal(node.argument.literal);
        ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
}

/** The TypeScript files under a folder of the repository, as repository paths. */
function sourcesUnder(folder: string): string[] {
    return fs
        .readdirSync(path.join(ROOT, folder), { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".ts"))
        .map((f) => path.posix.join(folder, f.split(path.sep).join("/")))
        .sort();
}

interface Import {
    readonly file: string;
    readonly specifier: string;
    /** The repository path a relative specifier names (e.g. "stacks/layers"); undefined for a package. */
    readonly target?: string;
}

function importsOf(file: string): Import[] {
    return moduleSpecifiers(file, fs.readFileSync(path.join(ROOT, file), "utf8")).map((specifier) => ({
        file,
        specifier,
        target: specifier.startsWith(".")
            ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier))
            : undefined,
    }));
}

const topFolder = (target: string) => target.split("/")[0];
const shown = (imports: Import[]) => imports.map((i) => `${i.file} imports "${i.specifier}"`);

describe("the import scanner", () => {
    test("finds every form an import can take", () => {
        const text = [
            'import * as a from "./a";',
            'import { b } from "../b";',
            'import type { C } from "../c";',
            'import "./d";',
            'export { e } from "./e";',
            'export * from "./f";',
            'import g = require("./g");',
            'const h = require("./h");',
            'async function i() { return import("./i"); }',
            'let j: import("./j").J;',
            'import * as pulumi from "@pulumi/pulumi";',
        ].join("\n");
        expect(moduleSpecifiers("sample.ts", text)).toEqual([
            "./a",
            "../b",
            "../c",
            "./d",
            "./e",
            "./f",
            "./g",
            "./h",
            "./i",
            "./j",
            "@pulumi/pulumi",
        ]);
    });

    test("ignores strings and comments that only look like imports", () => {
        const text = [
            '// import { x } from "../stacks/config";',
            "const s = 'import { y } from \"../stacks/peer\"';",
            '/* require("../stacks/main") */',
        ].join("\n");
        expect(moduleSpecifiers("sample.ts", text)).toEqual([]);
    });
});

describe("layers point one way", () => {
    const model = sourcesUnder("model");
    const components = sourcesUnder("components");
    const stacks = sourcesUnder("stacks");

    test("the folders hold the files the rules are about", () => {
        expect(model).toContain("model/lab.ts");
        expect(components).toEqual(
            expect.arrayContaining(["components/spire.ts", "components/hostprep.ts", "components/remotesecret.ts"]),
        );
        expect(stacks).toEqual(expect.arrayContaining(["stacks/main.ts", "stacks/peer.ts"]));
    });

    test("model/ imports nothing of this repository: only Pulumi's packages and Node's own modules", () => {
        const node = new Set(builtinModules);
        const allowed = (specifier: string) =>
            specifier.startsWith("@pulumi/") || specifier.startsWith("node:") || node.has(specifier);
        const bad = model.flatMap(importsOf).filter((i) => i.target !== undefined || !allowed(i.specifier));
        expect(shown(bad)).toEqual([]);
    });

    test("model/ takes only types from Pulumi, so verify and the policy pack load no Pulumi SDK through it", () => {
        const valueImports = model.flatMap((file) =>
            ts
                .createSourceFile(
                    file,
                    fs.readFileSync(path.join(ROOT, file), "utf8"),
                    ts.ScriptTarget.Latest,
                    false,
                    ts.ScriptKind.TS,
                )
                .statements.filter(ts.isImportDeclaration)
                .filter(
                    (d) =>
                        ts.isStringLiteral(d.moduleSpecifier) &&
                        d.moduleSpecifier.text.startsWith("@pulumi/") &&
                        !d.importClause?.isTypeOnly,
                )
                .map((d) => `${file} imports "${(d.moduleSpecifier as ts.StringLiteral).text}" as values`),
        );
        expect(model.length).toBeGreaterThan(0);
        expect(valueImports).toEqual([]);
    });

    test("no file under components/ imports from stacks/ (components build on model/ and on each other only)", () => {
        const ours = components.flatMap(importsOf).filter((i) => i.target !== undefined);
        expect(ours.length).toBeGreaterThan(0);
        expect(shown(ours.filter((i) => !["components", "model"].includes(topFolder(i.target as string))))).toEqual([]);
    });

    test("stacks/ wire components/ and model/, and import none of offline/, verify/, policy/ or the tests", () => {
        const ours = stacks.flatMap(importsOf).filter((i) => i.target !== undefined);
        expect(
            shown(ours.filter((i) => !["stacks", "components", "model"].includes(topFolder(i.target as string)))),
        ).toEqual([]);
    });
});

describe("offline/'s rooms point one way: simulate/ builds on planner/, planner/ and check/ on engine/, docs/ on none of them", () => {
    /** The rooms of offline/ each room may import, besides its own. */
    const MAY_IMPORT: Record<string, string[]> = {
        engine: [],
        planner: ["engine"],
        simulate: ["engine", "planner"],
        check: ["engine"],
        docs: [],
    };
    const rooms = fs
        .readdirSync(path.join(ROOT, "offline"), { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();

    test("every room of offline/ is one the rules name", () => {
        expect(rooms).toEqual(Object.keys(MAY_IMPORT).sort());
    });

    test.each(Object.entries(MAY_IMPORT))("offline/%s/ imports only the rooms %j of offline/", (room, allowed) => {
        const imports = sourcesUnder(`offline/${room}`).flatMap(importsOf);
        expect(imports.length).toBeGreaterThan(0);
        // A file beside the rooms (offline/cli.ts, which reads the command lines) serves them all.
        const wrong = imports.filter(
            (i) =>
                i.target?.startsWith("offline/") &&
                i.target.split("/").length > 2 &&
                ![room, ...allowed].includes(i.target.split("/")[1]),
        );
        expect(shown(wrong)).toEqual([]);
    });

    test("the mock engine imports nothing of this repository outside offline/engine/: it evaluates any program", () => {
        const outside = sourcesUnder("offline/engine")
            .flatMap(importsOf)
            .filter((i) => i.target !== undefined && !i.target.startsWith("offline/engine/"));
        expect(shown(outside)).toEqual([]);
    });
});
