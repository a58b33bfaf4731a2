// `npm run plan`: the offline plan of every stack of the lab (offline/planner/plan-command.ts;
// docs/offline-plan.md).
import { planCommand } from "./plan-command";

planCommand(process.argv.slice(2)).then((code) => process.exit(code));
