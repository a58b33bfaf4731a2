// Jest globalTeardown: removes this run's shared plans (see global-setup.ts).
import * as fs from "fs";
import { PLAN_CACHE_ENV } from "./global-setup";

export default function globalTeardown(): void {
    const dir = process.env[PLAN_CACHE_ENV];
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
