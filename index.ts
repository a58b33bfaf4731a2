// The Pulumi program: one stack builds one cluster (see stacks/main.ts).
import { main } from "./stacks/main";

export = main;
