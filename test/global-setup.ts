// Jest globalSetup: a directory, new for each run, where the test workers share the
// plans they make (test/helpers.ts planOf), named in the environment they inherit.
// global-teardown.ts removes it.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const PLAN_CACHE_ENV = "ZTA_TEST_PLAN_CACHE";

export default function globalSetup(): void {
    process.env[PLAN_CACHE_ENV] = fs.mkdtempSync(path.join(os.tmpdir(), "zta-test-plans-"));
}
