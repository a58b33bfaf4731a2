// Packaged Helm charts (`<chart>-<version>.tgz`, as in a Helm repository folder)
// and the Helm releases of an offline plan: what check:schemas and check:charts
// read. Nothing here needs Helm itself.
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { Parser, ReadEntry } from "tar";
import * as YAML from "yaml";

/** One Helm release of the plan, as written to `<plan>/<stack>/helm/<name>.yaml`. */
export interface PlannedRelease {
    /** `<stack>/helm/<file>` */
    readonly file: string;
    readonly stack: string;
    readonly name: string;
    readonly chart: string;
    readonly version: string;
    readonly namespace: string;
    readonly values: Record<string, unknown>;
}

export function plannedReleases(planDir: string): PlannedRelease[] {
    if (!fs.existsSync(planDir))
        throw new Error(`no plan at ${planDir}: run \`npm run plan -- --out ${planDir}\` first`);
    const releases: PlannedRelease[] = [];
    for (const stack of fs.readdirSync(planDir).sort()) {
        const dir = path.join(planDir, stack, "helm");
        if (!fs.existsSync(dir)) continue;
        for (const file of fs
            .readdirSync(dir)
            .filter((f) => f.endsWith(".yaml"))
            .sort()) {
            const doc = YAML.parse(fs.readFileSync(path.join(dir, file), "utf8")) as Record<string, any>;
            releases.push({
                file: path.join(stack, "helm", file),
                stack,
                name: String(doc.name ?? doc.chart),
                chart: String(doc.chart),
                version: String(doc.version),
                namespace: String(doc.namespace),
                values: (doc.values ?? {}) as Record<string, unknown>,
            });
        }
    }
    return releases;
}

/** The archive of a chart at a version in a Helm repository folder. */
export function chartArchive(chartsDir: string, chart: string, version: string): string {
    return path.join(chartsDir, `${chart}-${version}.tgz`);
}

/** Every file of a packaged chart, by its path inside the archive ("spire-crds/templates/x.yaml"). */
export function readChartArchive(file: string): Map<string, string> {
    const files = new Map<string, string>();
    const parser = new Parser({
        onReadEntry: (entry: ReadEntry) => {
            const chunks: Buffer[] = [];
            entry.on("data", (c: Buffer) => chunks.push(c));
            entry.on("end", () => files.set(entry.path, Buffer.concat(chunks).toString("utf8")));
        },
    });
    // A Buffer written to the parser is read synchronously: the map is full when end() returns.
    parser.end(zlib.gunzipSync(fs.readFileSync(file)));
    return files;
}

/**
 * The CustomResourceDefinitions a chart ships, as YAML documents. Charts keep
 * them in `crds/`, in templates or in `files/` (Istio's base chart reads
 * files/crd-all.gen.yaml into its templates). A few CRD templates carry a Helm
 * action in their metadata (labels, annotations, a webhook's namespace) but
 * never in `spec.versions[].schema`, which is all the schema check uses: whole-line
 * actions are dropped and inline ones replaced by a placeholder string so that
 * the YAML parses. A file that declares no CRD kind is skipped.
 */
export function chartCrdDocuments(files: Map<string, string>): { file: string; crd: Record<string, any> }[] {
    const found: { file: string; crd: Record<string, any> }[] = [];
    for (const [file, text] of files) {
        if (!/\.ya?ml$/.test(file) || !/^kind:\s+CustomResourceDefinition\s*$/m.test(text)) continue;
        const plain = text
            .split("\n")
            .filter((line) => !/^\s*\{\{.*\}\}\s*$/.test(line))
            .map((line) => line.replace(/\{\{.*?\}\}/g, "helm-template-value"))
            .join("\n");
        for (const doc of YAML.parseAllDocuments(plain)) {
            if (doc.errors.length > 0) continue;
            const crd = doc.toJS() as Record<string, any> | null;
            if (crd?.kind === "CustomResourceDefinition") found.push({ file, crd });
        }
    }
    return found;
}

/** Each values.schema.json of a chart and its sub-charts, by chart name ("spire-server"). */
export function chartValuesSchemas(
    files: Map<string, string>,
): { chart: string; file: string; schema: Record<string, unknown> }[] {
    return [...files]
        .filter(([file]) => path.basename(file) === "values.schema.json")
        .map(([file, text]) => ({
            chart: path.basename(path.dirname(file)),
            file,
            schema: JSON.parse(text) as Record<string, unknown>,
        }));
}
