/** After the whole run: one line per suite that skipped for want of something on this machine. */
import { suiteNeeds } from './environment.js';

export default function setup(): () => void {
  return () => {
    for (const need of suiteNeeds()) if (!need.available) process.stdout.write(`skipped: the ${need.suite}: ${need.missing}\n`);
  };
}
